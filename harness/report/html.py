"""report.html: one self-contained page a person reads in ten seconds (no external scripts,
fonts or styles; charts are inline SVG; every value from the report is escaped).

From the top: the verdict banner (id `verdict`) with the one-line reason, the headline
numbers against their targets, the checklist (the same checks as junit.xml), the phase timeline
(SVG id `timeline`: one `rect.phase` per phase, the disaster as `line.disaster`, the backup's
consistency point, and the RPO and RTO spans), the findings grouped by kind, the lost
operations, what came back, the disaster and recovery details, the procedures' output and the
run's versions and paths.

This module and harness/report/details.py turn the report into plain view data (frozen
dataclasses of texts and numbers), harness/report/charts.py computes the charts' geometry, and
the jinja2 templates (harness/report/templates/report.html) draw the page with autoescape on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.drill.record import DrillRecord
from harness.drill.report import VERSION, DrillReport
from harness.drill.verdict import Classification, Classified, Judgement
from harness.faults.came_back import CameBack
from harness.report import charts, details, model, pages
from harness.report.charts import Gauge
from harness.report.checks import Check, checks
from harness.report.model import FindingGroup, Measure

LONG_LIST = 10
"""Lists longer than this are collapsed in a <details>."""
REASONS = 5
"""The banner lists at most this many reasons."""

WORDS = {"pass": "PASS", "fail": "FAIL", "unknown": "UNKNOWN"}
ICONS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "–"}
_STATUS_ORDER = {"failed": 0, "error": 1, "passed": 2, "skipped": 3}


def render_html(report: DrillReport, report_path: Path | str | None = None) -> str:
    """The whole page as a string."""
    record, judgement = report.record, report.judgement
    results = checks(report)
    return pages.render(
        "report.html",
        title=f"{WORDS[judgement.verdict.value]} — {record.scenario.name} — firedrill",
        banner=banner(report, results),
        error=record.error,
        traceback=record.traceback,
        partial=partial(report),
        cards=cards(report),
        checklist=checklist(results),
        timeline=charts.timeline(record, judgement.metrics),
        struck=record.fault is not None,
        findings=findings(judgement),
        lost=lost(report),
        came_back=came_back(record),
        details=details.details(report),
        run=details.run(report, report_path),
        format_version=VERSION,
    )


def write_html(report: DrillReport, path: Path) -> None:
    """Write report.html for `report` at `path` (atomically); report.json is beside it."""
    pages.write_atomically(path, render_html(report, path.with_name("report.json").absolute()))


# -- banner ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Banner:
    verdict: str
    word: str
    name: str
    description: str
    what: str
    """Category · disaster · procedure."""
    meta: tuple[tuple[str, str], ...]
    tally: str
    """`N of M checks passed, K failed`."""
    headline: str
    reasons: tuple[str, ...]
    """The reasons the headline does not already say (at most REASONS)."""
    more: int
    """How many reasons beyond those."""


def banner(report: DrillReport, results: Sequence[Check]) -> Banner:
    record, judgement = report.record, report.judgement
    verdict, scenario = judgement.verdict.value, record.scenario
    headline = model.headline(report)
    unsaid = [r for r in judgement.reasons if r not in headline] if verdict == "fail" else []
    failed = sum(c.status == "failed" for c in results)
    passed = sum(c.status == "passed" for c in results)
    tally = f"{passed} of {len(results)} checks passed" + (f", {failed} failed" if failed else "")
    meta = (
        ("started", model.iso(record.started.wall)),
        ("duration", model.seconds(model.duration(record), digits=1)),
        ("seed", str(record.seed)),
        ("backend", record.backend),
        ("firedrill", dict(record.versions).get("firedrill", "—")),
    )
    what = " · ".join((scenario.category, scenario.disaster.kind, f"procedure {record.procedure}"))
    return Banner(
        verdict=verdict,
        word=WORDS[verdict],
        name=scenario.name,
        description=scenario.description,
        what=what,
        meta=meta,
        tally=tally,
        headline=headline,
        reasons=tuple(unsaid[:REASONS]),
        more=max(0, len(unsaid) - REASONS),
    )


def partial(report: DrillReport) -> str:
    """Why the report is partial (the drill had not ended and no error says why), or ""."""
    record = report.record
    if record.complete or record.error:
        return ""
    return "; ".join(report.judgement.reasons) or "the drill had not ended"


# -- headline numbers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Card:
    """One headline number: `note` says what stands in for a target when there is none."""

    measure: Measure
    note: str
    gauge: Gauge | None


def cards(report: DrillReport) -> list[Card]:
    restart = report.record.scenario.recovery_action == "restart"
    result = []
    for m in model.measures(report.judgement):
        if m.key == "rpo_messages" and m.target is None and m.value is None:
            continue
        if m.key == "restore_seconds" and restart:
            note = "restart through the logs, no restore"
        elif m.key.startswith("rpo") and restart:
            note = "no restore: nothing may be lost"
        else:
            note = "no target set"
        result.append(Card(m, note, charts.gauge(m)))
    return result


# -- the checklist -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    check: Check
    icon: str
    why: str
    """The check's message in one short line ("" for a plain pass)."""


