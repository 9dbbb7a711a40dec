"""A restore interrupted part way (the harness or the operator's copy died) and run again
converges to the same verified state as an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import control, procedures
from harness.checker.run import run_check
from harness.environments.local import LocalBackend
from harness.history import HistoryWriter
from harness.layout import BACKUP_PATHS, Layout
from harness.manifest import write_manifest
from harness.procedures import Chapter13, ProcedureContext, builtin, take_backup

pytestmark = pytest.mark.integration


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("after", [1, 3, 5, 7])
def test_rerunning_an_interrupted_restore_converges(
    after: int, live_xs: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(live_xs)
    with HistoryWriter(tmp_path / "history.jsonl") as history:
        ctx = ProcedureContext(live_xs, backend, history, tmp_path)
        backup = take_backup(Chapter13(), ctx, tmp_path / "backup")
        assert backup.manifest is not None
        control.kill(live_xs)
        procedures.remove_path(live_xs, "msgfiles")  # the disaster

        real_copy = procedures.copy_path
        calls = {"n": 0}

        def dying_copy(source: Path, target: Path, ctx: object = None) -> None:
            calls["n"] += 1
            if calls["n"] > after:
                raise Interrupted(f"killed while copying {source.name}")
            real_copy(source, target)

        monkeypatch.setattr(builtin, "copy_path", dying_copy)  # what Chapter13 copies with
        with pytest.raises(Interrupted):
            Chapter13().restore(ctx, tmp_path / "backup")
        monkeypatch.setattr(builtin, "copy_path", real_copy)
        assert calls["n"] == after + 1 <= len(BACKUP_PATHS)
        Chapter13().restore(ctx, tmp_path / "backup")  # run again, to the end
    report = run_check(live_xs.root, against=backup.manifest)
    assert report.findings == () and report.errors == ()
    again = tmp_path / "after.manifest"
    control.stop(live_xs)
    write_manifest(live_xs.root, again)
    assert _body(again) == _body(backup.manifest)


def _body(manifest: Path) -> list[str]:
    """A manifest without its header (which carries the root and the time)."""
    return manifest.read_text().splitlines()[1:]
