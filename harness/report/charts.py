"""The geometry of report.html's inline SVG charts, as plain data the templates draw: the
phase timeline, the gauge of a headline number against its target, and the workload's
operations as stacked bars.

Nothing here builds markup: each function returns frozen dataclasses of coordinates, colours
and the texts to show, and harness/report/templates/charts.html draws them (escaping every
text). Timeline spans are seconds since the drill started (the record's clock).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from harness.drill.record import DrillRecord, Span
from harness.drill.verdict import Metrics
from harness.report import model
from harness.report.model import Measure
from harness.report.svg import tick_label, ticks

PASS_COLOR, FAIL_COLOR = "#1a7f37", "#cf222e"
POINT_COLOR, RTO_COLOR = "#0969da", "#bc4c00"
PHASE_COLORS = {
    "populate": "#8c959f",
    "start": "#8c959f",
    "traffic": "#54aeff",
    "backup": "#0969da",
    "traffic after backup": "#54aeff",
    "disaster": "#cf222e",
    "detection": "#bc4c00",
    "recovery": "#8250df",
    "service ready": "#1a7f37",
    "spool drained": "#1a7f37",
    "verify": "#4d2d00",
    "restart": "#6639ba",
    "verdict": "#4d2d00",
}
OTHER_COLOR = "#6e7781"
OUTCOME_COLORS = {"ok": "#1a7f37", "fail": "#8c959f", "unknown": "#bf8700"}

# The timeline's frame: the plot runs from LEFT to RIGHT, the first row starts at HEAD.
WIDTH, LEFT, RIGHT, ROW, HEAD = 1100.0, 180.0, 1080.0, 24.0, 46.0


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    """One phase: its row's top `y`, the bar from `x` over `width`, the duration `label` at
    `label_x` (anchored `anchor`), and the `title` shown on hover."""

    phase: str
    y: float
    x: float
    width: float
    color: str
    unfinished: bool
    failed: bool
    title: str
    label: str
    label_x: float
    anchor: str


@dataclass(frozen=True, slots=True)
class Interval:
    """RPO or RTO under the phases: from `start` to `end` (x), with its text."""

    name: str
    y: float
    start: float
    end: float
    color: str
    text: str
    text_x: float
    anchor: str

    @property
    def width(self) -> float:
        return max(2.0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical line at `x` (the disaster, the consistency point) with its text."""

    x: float
    text: str
    text_x: float
    anchor: str
    title: str


@dataclass(frozen=True, slots=True)
class Timeline:
    height: float
    bottom: float
    """Where the plot ends (the tick labels are below it)."""
    ticks: tuple[Tick, ...]
    bars: tuple[Bar, ...]
    intervals: tuple[Interval, ...]
    point: Marker | None
    disaster: Marker | None
    width: float = WIDTH
    left: float = LEFT
    right: float = RIGHT
    head: float = HEAD


