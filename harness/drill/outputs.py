"""What a drill leaves besides report.json: junit.xml for CI, report.html for people, and a line
in the reports directory's drills.jsonl for trends; all rendered from the one judgement."""

from __future__ import annotations

from pathlib import Path

from harness.drill.report import REPORT_NAME, DrillReport
from harness.report import HTML_NAME, JUNIT_NAME
from harness.report.html import write_html
from harness.report.junit import write_junit
from harness.report.trend import append_history


def write_outputs(report_dir: Path, report: DrillReport) -> None:
    """Write junit.xml and report.html beside report.json in `report_dir`, and append the drill
    to `report_dir.parent / "drills.jsonl"` (the reports directory's history)."""
    write_junit(report, report_dir / JUNIT_NAME)
    write_html(report, report_dir / HTML_NAME)
    append_history(report_dir.parent, report, report_path=report_dir / REPORT_NAME)
