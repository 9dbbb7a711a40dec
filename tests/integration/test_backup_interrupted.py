"""A machine crash under a running backup: the procedure goes down with the machine (its copy
stops half-way, its commands are killed), there is no backup, and the installation recovers
through its logs with no acknowledged loss. Also: what a drill keeps of its backup."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import psutil
import pytest

from harness.checker.findings import Verdict
from harness.drill.report import load_report
from harness.drill.runner import DrillOptions, DrillResult, run_drill
from harness.manifest import summarize
from harness.scenarios.catalogue import catalogue
from harness.scenarios.scenario import Scenario, load_scenario

pytestmark = pytest.mark.integration

CATALOGUE = {p.stem: p for p in catalogue()}


def _drill(scenario: Scenario, tmp_path: Path) -> DrillResult:
    return run_drill(scenario, DrillOptions(report_dir=tmp_path / "reports", progress=False))


def _events(result: DrillResult) -> list[dict[str, object]]:
    lines = (result.report_dir / "history.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("type") == "event"]


def _index(events: list[dict[str, object]], kind: str, name: str) -> int:
    return next(i for i, e in enumerate(events) if e["kind"] == kind and e["name"] == name)


def test_a_machine_crash_interrupts_the_chapter13_backup(tmp_path: Path) -> None:
    result = _drill(load_scenario(CATALOGUE["crash-during-backup"]), tmp_path)
    record, judgement = result.report.record, result.report.judgement
    assert result.verdict is Verdict.PASS, (judgement.reasons, record.error)
    assert load_report(result.report_dir)[1] == result.report
    assert record.backup is not None and record.backup.backup is None
    assert "interrupted" in record.backup.interrupted
    events = _events(result)
    began = _index(events, "procedure", "backup-start")
    interrupted = _index(events, "procedure", "backup-interrupted")
    struck = _index(events, "fault", "machine-crash")
    restart = _index(events, "procedure", "restart")
    assert began < interrupted < restart and began < struck < restart
    assert not any(e["name"] == "backup-end" for e in events)
    # The crash stopped the procedure before it restarted anything: every server was down.
    assert "refuse connections" in (judgement.metrics.detected or "")
    assert judgement.lost == () and judgement.metrics.lost_messages == 0
    assert record.fault is not None and record.fault.struck.mono >= record.fault.at.mono


def test_a_machine_crash_kills_a_custom_backup_command(tmp_path: Path) -> None:
    """A custom backup that would run for a minute is killed with the machine at once."""
    script = tmp_path / "slow-backup.sh"
    script.write_text('#!/bin/sh\necho "copying"\nexec sleep 61\n')
    script.chmod(0o755)
    base = load_scenario(CATALOGUE["crash-during-backup"])
    scenario = dataclasses.replace(
        base,
        backup=dataclasses.replace(
            base.backup, procedure="custom", backup_cmd=str(script), restore_cmd=str(script)
        ),
        disaster=dataclasses.replace(base.disaster, delay=0.5),
    )
    started = time.monotonic()
    result = _drill(scenario, tmp_path)
    assert time.monotonic() - started < 45
    record = result.report.record
    assert result.verdict is Verdict.PASS, (result.report.judgement.reasons, record.error)
    assert record.backup is not None and "killed by the crash" in record.backup.interrupted
    # A live copy never drains: the crash killed running servers, which recovered through logs.
    assert record.fault is not None and record.fault.detail.startswith("SIGKILL to ")
    assert "mss" in record.fault.detail
    left = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if "sleep" in (p.info["cmdline"] or [""])[0] and "61" in (p.info["cmdline"] or [])
    ]
    assert left == []


def test_rto_runs_from_the_struck_disaster_and_the_manifest_is_kept(tmp_path: Path) -> None:
    """RTO = damage complete -> clients served: after the recovery phase, before the end of
    `service ready`; inflicting (deleting a tree can take a minute) is reported apart."""
    result = _drill(load_scenario(CATALOGUE["image-lose-tree"]), tmp_path)
    record, judgement = result.report.record, result.report.judgement
    assert result.verdict is Verdict.PASS, (judgement.reasons, record.error)
    fault = record.fault
    assert fault is not None and fault.inflict_seconds > 0
    phases = {p.phase: p for p in record.timeline}
    struck = record.since_start(fault.struck)
    rto = judgement.metrics.rto_seconds
    recovered, served = phases["recovery"].end, phases["service ready"].end
    assert rto is not None and recovered is not None and served is not None
    slack = 0.01  # the timeline is rounded to milliseconds
    assert recovered - struck - slack <= rto <= served - struck + slack
    assert record.backup and record.backup.backup and record.backup.backup.manifest
    assert record.paths.manifest == str(record.backup.backup.manifest)
    manifest = record.backup.backup.manifest
    assert manifest.parent == result.report_dir and manifest.is_file()
    assert summarize(manifest).messages  # a readable manifest of what the backup held
