"""What a drill leaves besides report.json: junit.xml for CI, report.html for people, a line
in the reports directory's drills.jsonl for trends; and the schema report.json follows.

Modules: `schema` (validate), `junit` (write_junit), `html` (write_html), `trend`
(append_history, load_history, find_regressions, write_trend_html, trend_table), `show`
(render_show), `cli` (add_report_commands: `firedrill report trend|show|render`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

JUNIT_NAME = "junit.xml"
HTML_NAME = "report.html"


def write_outputs(report_dir: Path, report: dict[str, Any]) -> None:
    """Write junit.xml and report.html beside report.json in `report_dir`, and append the drill
    to `report_dir.parent / "drills.jsonl"` (the reports directory's history)."""
    from harness.report.html import write_html
    from harness.report.junit import write_junit
    from harness.report.trend import append_history

    write_junit(report, report_dir / JUNIT_NAME)
    write_html(report, report_dir / HTML_NAME)
    append_history(report_dir.parent, report, report_path=report_dir / "report.json")