@dataclass(frozen=True, slots=True)
class _Scale:
    """Seconds since the start -> x, over round ticks up to at least `end`."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, end: float) -> _Scale:
        return cls(tuple(ticks(end, 10)))

    def x(self, t: float) -> float:
        top = self.values[-1] if self.values[-1] > 0 else 1.0
        return LEFT + (RIGHT - LEFT) * max(0.0, t) / top


def timeline(record: DrillRecord, metrics: Metrics) -> Timeline | None:
    """The phases as a Gantt chart, with the disaster, the backup's consistency point and the
    RPO and RTO spans; None when no phase was recorded. An unfinished phase runs to the end."""
    if not record.timeline:
        return None
    fault, point = model.fault_time(record), model.point_time(record)
    spans = _spans(record, metrics)
    end = max([model.duration(record), fault or 0.0, *(s[2] for s in spans)])
    scale = _Scale.of(end)
    bars = tuple(_bar(span, HEAD + i * ROW, scale, end) for i, span in enumerate(record.timeline))
    intervals = tuple(
        _interval(*span, y=HEAD + (len(bars) + j) * ROW, scale=scale)
        for j, span in enumerate(spans)
    )
    height = HEAD + ROW * (len(bars) + len(intervals)) + 34.0
    return Timeline(
        height=height,
        bottom=height - 26.0,
        ticks=tuple(Tick(scale.x(t), f"{tick_label(t)} s") for t in scale.values),
        bars=bars,
        intervals=intervals,
        point=None if point is None else _point(point, scale),
        disaster=(
            None if fault is None or record.fault is None else _disaster(record, fault, scale)
        ),
    )


def _spans(record: DrillRecord, metrics: Metrics) -> list[tuple[str, float, float, float | None]]:
    """(name, start, end, value): RPO (the backup point -> the disaster, after a restore) and
    RTO (the damage complete -> clients served again), those the drill got far enough for."""
    fault, struck, point = (
        model.fault_time(record),
        model.struck_time(record),
        model.point_time(record),
    )
    spans: list[tuple[str, float, float, float | None]] = []
    if record.restored and point is not None and fault is not None:
        spans.append(("RPO", point, fault, metrics.rpo_seconds))
    if struck is not None and metrics.rto_seconds is not None:
        spans.append(("RTO", struck, struck + metrics.rto_seconds, metrics.rto_seconds))
    return spans


def _bar(span: Span, y: float, scale: _Scale, end: float) -> Bar:
    stop = span.end if span.end is not None else end
    x = scale.x(span.start)
    width = max(2.0 if span.end is not None else 12.0, scale.x(stop) - x)  # a dashed outline
    took = model.span_seconds(span)
    label = model.seconds(took) if took is not None else "did not finish"
    title = f"{span.phase}: {span.start:.2f} s → " + (
        f"{span.end:.2f} s ({label})" if span.end is not None else "did not finish"
    )
    if span.error:
        title += f" — {span.error}"
        label += " — failed"
    label_x, anchor = x + width + 6, "start"
    if label_x > RIGHT - 60:
        label_x, anchor = x - 6, "end"
    color = FAIL_COLOR if span.error else PHASE_COLORS.get(span.phase, OTHER_COLOR)
    return Bar(
        phase=span.phase,
        y=y,
        x=x,
        width=width,
        color=color,
        unfinished=span.end is None,
        failed=bool(span.error),
        title=title,
        label=label,
        label_x=label_x,
        anchor=anchor,
    )


def _interval(
    name: str, start: float, end: float, value: float | None, *, y: float, scale: _Scale
) -> Interval:
    a, b = scale.x(start), scale.x(end)
    what = (
        "backup point → disaster: what may be lost"
        if name == "RPO"
        else ("disaster → clients served again")
    )
    text = f"{name} {model.seconds(value)} ({what})"
    text_x, anchor = (b + 6, "start") if b < RIGHT - 330 else (a - 6, "end")
    color = POINT_COLOR if name == "RPO" else RTO_COLOR
    return Interval(name, y, a, b, color, text, text_x, anchor)


def _point(point: float, scale: _Scale) -> Marker:
    x = scale.x(point)
    anchor = "end" if x > LEFT + 160 else "start"
    return Marker(
        x,
        f"backup consistency point {point:.1f} s",
        x - 6 if anchor == "end" else x + 6,
        anchor,
        f"backup consistency point at {point:.2f} s",
    )


def _disaster(record: DrillRecord, fault: float, scale: _Scale) -> Marker:
    kind = record.fault.kind if record.fault else "disaster"
    x = scale.x(fault)
    anchor = "start" if x < RIGHT - 280 else "end"
    return Marker(
        x,
        f"⚡ disaster: {kind} at {fault:.1f} s",
        x + 6 if anchor == "start" else x - 6,
        anchor,
        f"disaster ({kind}) at {fault:.2f} s",
    )


# -- a headline number against its target ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gauge:
    """A bar of `value_width` against the target's tick at `target_x`, out of `width`."""

    value_width: float
    target_x: float
    color: str
    label: str
    width: float = 200.0


def gauge(m: Measure) -> Gauge | None:
    """The value against its target (None without a value or a target)."""
    if m.value is None or m.target is None:
        return None
    limit = m.target.limit
    top = max(m.value, limit) * 1.15 or 1.0
    width = 200.0
    return Gauge(
        value_width=width * m.value / top,
        target_x=width * limit / top,
        color=FAIL_COLOR if m.status == "missed" else PASS_COLOR,
        label=f"{m.label} {m.text()} against target {m.target_text()}",
        width=width,
    )


# -- the workload's operations -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    width: float
    color: str
    title: str


@dataclass(frozen=True, slots=True)
class OperationRow:
    """One kind of operation: its stacked outcomes and, after them, the counts in words."""

    kind: str
    y: float
    segments: tuple[Segment, ...]
    text_x: float
    text: str


@dataclass(frozen=True, slots=True)
class Operations:
    height: float
    rows: tuple[OperationRow, ...]
    left: float = 90.0


def operations(counts: Sequence[tuple[str, int]]) -> Operations | None:
    """The workload's counts (`kind:outcome`, n) by kind, ok / fail / unknown stacked, the
    busiest kind first (None when there are none)."""
    table: dict[str, Counter[str]] = {}
    for key, n in counts:
        kind, _, outcome = key.partition(":")
        table.setdefault(kind, Counter())[outcome or "ok"] += n
    if not table:
        return None
    biggest = max(sum(c.values()) for c in table.values()) or 1
    ordered = sorted(table.items(), key=lambda kv: -sum(kv[1].values()))
    rows = tuple(
        _operation_row(kind, c, i * 20.0 + 4, biggest) for i, (kind, c) in enumerate(ordered)
    )
    return Operations(height=20.0 * len(rows) + 8, rows=rows)


def _operation_row(kind: str, counts: Counter[str], y: float, biggest: int) -> OperationRow:
    left, width = 90.0, 220.0
    known = ("ok", "fail", "unknown")
    outcomes = [o for o in (*known, *sorted(set(counts) - set(known))) if counts.get(o, 0)]
    segments, x = [], left
    for outcome in outcomes:
        w = width * counts[outcome] / biggest
        color = OUTCOME_COLORS.get(outcome, OTHER_COLOR)
        segments.append(Segment(x, w, color, f"{kind} {outcome}: {counts[outcome]}"))
        x += w
    text = ", ".join(f"{counts[o]} {o}" for o in outcomes)
    return OperationRow(kind, y, tuple(segments), x + 6, text)