def checklist(results: Sequence[Check]) -> list[Item]:
    """The checks, failed and errors first; a pass with a note (`warn`) shows a `!`."""
    return [
        Item(c, "!" if c.warn else ICONS[c.status], short(c.message, 160))
        for c in sorted(results, key=lambda c: _STATUS_ORDER[c.status])
    ]


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- findings, lost operations, what came back ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One finding of a group: its id, detail, and the reason when it is not a violation."""

    id: str
    detail: str
    note: str


@dataclass(frozen=True, slots=True)
class Row:
    group: FindingGroup
    lines: tuple[Line, ...]
    open: bool
    """Its ids are shown unfolded (a short list of violations)."""


@dataclass(frozen=True, slots=True)
class Findings:
    count: int
    summary: str
    """`15 violation, 38 allowed`, the most frequent first."""
    rows: tuple[Row, ...]


def findings(judgement: Judgement) -> Findings:
    total = Counter(c.classification.value for c in judgement.findings)
    rows = tuple(
        Row(
            g,
            tuple(_line(c) for c in g.items),
            g.worst == "violation" and g.count <= LONG_LIST,
        )
        for g in model.group_findings(judgement.findings)
    )
    summary = ", ".join(f"{n} {c}" for c, n in total.most_common())
    return Findings(len(judgement.findings), summary, rows)


def _line(c: Classified) -> Line:
    note = c.reason if c.classification is not Classification.VIOLATION else ""
    return Line(c.finding.subject, model.detail(c), note)


@dataclass(frozen=True, slots=True)
class LostRow:
    op: int
    kind: str
    ids: str
    when: str
    """Acknowledged, seconds from the drill's start."""
    after: str
    """Acknowledged, seconds from the backup's consistency point (+ after it)."""
    classification: str
    reason: str


@dataclass(frozen=True, slots=True)
class Lost:
    rows: tuple[LostRow, ...]
    summary: str
    collapsed: bool


def lost(report: DrillReport) -> Lost | None:
    """The acknowledged operations whose effect did not survive, by the time they were
    acknowledged (None when the drill was not verified and lost nothing)."""
    record, operations = report.record, report.judgement.lost
    if not operations and record.verify is None:
        return None
    point = model.point_time(record)
    rows = []
    for x in sorted(operations, key=lambda x: x.acknowledged.mono if x.acknowledged else 0.0):
        at = model.at(record, x.acknowledged)
        when = "—" if at is None else f"{at:.2f} s"
        after = "—" if at is None or point is None else f"{at - point:+.2f} s"
        rows.append(LostRow(x.op, x.kind, x.ids, when, after, x.classification.value, x.reason))
    total, counts = model.operations_lost(report.judgement)
    per = f" ({len(operations)} losses, per recipient)" if len(operations) != total else ""
    summary = (
        f"{total} acknowledged operation{'s' if total != 1 else ''} lost{per}: "
        + ", ".join(f"{n} {c}" for c, n in counts.most_common())
    )
    return Lost(tuple(rows), summary, len(rows) > LONG_LIST)


@dataclass(frozen=True, slots=True)
class Return:
    """One destroyed thing after the recovery, with its badge (`status`, `word`)."""

    item: CameBack
    status: str
    word: str


def came_back(record: DrillRecord) -> list[Return]:
    items = record.verify.came_back if record.verify else ()
    result = []
    for x in items:
        if x.back:
            result.append(Return(x, "met", "back"))
        elif x.expected:
            result.append(Return(x, "missed", "NOT back"))
        else:
            result.append(Return(x, "none", "not back (the backup lacked it)"))
    return result
