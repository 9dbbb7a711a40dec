"""What a clean restart may have changed (harness.checker.tree_state, evidence.check_again):
the environments opened and closed again, as servers do at a restart, change nothing the
offline check reads; each precise change of what it reads is a change of the named area, and
sends the check again to the whole check. (Every damage of the restic-style table is also
done between a state and its comparison in test_checker_damage.)"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from harness.checker import tree_state
from harness.checker.run import check_environments
from harness.drill.evidence import check_again
from harness.history import Deliver, HistoryWriter
from harness.layout import Layout
from harness.store.directory import Directory
from harness.store.messagestore import MessageStore

pytestmark = pytest.mark.integration

CLOCK_TICK = 0.05
"""Longer than a file system clock tick (4-10 ms): a change made after it moves ctime."""


def _state(layout: Layout, history: Path | None = None) -> tree_state.TreeState:
    """The state verify's check would leave: status taken, then the environments recovered."""
    state = tree_state.take(layout.root, history)
    return state.with_recovered(check_environments(layout.root).recovered)


def _changed(
    layout: Layout, state: tree_state.TreeState, history: Path | None = None
) -> tuple[str, ...]:
    report, compared = check_again(layout, state, history=history, against=None)
    assert compared is not None and report.errors == ()
    return compared.changed


def _logs(layout: Layout) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_mtime_ns) for p in layout.db.glob("*/log.*"))


def test_environments_recovered_and_checkpointed_again_are_no_change(tree_xs: Layout) -> None:
    """What a clean stop and start does to the stores (recovery, a checkpoint, old logs
    removed) changes their logs, not what the check reads."""
    state = _state(tree_xs)
    logs = _logs(tree_xs)
    time.sleep(CLOCK_TICK)
    with MessageStore(tree_xs) as store:
        store.checkpoint()
    with Directory(tree_xs) as directory:
        directory.checkpoint()
    assert _logs(tree_xs) != logs  # the logs did change
    report, compared = check_again(tree_xs, state, history=None, against=None)
    assert compared is not None and compared.changed == (), compared
    assert compared.environments == 6 and compared.entries > 100
    assert report.findings == () and report.stats == {}  # invariant 5 alone, nothing found


def test_a_racy_file_rewritten_unseen_by_its_status_is_seen_by_its_content(
    tree_xs: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh copy is "racily clean": its files changed within RACY_SECONDS of the walk, so
    they are hashed. With the status made blind (as a rewrite in the same clock tick is), the
    hash alone sees a same-size rewrite; a file that was not racy is then not seen (the
    control: the hash is what saw it)."""
    monkeypatch.setattr(tree_state, "_status", lambda st: "")
    files = sorted(p for p in tree_xs.msgfiles.rglob("*") if p.is_file())
    state = _state(tree_xs)
    rel = files[0].relative_to(tree_xs.root).as_posix()
    assert rel in state.racy
    assert _changed(tree_xs, state) == ()  # hashed again, equal
    _flip(files[0])
    assert _changed(tree_xs, state) == ("msgfiles",)
    monkeypatch.setattr(tree_state, "RACY_SECONDS", 0.0)  # only the newest file stays racy
    state = _state(tree_xs)
    victim = next(p for p in files if p.relative_to(tree_xs.root).as_posix() not in state.racy)
    _flip(victim)
    assert _changed(tree_xs, state) == ()


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x20
    path.write_bytes(bytes(data))


def test_what_the_walk_cannot_vouch_for_is_never_unchanged(
    tree_xs: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A symbolic link (the check reads through it) and a directory that cannot be listed
    (traversable, not readable, as the harness's user may meet it) leave the state
    incomplete: the whole check runs again."""
    state = _state(tree_xs)
    moved = tree_xs.root.parent / "elsewhere"
    tree_xs.msgfiles.rename(moved)
    tree_xs.msgfiles.symlink_to(moved)
    changed = _changed(tree_xs, state)
    assert any("msgfiles is a symbolic link" in why for why in changed), changed
    tree_xs.msgfiles.unlink()
    moved.rename(tree_xs.msgfiles)
    state = _state(tree_xs)
    assert _changed(tree_xs, state) == ()
    real = os.scandir

    def refuse(path: Any) -> Any:
        if str(path).endswith("msgfiles"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", refuse)
    assert _changed(tree_xs, state) == (
        "msgfiles/ cannot be listed (Permission denied)",
        "msgfiles",
    )


def test_changes_by_status_alone_name_their_area(
    tree_xs: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No racy file: a chmod, a new spool file and a data file's mode each change one area."""
    monkeypatch.setattr(tree_state, "RACY_SECONDS", 0.0)
    state = _state(tree_xs)
    time.sleep(CLOCK_TICK)
    tree_xs.config.chmod(0o000)
    assert _changed(tree_xs, state) == ("config",)
    tree_xs.config.chmod(0o644)
    state = _state(tree_xs)
    (tree_xs.spool / "9999.q").write_bytes(b"")
    (tree_xs.env("entry") / "entry.db").chmod(0o400)
    assert _changed(tree_xs, state) == ("db/entry", "mta")


def test_the_history_may_grow_by_events_only(tree_xs: Layout, tmp_path: Path) -> None:
    history = HistoryWriter(tmp_path / "history.jsonl")
    history.event("phase", "verify")
    state = _state(tree_xs, history.path)
    history.event("phase", "restart")
    assert _changed(tree_xs, state, history.path) == ()
    history.event("fault", "lose-tree")
    assert _changed(tree_xs, state, history.path) == ("history",)
    history.close()
    again = HistoryWriter(tmp_path / "again.jsonl")
    again.event("phase", "verify")
    state = _state(tree_xs, again.path)
    again.invoke(Deliver("<x@example.com>", "a@example.com", ("b@example.com",), 10))
    assert _changed(tree_xs, state, again.path) == ("history",)
    again.close()
