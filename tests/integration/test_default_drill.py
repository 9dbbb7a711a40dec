"""The default drill as `make drill` runs it: `firedrill run` with no scenario, at its own tier
S, through the command line: exit 0, the verdict and the report path printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.drill.report import load_report
from tests.support.cli import firedrill

pytestmark = pytest.mark.integration


def test_the_default_drill_passes_at_tier_s(tmp_path: Path) -> None:
    done = firedrill("run", "--report-dir", str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    verdict = re.search(r"^PASS: default \(RTO [0-9.]+s", done.stdout, re.M)
    assert verdict, done.stdout
    path = re.search(r"report: (\S+/report\.json)", done.stdout)
    assert path, done.stdout
    directory, report = load_report(Path(path.group(1)))
    assert directory.parent == tmp_path
    record, judgement = report.record, report.judgement
    assert record.scenario.population.tier == "S"
    assert record.fault is not None and record.fault.kind == "lose-tree"
    assert record.backup is not None and record.backup.procedure == "chapter13"
    rto = judgement.metrics.rto_seconds
    assert judgement.verdict.value == "pass" and rto is not None and rto > 0
    # Mail acknowledged after the backup is what a restore may lose: listed, allowed.
    assert all(x.classification.value == "allowed" for x in judgement.lost)
    assert judgement.metrics.rpo_messages == judgement.metrics.lost_messages
