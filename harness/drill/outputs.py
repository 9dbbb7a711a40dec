"""What a drill leaves besides report.json: junit.xml for CI, report.html for people, and a line
in the reports directory's drills.jsonl for trends; all rendered from the one judgement."""

from __future__ import annotations

from pathlib import Path

from harness.drill.report import REPORT_NAME, DrillReport
from harness.report import HTML_NAME, JUNIT_NAME
from harness.report.html import render_html
from harness.report.junit import junit_xml
from harness.report.pages import write_together
from harness.report.trend import append_history


def write_pages(report_dir: Path, report: DrillReport) -> None:
    """Write junit.xml and report.html beside report.json in `report_dir`, together: both are
    rendered before either is written, and either both are replaced or neither is."""
    report_path = (report_dir / REPORT_NAME).absolute()
    write_together(
        {
            report_dir / JUNIT_NAME: junit_xml(report, report_path),
            report_dir / HTML_NAME: render_html(report, report_path),
        }
    )


def write_outputs(report_dir: Path, report: DrillReport) -> None:
    """Write junit.xml and report.html beside report.json in `report_dir`, and append the drill
    to `report_dir.parent / "drills.jsonl"` (the reports directory's history)."""
    write_pages(report_dir, report)
    append_history(report_dir.parent, report, report_path=report_dir / REPORT_NAME)
