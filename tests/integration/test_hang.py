"""The hang fault: a frozen server is noticed by probe timeouts, killed and started, with no
acknowledged loss; a restart that leaves the frozen server alone fails the drill."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.checker.findings import Verdict
from harness.drill.runner import DrillOptions, run_drill
from harness.history import Event, read_history
from harness.procedures import ProcedureContext
from harness.scenarios.catalogue import find
from harness.scenarios.scenario import Traffic, load_scenario
from harness.workload.runner import Mix

pytestmark = pytest.mark.integration

DELIVER_ONLY = tuple((kind, float(kind == "deliver")) for kind in Mix().kinds()[0])
"""SMTP only: the MTA spools and answers without the MSS, so no client waits on the hang."""


def test_a_hung_mss_is_seen_by_probe_timeouts_killed_and_restarted_without_loss(
    tmp_path: Path,
) -> None:
    result = run_drill(
        load_scenario(find("hang-mss")),
        DrillOptions(report_dir=tmp_path, seed=4, progress=False),
    )
    record, judgement = result.report.record, result.report.judgement
    assert result.verdict is Verdict.PASS, (judgement.reasons, record.error)
    assert record.fault is not None and record.fault.kind == "hang"
    assert judgement.metrics.detected == "mss does not answer within 3s"
    assert judgement.metrics.rpo_messages == 0 and judgement.lost == ()
    events = [e for e in read_history(Path(record.paths.history)) if isinstance(e, Event)]
    killed = [e.detail["servers"] for e in events if e.name == "kill-unresponsive"]
    assert killed == [["mss"]]


def _start_only(ctx: ProcedureContext, unresponsive: Sequence[str]) -> None:
    """A flawed recovery: `imctrl start`, which skips a server that still holds its lock."""
    ctx.backend.start()


def test_a_restart_that_leaves_the_hung_server_alone_fails_the_drill(tmp_path: Path) -> None:
    scenario = load_scenario(find("hang-mss"))
    traffic = Traffic(rate=25, before_backup=1, after_backup=1, mix=DELIVER_ONLY)
    result = run_drill(
        dataclasses.replace(scenario, traffic=traffic),
        DrillOptions(report_dir=tmp_path, progress=False, restart=_start_only, ready_timeout=4),
    )
    assert result.verdict is Verdict.FAIL, result.report.record.error
    violations = {c.finding.kind for c in result.report.judgement.violations}
    assert "service-not-restored" in violations, violations
    assert result.report.judgement.metrics.rto_seconds is None
