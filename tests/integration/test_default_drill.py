"""The default drill as `make drill` runs it: `firedrill run` with no scenario, at its own tier
S, through the command line: exit 0, the verdict and the report path printed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.report.schema import validate
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
    report = json.loads(Path(path.group(1)).read_text())
    assert Path(path.group(1)).parent.parent == tmp_path
    assert validate(report) == []
    assert report["scenario"]["population"]["tier"] == "S"
    assert report["fault"]["kind"] == "lose-tree"
    assert report["backup"]["procedure"] == "chapter13"
    assert report["verdict"] == "pass" and report["metrics"]["rto_seconds"] > 0
    # Mail acknowledged after the backup is what a restore may lose: listed, allowed.
    lost = report["lost_operations"]
    assert all(x["classification"] == "allowed" for x in lost)
    assert report["metrics"]["rpo_messages"] == report["metrics"]["lost_messages"]
