"""What a drill leaves behind, and what a passing drill's report must show: shared by the drill
tests and the selftest test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psutil

from harness.drill.report import DrillReport
from harness.drill.runner import DrillResult
from harness.scenarios.scenario import Scenario


def processes_with(marker: str) -> list[str]:
    """`pid: command line` of every process whose command line (/proc/*/cmdline) holds `marker`,
    but this one and those that started it (a shell whose command mentions the marker)."""
    ours = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in ours:
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        line = " ".join(a.decode(errors="replace") for a in argv if a)
        if marker in line:
            found.append(f"{proc.name}: {line}")
    return found


def sandboxes(name: str) -> set[Path]:
    """The drill sandboxes of scenario `name` that exist now: tempdir/firedrill-<name>-*."""
    return set(Path(tempfile.gettempdir()).glob(f"firedrill-{name}-*"))


def where_of(result: DrillResult | DrillReport) -> tuple[str, list[str]]:
    """The drill's scenario name and the paths its report names in its sandbox (the checked
    root, the backup directory)."""
    record = (result.report if isinstance(result, DrillResult) else result).record
    verify, backup = record.verify, record.backup
    where = [
        verify.check.root if verify else None,
        str(backup.backup.directory) if backup and backup.backup else None,
    ]
    return record.scenario.name, [w for w in where if w]


def sandbox_of(name: str, where: list[str]) -> str:
    """The drill's own sandbox, tempdir/firedrill-<name>-XXXXXXXX, when its report names a path
    in it; else the sandbox prefix of its scenario. Servers run with `--root
    <sandbox>/intermail`: the exact sandbox is not mistaken for a drill of the same scenario
    someone else runs meanwhile."""
    prefix = str(Path(tempfile.gettempdir()) / f"firedrill-{name}-")
    for path in where:
        assert path.startswith(prefix), (path, prefix)
        return str(Path(path).parent)
    return prefix


def leftovers(
    drill: DrillResult | DrillReport | tuple[str, list[str]], before: set[Path], *markers: str
) -> list[str]:
    """What the drill left behind: processes whose command line holds its sandbox or one of
    `markers`, and its sandbox directory (a sandbox of the scenario not in `before`)."""
    name, where = drill if isinstance(drill, tuple) else where_of(drill)
    sandbox = sandbox_of(name, where)
    left = [p for marker in (sandbox, *markers) for p in processes_with(marker)]
    if sandbox.endswith("-"):
        left += [str(p) for p in sandboxes(name) - before]
    elif Path(sandbox).exists():
        left.append(sandbox)
    return left


def assert_passing_drill(report: DrillReport, report_dir: Path, scenario: Scenario) -> None:
    """A catalogue drill that passed with its own procedure: its files, its figures, what came
    back, the spool delivered, the disaster seen before the restore."""
    record, judgement = report.record, report.judgement
    assert judgement.verdict.value == "pass", (judgement.reasons, record.error)
    assert record.complete
    assert (report_dir / "junit.xml").is_file() and (report_dir / "report.html").is_file()
    assert Path(record.paths.history).is_file()
    metrics = judgement.metrics
    assert metrics.rto_seconds is not None and metrics.rto_seconds > 0
    if scenario.recovery_action == "restore":
        assert record.backup and record.backup.backup and record.verify
        assert record.backup.backup.point_source == "quiesced"
        assert all(item.back for item in record.verify.came_back if item.expected)
        assert metrics.restore_seconds is not None
    else:
        assert metrics.rpo_messages == 0 and judgement.lost == ()
    if scenario.backup.mss_down:
        assert metrics.spooled_at_backup > 0
        # every spooled message is delivered unless its recipient was deleted before the
        # backup (the MTA then bounces it); losses are judged by the history check
        assert 0 < metrics.spooled_delivered_after_recovery <= metrics.spooled_at_backup
    if scenario.category in ("data corruption", "operator error"):
        # the damage must be seen before the restore: a disaster the checker misses fails here
        assert metrics.detected and metrics.detection_seconds is not None, metrics
        assert "disaster-undetected" not in {c.finding.kind for c in judgement.findings}
