"""trend.html: a line chart per scenario and metric from drills.jsonl, regressions highlighted.

The charts' geometry and the tables are computed here as plain data; the jinja2 template
(harness/report/templates/trend.html, extending base.html) draws them with autoescape on.
"""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from harness.report import model, pages
from harness.report.svg import num, tick_label, ticks
from harness.report.trend import LABELS, METRICS, Regression, TrendEntry, by_scenario

VERDICT_COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "unknown": "#bf8700"}
REGRESSION_COLOR, OTHER_COLOR = "#cf222e", "#6e7781"
TABLE_METRICS = (*METRICS, "restore_seconds")

# A chart's frame: the plot runs from LEFT to RIGHT and from TOP down to BOTTOM.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 360.0, 170.0, 40.0, 350.0, 12.0, 146.0


@dataclass(frozen=True, slots=True)
class Level:
    """A horizontal line at `y`: a grid line (`label`), the median or the threshold (`title`)."""

    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    radius: float
    color: str
    regression: bool
    """The latest drill, regressed: drawn big and red, its value written beside it."""
    title: str
    value: str


@dataclass(frozen=True, slots=True)
class Chart:
    """One metric of one scenario over its drills (`points` empty: no drill measured it)."""

    metric: str
    title: str
    regressed: bool
    grid: tuple[Level, ...] = ()
    median: Level | None = None
    limit: Level | None = None
    line: str = ""
    """The polyline's points, `x,y x,y ...`."""
    points: tuple[Point, ...] = ()
    first: str = ""
    last: str = ""
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = RIGHT


def chart(
    runs: Sequence[TrendEntry],
    metric: str,
    regression: Regression | None,
    *,
    window: int,
    margin: float,
) -> Chart:
    """The values of `metric` over `runs` (oldest first), with the median of the values before
    the latest and the regression threshold above it."""
    known = [(i, x, v) for i, x in enumerate(runs) if (v := x.value(metric)) is not None]
    title = f"{LABELS.get(metric, metric)} (s)"
    if not known:
        return Chart(metric, title, regression is not None)
    previous = [v for _, _, v in known[:-1]][-window:]
    median = statistics.median(previous) if len(previous) >= 2 else None
    limit = median * (1 + margin) if median is not None else None
    peak = max([v for _, _, v in known] + ([limit] if limit is not None else []))
    scale = ticks(peak * 1.1 if peak > 0 else 1.0, 4)
    top = scale[-1] or 1.0

    def px(i: int) -> float:
        return LEFT + (RIGHT - LEFT) * (i / max(1, len(runs) - 1) if len(runs) > 1 else 0.5)

    def py(v: float) -> float:
        return BOTTOM - (BOTTOM - TOP) * v / top

    last = len(runs) - 1
    rules: tuple[Level | None, Level | None] = (None, None)
    if median is not None and limit is not None:
        rules = (
            Level(py(median), f"median of the previous {len(previous)}: {median:.2f} s"),
            Level(py(limit), f"regression above {limit:.2f} s (median + {margin * 100:.0f}%)"),
        )
    return Chart(
        metric,
        title,
        regression is not None,
        grid=tuple(Level(py(t), tick_label(t)) for t in scale),
        median=rules[0],
        limit=rules[1],
        line=" ".join(f"{num(px(i))},{num(py(v))}" for i, _, v in known),
        points=tuple(
            _point(x, v, px(i), py(v), i == last and regression is not None) for i, x, v in known
        ),
        first=model.iso(runs[0].started)[:10],
        last=model.iso(runs[-1].started)[:16],
    )


def _point(entry: TrendEntry, value: float, x: float, y: float, regressed: bool) -> Point:
    color = REGRESSION_COLOR if regressed else VERDICT_COLORS.get(entry.verdict, OTHER_COLOR)
    title = f"{model.iso(entry.started)}: {value:.2f} s ({entry.verdict})"
    return Point(x, y, 6.0 if regressed else 3.5, color, regressed, title, f"{value:.2f} s")


