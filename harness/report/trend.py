"""Drill history and trends: one JSON line per drill in `<reports>/drills.jsonl`, regressions
of the latest drill of each scenario against the median of the ones before it, a plain-text
table for the terminal and trend.html with a line chart per scenario and metric.

A metric (RTO, RPO in seconds, backup window) of a scenario's latest drill regresses when it is
worse than the median of the previous `window` values of that scenario by more than `margin`
(value > median × (1 + margin)) and by more than `min_delta` seconds; it takes at least two
previous values to judge.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.report import model
from harness.report.svg import e, num, page, tick_label, ticks

HISTORY_FILE = "drills.jsonl"
METRICS: tuple[str, ...] = ("rto_seconds", "rpo_seconds", "backup_window_seconds")
LABELS = {
    "rto_seconds": "RTO",
    "rpo_seconds": "RPO",
    "rpo_messages": "RPO (messages)",
    "backup_window_seconds": "backup window",
    "restore_seconds": "restore time",
}


@dataclass(frozen=True, slots=True)
class TrendEntry:
    """One drill, as a line of drills.jsonl."""

    scenario: str
    started: float
    verdict: str
    seed: int | None
    backend: str
    rto_seconds: float | None
    rpo_seconds: float | None
    rpo_messages: int | None
    backup_window_seconds: float | None
    restore_seconds: float | None
    report: str
    """Path of report.json: relative to the history's directory when it lies inside it."""

    def value(self, metric: str) -> float | None:
        v = getattr(self, metric)
        return None if v is None else float(v)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrendEntry:
        """Raises ValueError when a field is missing or of the wrong type."""

        def opt_float(key: str) -> float | None:
            v = data.get(key)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"{key}: not a number")
            return float(v)

        name, started = data.get("scenario"), opt_float("started")
        if not isinstance(name, str) or not name or started is None:
            raise ValueError("scenario and started are required")
        seed, messages = data.get("seed"), data.get("rpo_messages")
        return cls(
            scenario=name,
            started=started,
            verdict=str(data.get("verdict") or "unknown"),
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            backend=str(data.get("backend") or ""),
            rto_seconds=opt_float("rto_seconds"),
            rpo_seconds=opt_float("rpo_seconds"),
            rpo_messages=int(messages) if isinstance(messages, int | float) else None,
            backup_window_seconds=opt_float("backup_window_seconds"),
            restore_seconds=opt_float("restore_seconds"),
            report=str(data.get("report") or ""),
        )


@dataclass(frozen=True, slots=True)
class Regression:
    """A metric of a scenario's latest drill, worse than the median of the drills before it."""

    scenario: str
    metric: str
    value: float
    baseline: float
    """The median of the previous values."""
    previous: int
    """How many previous values the median is of."""
    margin: float
    started: float
    report: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def describe(self) -> str:
        worse = (
            f"{(self.ratio - 1) * 100:.0f}% above" if self.baseline else f"{self.value:.2f} s above"
        )
        return (
            f"{self.scenario}: {LABELS.get(self.metric, self.metric)} {self.value:.2f} s is "
            f"{worse} the median {self.baseline:.2f} s of the previous {self.previous} "
            f"drill(s) (margin {self.margin * 100:.0f}%)"
        )


# -- the history file ----------------------------------------------------------------------------


def entry_from_report(report: Mapping[str, Any], report_path: Path | str = "") -> TrendEntry:
    """The history line of one report (metrics as the report shows them: see model.measures)."""
    values = {m.key: m.value for m in model.measures(report)}
    messages = values.get("rpo_messages")
    seed = report.get("seed")
    return TrendEntry(
        scenario=model.scenario_name(report),
        started=model.started(report) or 0.0,
        verdict=model.verdict(report),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        backend=str(report.get("backend") or ""),
        rto_seconds=values.get("rto_seconds"),
        rpo_seconds=values.get("rpo_seconds"),
        rpo_messages=None if messages is None else int(messages),
        backup_window_seconds=values.get("backup_window_seconds"),
        restore_seconds=values.get("restore_seconds"),
        report=str(report_path),
    )


def _report_path(report: Mapping[str, Any]) -> Path | None:
    history = report.get("history")
    return Path(str(history)).parent / "report.json" if history else None


