"""The server lock test: held while another open file holds the flock, never for a stale file."""

from __future__ import annotations

import fcntl
from pathlib import Path

from harness.layout import Layout
from harness.locks import lock_held, lock_path, try_lock
from harness.store.bdb import server_running


def test_a_missing_lock_file_is_not_held(tmp_path: Path) -> None:
    assert lock_held(tmp_path / "run" / "mss.lock") is False
    assert not (tmp_path / "run" / "mss.lock").exists()


def test_a_lock_file_nobody_holds_is_not_held_and_stays_free(tmp_path: Path) -> None:
    path = tmp_path / "mss.lock"
    path.touch()
    assert lock_held(path) is False
    with path.open("a") as handle:
        assert try_lock(handle)  # the test released what it took


def test_a_held_lock_is_held_until_its_holder_lets_go(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.run.mkdir()
    path = lock_path(layout, "mss")
    assert path == tmp_path / "run" / "mss.lock"
    with path.open("a+") as holder:
        assert try_lock(holder)
        assert lock_held(path) is True
        assert server_running(tmp_path, "mss") is True
        with path.open("a") as other:
            assert not try_lock(other)
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert lock_held(path) is False
    assert server_running(tmp_path, "mss") is False