@dataclass(frozen=True, slots=True)
class Drill:
    """A row of a scenario's table of recent drills."""

    started: str
    verdict: str
    values: tuple[str, ...]
    """TABLE_METRICS then RPO (messages), `—` where not measured."""
    seed: str
    href: str
    """The drill's report.html, relative to the page ("" when the entry names no report)."""


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    verdict: str
    """The latest drill's."""
    count: int
    charts: tuple[Chart, ...]
    drills: tuple[Drill, ...]
    """The most recent first."""


def _drill(entry: TrendEntry, out_dir: Path, root: Path | None) -> Drill:
    values = tuple(
        "—" if entry.value(m) is None else f"{entry.value(m):.2f}" for m in TABLE_METRICS
    )
    messages = "—" if entry.rpo_messages is None else str(entry.rpo_messages)
    seed = "—" if entry.seed is None else str(entry.seed)
    return Drill(
        model.iso(entry.started),
        entry.verdict,
        (*values, messages),
        seed,
        link(entry, out_dir, root),
    )


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
"""What starts a URL (`javascript:`, `https:`): a report is a file, not a URL."""


def link(entry: TrendEntry, out_dir: Path, root: Path | None) -> str:
    """The href of the entry's report.html: a relative path as seen from `out_dir` (the
    entry's report relative to `root`), or a `file:` URL for an absolute one, percent-encoded
    (a `:`, `?` or `#` in a directory's name is part of the path). "" without a report, or
    for one that names a URL (`javascript:...`) or no file."""
    if not entry.report or _SCHEME.match(entry.report):
        return ""
    report = Path(entry.report)
    try:
        html = report.with_name("report.html")
        if html.is_absolute():  # one leading slash: `//host/...` is not a file here
            return Path("/" + html.as_posix().lstrip("/")).as_uri()
        where = root / html if root is not None else html
        href = os.path.relpath(where.absolute(), out_dir.absolute())
    except ValueError:  # no file name (`.`), or another drive
        return ""
    return quote(Path(href).as_posix(), errors="replace")


def render_trend_html(
    entries: Sequence[TrendEntry],
    regressions: Sequence[Regression],
    *,
    out_dir: Path = Path(),
    root: Path | None = None,
    window: int = 5,
    margin: float = 0.2,
    recent: int = 10,
) -> str:
    flagged = {(r.scenario, r.metric): r for r in regressions}
    groups = by_scenario(entries)
    regressed = {r.scenario for r in regressions}
    sections = [
        Section(
            name,
            runs[-1].verdict,
            len(runs),
            tuple(
                chart(runs, m, flagged.get((name, m)), window=window, margin=margin)
                for m in METRICS
            ),
            tuple(_drill(x, out_dir, root) for x in reversed(runs[-recent:])),
        )
        for name, runs in sorted(groups.items(), key=lambda kv: (kv[0] not in regressed, kv[0]))
    ]
    return pages.render(
        "trend.html",
        title="firedrill trends",
        drills=len(entries),
        scenarios=len(groups),
        window=window,
        margin=f"{margin * 100:.0f}",
        regressions=[r.describe() for r in regressions],
        sections=sections,
    )


def write_trend_html(
    entries: Sequence[TrendEntry],
    regressions: Sequence[Regression],
    path: Path,
    *,
    window: int = 5,
    margin: float = 0.2,
    root: Path | None = None,
) -> None:
    """Write trend.html: a line chart per scenario and metric, regressions highlighted.

    `root` is the directory the entries' relative report paths are relative to (default: the
    page's own directory), for links to each drill's report.html.
    """
    text = render_trend_html(
        entries,
        regressions,
        out_dir=path.parent,
        root=root if root is not None else path.parent,
        window=window,
        margin=margin,
    )
    pages.write_atomically(path, text)
