"""trend.html: a line chart per scenario and metric from drills.jsonl, regressions highlighted."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from harness.report import model
from harness.report.svg import e, num, page, tick_label, ticks
from harness.report.trend import LABELS, METRICS, Regression, TrendEntry, by_scenario

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