def append_history(
    report_dir_root: Path, report: Mapping[str, Any], *, report_path: Path | None = None
) -> None:
    """Append one line for this drill to `<report_dir_root>/drills.jsonl`.

    `report_path` defaults to report.json beside the report's history; it is stored relative to
    the root when it lies inside it (the reports directory can then move as a whole).
    """
    report_dir_root.mkdir(parents=True, exist_ok=True)
    path = report_path if report_path is not None else _report_path(report)
    stored = ""
    if path is not None:
        try:
            stored = str(path.absolute().relative_to(report_dir_root.absolute()))
        except ValueError:
            stored = str(path.absolute())
    line = json.dumps(entry_from_report(report, stored).to_json(), sort_keys=True) + "\n"
    # One write(2) on an O_APPEND descriptor: concurrent drills do not interleave their lines.
    fd = os.open(report_dir_root / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def load_history(root: Path) -> list[TrendEntry]:
    """The drills recorded under `root` (a reports directory, or a drills.jsonl), oldest first.

    Without a drills.jsonl, the history is rebuilt from the `*/report.json` under root (reports
    written before the history existed). Lines that cannot be read are skipped.
    """
    file = root if root.is_file() else root / HISTORY_FILE
    entries: list[TrendEntry] = []
    if file.is_file():
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if isinstance(data, dict):
                    entries.append(TrendEntry.from_json(data))
            except ValueError:
                continue  # a torn or foreign line: the others still count
    elif root.is_dir():
        for path in sorted(root.glob("*/report.json")):
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(report, dict) and report.get("format") == "firedrill-report":
                entries.append(entry_from_report(report, path.relative_to(root)))
    entries.sort(key=lambda x: x.started)
    return entries


def by_scenario(entries: Iterable[TrendEntry]) -> dict[str, list[TrendEntry]]:
    """Entries per scenario, oldest first, scenarios by name."""
    groups: dict[str, list[TrendEntry]] = {}
    for entry in sorted(entries, key=lambda x: x.started):
        groups.setdefault(entry.scenario, []).append(entry)
    return dict(sorted(groups.items()))


# -- regressions ---------------------------------------------------------------------------------


def find_regressions(
    entries: Sequence[TrendEntry],
    *,
    window: int = 5,
    margin: float = 0.2,
    metrics: Sequence[str] = METRICS,
    min_delta: float = 0.0,
) -> list[Regression]:
    """The metrics of each scenario's latest drill that are worse than the median of the
    previous `window` values of that scenario by more than `margin` (and `min_delta` seconds).
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    found: list[Regression] = []
    for name, runs in by_scenario(entries).items():
        latest, before = runs[-1], runs[:-1]
        for metric in metrics:
            value = latest.value(metric)
            if value is None:
                continue
            previous = [v for v in (x.value(metric) for x in before) if v is not None][-window:]
            if len(previous) < 2:
                continue
            median = statistics.median(previous)
            if value > median * (1 + margin) and value - median > min_delta:
                found.append(
                    Regression(
                        name,
                        metric,
                        value,
                        median,
                        len(previous),
                        margin,
                        latest.started,
                        latest.report,
                    )
                )
    return found


# -- the terminal table --------------------------------------------------------------------------


def _cell(value: float | None, median: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" + (f" ({median:.2f})" if median is not None else "")


def trend_table(
    entries: Sequence[TrendEntry], regressions: Sequence[Regression], *, window: int = 5
) -> str:
    """Plain text: per scenario, the latest drill's metrics (in brackets the median of the
    previous `window` drills of the scenario), then one line per regression."""
    if not entries:
        return "no drills recorded"
    flagged = {(r.scenario, r.metric) for r in regressions}
    header = ["scenario", "drills", "latest (UTC)", "verdict"] + [
        f"{LABELS[m]} s (median)" for m in METRICS
    ]
    table = [header]
    for name, runs in by_scenario(entries).items():
        latest = runs[-1]
        row = [name, str(len(runs)), model.iso(latest.started).removesuffix(" UTC")[:16]]
        row.append(latest.verdict.upper())
        for metric in METRICS:
            before = [v for v in (x.value(metric) for x in runs[:-1]) if v is not None]
            before = before[-window:]
            median = statistics.median(before) if before else None
            cell = _cell(latest.value(metric), median)
            row.append(cell + (" !" if (name, metric) in flagged else ""))
        table.append(row)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 4 and i != 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if regressions:
        lines.append("")
        lines.append(f"{len(regressions)} regression(s) (! above):")
        lines += [f"  {r.describe()}" for r in regressions]
    else:
        lines.append("")
        lines.append("no regressions")
    return "\n".join(lines)


# -- trend.html ----------------------------------------------------------------------------------

TREND_CSS = """
.head { padding: 20px 0 8px; }
.head h1 { font-size: 28px; }
.status { border-radius: 8px; padding: 12px 16px; margin: 14px 0; font-size: 17px;
  font-weight: 600; color: #fff; }
.status.ok { background: var(--pass); }
.status.bad { background: var(--fail); }
.status ul { margin: 6px 0 0; font-weight: 400; font-size: 15px; }
.charts { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fit, minmax(min(340px, 100%), 1fr)); }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.chart.regressed { border-color: var(--fail); box-shadow: inset 0 3px 0 var(--fail); }
.chart h3 { margin: 0 0 4px; font-size: 14px; }
.chart svg { width: 100%; height: auto; display: block; }
"""

_VERDICT_COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "unknown": "#bf8700"}


def _chart(
    runs: Sequence[TrendEntry],
    metric: str,
    regression: Regression | None,
    *,
    window: int,
    margin: float,
) -> str:
    points = [(i, x, x.value(metric)) for i, x in enumerate(runs)]
    known = [(i, x, v) for i, x, v in points if v is not None]
    title = f"{LABELS.get(metric, metric)} (s)"
    if not known:
        return f'<div class="chart"><h3>{e(title)}</h3><p class="muted">no values</p></div>'
    w, h, left, right, top, bottom = 360.0, 170.0, 40.0, 350.0, 12.0, 146.0
    previous = [v for _, _, v in known[:-1]][-window:]
    median = statistics.median(previous) if len(previous) >= 2 else None
    limit = median * (1 + margin) if median is not None else None
    peak = max([v for _, _, v in known] + ([limit] if limit is not None else []))
    scale = ticks(peak * 1.1 if peak > 0 else 1.0, 4)
    top_v = scale[-1] or 1.0
    n = max(1, len(runs) - 1)

    def px(i: int) -> float:
        return left + (right - left) * (i / n if len(runs) > 1 else 0.5)

    def py(v: float) -> float:
        return bottom - (bottom - top) * v / top_v

    cls = "chart regressed" if regression else "chart"
    out = [
        f'<div class="{cls}" data-metric="{e(metric)}"><h3>{e(title)}'
        + (' <span class="badge b-fail">regression</span>' if regression else "")
        + "</h3>",
        f'<svg viewBox="0 0 {num(w)} {num(h)}" role="img" aria-label="{e(title)} per drill" '
        'xmlns="http://www.w3.org/2000/svg">',
    ]
    for t in scale:
        out.append(
            f'<line x1="{num(left)}" y1="{num(py(t))}" x2="{num(right)}" y2="{num(py(t))}" '
            f'stroke="#eaeef2"/><text x="{num(left - 4)}" y="{num(py(t) + 4)}" font-size="10" '
            f'text-anchor="end" fill="#59636e">{e(tick_label(t))}</text>'
        )
    if median is not None and limit is not None:
        out.append(
            f'<line class="median" x1="{num(left)}" y1="{num(py(median))}" x2="{num(right)}" '
            f'y2="{num(py(median))}" stroke="#59636e" stroke-dasharray="4 3">'
            f"<title>median of the previous {len(previous)}: {median:.2f} s</title></line>"
            f'<line class="limit" x1="{num(left)}" y1="{num(py(limit))}" x2="{num(right)}" '
            f'y2="{num(py(limit))}" stroke="#cf222e" stroke-opacity=".5" stroke-dasharray="2 3">'
            f"<title>regression above {limit:.2f} s (median + {margin * 100:.0f}%)</title></line>"
        )
    line = " ".join(f"{num(px(i))},{num(py(v))}" for i, _, v in known)
    out.append(f'<polyline points="{line}" fill="none" stroke="#0969da" stroke-width="2"/>')
    for i, x, v in known:
        last = i == len(runs) - 1
        bad = last and regression is not None
        r = 6 if bad else 3.5
        color = "#cf222e" if bad else _VERDICT_COLORS.get(x.verdict, "#6e7781")
        out.append(
            f'<circle class="{"regression" if bad else "point"}" cx="{num(px(i))}" '
            f'cy="{num(py(v))}" r="{r}" fill="{color}" stroke="#fff" stroke-width="1.5">'
            f"<title>{e(model.iso(x.started))}: {v:.2f} s ({e(x.verdict)})</title></circle>"
        )
        if bad:
            out.append(
                f'<text x="{num(px(i) - 8)}" y="{num(py(v) - 8)}" font-size="11" '
                f'font-weight="700" text-anchor="end" fill="#cf222e">{v:.2f} s</text>'
            )
    first, last_run = runs[0], runs[-1]
    out.append(
        f'<text x="{num(left)}" y="{num(h - 6)}" font-size="10" fill="#59636e">'
        f"{e(model.iso(first.started)[:10])}</text>"
        f'<text x="{num(right)}" y="{num(h - 6)}" font-size="10" fill="#59636e" '
        f'text-anchor="end">{e(model.iso(last_run.started)[:16])}</text>'
    )
    out.append("</svg></div>")
    return "".join(out)


def _link(entry: TrendEntry, out_dir: Path, root: Path | None) -> str:
    if not entry.report:
        return ""
    report = Path(entry.report)
    if not report.is_absolute() and root is not None:
        report = root / report
    html = report.with_name("report.html")
    try:
        href = os.path.relpath(html.absolute(), out_dir.absolute())
    except ValueError:
        href = str(html.absolute())
    return f'<a href="{e(Path(href).as_posix())}">report</a>'


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
    parts = [
        '<main><div class="head"><h1>firedrill trends</h1>',
        f'<p class="muted">{len(entries)} drill(s) of {len(groups)} scenario(s); a regression is '
        f"the latest drill more than {margin * 100:.0f}% above the median of the previous "
        f"{window} (at least 2) of its scenario.</p></div>",
    ]
    if regressions:
        parts.append(
            f'<div class="status bad" id="status">{len(regressions)} regression(s)<ul>'
            + "".join(f"<li>{e(r.describe())}</li>" for r in regressions)
            + "</ul></div>"
        )
    else:
        parts.append('<div class="status ok" id="status">No regressions.</div>')
    parts.append(
        '<p class="legend muted">points: <b style="color:#1a7f37">pass</b>, '
        '<b style="color:#cf222e">fail</b>, <b style="color:#bf8700">unknown</b>; dashed: the '
        "median of the previous drills; dotted red: the regression threshold; a big red point: "
        "the latest drill, regressed. Hover a point for its date and value.</p>"
    )
    regressed = {r.scenario for r in regressions}
    for name, runs in sorted(groups.items(), key=lambda kv: (kv[0] not in regressed, kv[0])):
        latest = runs[-1]
        parts.append(
            f'<section data-scenario="{e(name)}"><h2>{e(name)} '
            f'<span class="badge b-{e(latest.verdict)}">{e(latest.verdict.upper())}</span> '
            f'<span class="muted">{len(runs)} drill(s)</span></h2><div class="charts">'
        )
        for metric in METRICS:
            reg = flagged.get((name, metric))
            parts.append(_chart(runs, metric, reg, window=window, margin=margin))
        parts.append("</div>")
        rows = []
        for x in reversed(runs[-recent:]):
            cells = [
                e(model.iso(x.started)),
                f'<span class="badge b-{e(x.verdict)}">{e(x.verdict)}</span>',
                *(
                    e("—" if x.value(m) is None else f"{x.value(m):.2f}")
                    for m in (*METRICS, "restore_seconds")
                ),
                e("—" if x.rpo_messages is None else x.rpo_messages),
                e(x.seed if x.seed is not None else "—"),
                _link(x, out_dir, root),
            ]
            rows.append(
                "<tr>"
                + "".join(
                    f'<td class="num">{c}</td>' if 2 <= i <= 7 else f"<td>{c}</td>"
                    for i, c in enumerate(cells)
                )
                + "</tr>"
            )
        parts.append(
            f"<details><summary>the last {min(recent, len(runs))} drill(s)</summary>"
            "<table><thead><tr><th>started</th><th>verdict</th><th class='num'>RTO s</th>"
            "<th class='num'>RPO s</th><th class='num'>backup window s</th>"
            "<th class='num'>restore s</th><th class='num'>RPO messages</th><th>seed</th>"
            "<th></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></details></section>"
        )
    parts.append("<footer>firedrill · generated from drills.jsonl</footer></main>")
    return page("firedrill trends", "\n".join(parts), TREND_CSS)


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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


__all__ = [
    "HISTORY_FILE",
    "METRICS",
    "Regression",
    "TrendEntry",
    "append_history",
    "entry_from_report",
    "find_regressions",
    "load_history",
    "trend_table",
    "write_trend_html",
]
