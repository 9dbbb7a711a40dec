"""report.html: one self-contained page a person reads in ten seconds.

(Being ported to the typed report; this minimal page shows the verdict and the checklist.)
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from harness.drill.report import DrillReport
from harness.report import model
from harness.report.checks import checks


def render_html(report: DrillReport, report_path: Path | str | None = None) -> str:
    verdict = report.judgement.verdict.value
    items = "".join(
        f'<li class="check {c.status}">{html.escape(c.name)}: {html.escape(c.message)}</li>'
        for c in checks(report)
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{verdict.upper()}</title>'
        f'</head><body><header id="verdict" data-verdict="{verdict}">{verdict.upper()} '
        f"{html.escape(model.headline(report))}</header><ul>{items}</ul></body></html>"
    )


def write_html(report: DrillReport, path: Path) -> None:
    """Write report.html for `report` at `path` (atomically); report.json is beside it."""
    text = render_html(report, path.with_name("report.json").absolute())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
