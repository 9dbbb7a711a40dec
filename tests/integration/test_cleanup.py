"""`firedrill cleanup` removes only drill sandboxes nobody serves, never anything else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from harness import control
from harness.environments.cleanup import cleanup
from harness.layout import Layout
from harness.sandbox import init_tree

pytestmark = pytest.mark.integration


def test_cleanup_removes_a_dead_drill_sandbox_and_nothing_else(live_xs: Layout) -> None:
    base = Path(tempfile.gettempdir())
    dead = Path(tempfile.mkdtemp(prefix="firedrill-dead-", dir=base))
    init_tree(dead / "intermail")
    unmarked = Path(tempfile.mkdtemp(prefix="firedrill-notmine-", dir=base))
    (unmarked / "intermail").mkdir()
    (unmarked / "intermail" / "data").write_text("keep me")
    loose = Path(tempfile.mkdtemp(prefix="firedrill-loose-", dir=base))
    try:
        removed = cleanup(docker=False)
        assert f"sandbox {dead}" in removed and not dead.exists()
        assert (unmarked / "intermail" / "data").read_text() == "keep me"
        assert loose.exists()
        assert control.running_pid(live_xs, "mss")  # a live installation is left alone
    finally:
        for path in (unmarked, loose):
            (path / "intermail" / "data").unlink(missing_ok=True)
            for sub in sorted(path.rglob("*"), reverse=True):
                sub.rmdir() if sub.is_dir() else sub.unlink()
            path.rmdir()
