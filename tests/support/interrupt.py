"""A drill stopped in the middle: run `firedrill run` as a child until a phase begins, then
interrupt it (Ctrl-C) or kill it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.drill.report import DrillReport, load_report


def drill_until(
    report_dir: Path, scenario: str, phase: str, *options: str
) -> subprocess.Popen[str]:
    """`firedrill run scenario` as a child, returned once it printed the start of `phase`."""
    command = [sys.executable, "-m", "harness.cli.firedrill", "run", scenario, *options]
    proc = subprocess.Popen(
        [*command, "--report-dir", str(report_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip().endswith(f"] {phase}"):
            return proc
    raise AssertionError(f"the drill ended before {phase}")


def interrupt_drill(
    report_dir: Path, scenario: str, *options: str, settle: float = 0.0, timeout: float = 60
) -> DrillReport:
    """SIGINT the drill once its traffic phase begins (after `settle` s); assert exit 130 and
    return the report it still wrote."""
    proc = drill_until(report_dir, scenario, "traffic", *options)
    time.sleep(settle)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=timeout)
    assert proc.stdout is not None
    rest = proc.stdout.read()
    assert proc.returncode == 130
    (drill_dir,) = [p for p in report_dir.iterdir() if p.is_dir()]
    _, report = load_report(drill_dir)
    assert "interrupted" in report.record.error
    # the terminal says what happened and where the report is
    assert "UNKNOWN: " in rest and f"report: {drill_dir / 'report.json'}" in rest, rest
    assert "Traceback" not in rest and "Exception in thread" not in rest, rest
    return report
