"""report.html: one self-contained page a person reads in ten seconds (no external scripts,
fonts or styles; charts are inline SVG; every value from the report is escaped).

From the top: the verdict banner (id `verdict`) with the one-line reason, the headline
numbers against their targets, the checklist (the same checks as junit.xml), the phase timeline
(SVG id `timeline`: one `rect.phase` per phase, the disaster as `line.disaster`, the backup's
consistency point, and the RPO and RTO spans), the findings grouped by kind, the lost
operations, what came back, the disaster and recovery details, the procedures' output and the
run's versions and paths.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.report import model
from harness.report.checks import Check, checks
from harness.report.model import Measure, Report
from harness.report.svg import e, num, page, tick_label, ticks

LONG_LIST = 10
"""Lists longer than this are collapsed in a <details>."""

CSS = """
.banner { color: #fff; padding: 22px 0 18px; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
.banner.pass { background: var(--pass); }
.banner.fail { background: var(--fail); }
.banner.unknown { background: var(--unknown-bg); color: #1f2328; }
.banner .top { display: flex; gap: 24px; align-items: flex-start; justify-content: space-between;
  flex-wrap: wrap; }
.banner .word { font-size: 44px; font-weight: 800; letter-spacing: .04em; line-height: 1; }
.banner h1 { font-size: 26px; margin-top: 8px; }
.banner .desc { font-size: 16px; opacity: .95; }
.banner .headline { font-size: 18px; font-weight: 600; margin-top: 12px; }
.banner .reasons { margin: 6px 0 0; padding-left: 20px; font-size: 14px; }
.banner .meta { font-size: 13px; text-align: right; opacity: .95; line-height: 1.6; }
.banner .meta b { font-weight: 600; }
.error-box { border: 2px solid var(--unknown); background: #fff8c5; border-radius: 6px;
  padding: 10px 14px; margin-top: 16px; }
.cards { display: grid; gap: 12px; margin-top: 20px;
  grid-template-columns: repeat(auto-fit, minmax(min(200px, 100%), 1fr)); }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fff; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); font-weight: 600; }
.card .value { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .value .unit { font-size: 15px; font-weight: 600; color: var(--muted); }
.card .target { font-size: 13px; color: var(--muted); min-height: 1.4em; }
.card.missed { border-color: var(--fail); box-shadow: inset 4px 0 0 var(--fail); }
.card.met { box-shadow: inset 4px 0 0 var(--pass); }
.card.unmeasured { box-shadow: inset 4px 0 0 var(--unknown); }
.checks { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(340px, 100%), 1fr));
  gap: 4px 18px; margin: 0; padding: 0; list-style: none; }
.check { display: flex; gap: 8px; align-items: baseline; padding: 3px 0; }
.check .icon { flex: none; width: 20px; height: 20px; border-radius: 50%; color: #fff;
  font-weight: 700; font-size: 13px; display: inline-flex; align-items: center;
  justify-content: center; position: relative; top: 3px; }
.check.passed .icon { background: var(--pass); }
.check.failed .icon { background: var(--fail); }
.check.error .icon { background: var(--unknown); }
.check.skipped .icon { background: #818b98; }
.check.warn .icon { background: var(--unknown); }
.check.warn .why { color: var(--unknown); }
.check .why { color: var(--muted); font-size: 13px; }
.check.failed .name { font-weight: 600; color: var(--fail); }
#timeline { width: 100%; height: auto; display: block; }
#timeline text.dur, #timeline text.span-label { paint-order: stroke; stroke: #f6f8fa;
  stroke-width: 4px; stroke-linejoin: round; }
.legend { font-size: 13px; color: var(--muted); }
.legend span { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  vertical-align: -1px; margin-right: 4px; }
.ids { margin: 4px 0 8px; padding-left: 18px; font-size: 13px; }
.ids li { margin: 1px 0; }
td.kind b { white-space: nowrap; }
tr.group-violation td:first-child { box-shadow: inset 3px 0 0 var(--fail); }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 14px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
.two { display: grid; gap: 8px 32px;
  grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); }
@media print {
  .banner { padding: 12px 0; }
  .checks { grid-template-columns: 1fr 1fr; }
}
"""

_ICONS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "–"}
_WORDS = {"pass": "PASS", "fail": "FAIL", "unknown": "UNKNOWN"}


def render_html(report: Report, report_path: Path | str | None = None) -> str:
    """The whole page as a string."""
    results = checks(report)
    parts = [
        _banner(report, results),
        "<main>",
        _error(report),
        _cards(report),
        _checklist(results),
        _timeline_section(report),
        _findings(report),
        _lost(report),
        _came_back(report),
        _disaster(report),
        _outputs(report),
        _run(report, report_path),
        "</main>",
    ]
    verdict = model.verdict(report)
    title = f"{_WORDS[verdict]} — {model.scenario_name(report)} — firedrill"
    body = "\n".join(p for p in parts if p)
    # Wide tables scroll sideways on a phone (every "<table>" here is ours: report text is escaped).
    body = body.replace("<table>", '<div class="table-wrap"><table>').replace(
        "</table>", "</table></div>"
    )
    return page(title, body, CSS)


def write_html(report: Report, path: Path) -> None:
    """Write report.html for `report` at `path` (atomically); report.json is beside it."""
    text = render_html(report, path.with_name("report.json").absolute())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- banner ----------------------------------------------------------------------------------


def _banner(report: Report, results: list[Check]) -> str:
    verdict = model.verdict(report)
    scenario = model.scenario(report)
    versions = model.section(report, "versions")
    reasons = [str(r) for r in report.get("reasons") or []]
    reason_items = ""
    if verdict == "fail" and len(reasons) > 2:
        shown = reasons[:5]
        more = f"<li>… and {len(reasons) - 5} more (see Findings)</li>" if len(reasons) > 5 else ""
        reason_items = (
            '<ul class="reasons">' + "".join(f"<li>{e(r)}</li>" for r in shown) + more + "</ul>"
        )
    failed = sum(c.status == "failed" for c in results)
    passed = sum(c.status == "passed" for c in results)
    tag = f"{passed} of {len(results)} checks passed" + (f", {failed} failed" if failed else "")
    meta = [
        ("started", model.iso(model.started(report))),
        ("duration", model.seconds(model.duration(report), digits=1)),
        ("seed", report.get("seed", "—")),
        ("backend", report.get("backend", "—")),
        ("firedrill", versions.get("firedrill", "—")),
    ]
    category = str(scenario.get("category") or "")
    kind = model.section(scenario, "disaster").get("kind", "")
    procedure = model.section(scenario, "backup").get("procedure", "")
    what = " · ".join(
        str(x) for x in (category, kind, f"procedure {procedure}" if procedure else "") if x
    )
    return (
        f'<header id="verdict" class="banner {e(verdict)}" data-verdict="{e(verdict)}">'
        '<div class="wrap"><div class="top"><div>'
        f'<div class="word">{e(_WORDS[verdict])}</div>'
        f"<h1>{e(model.scenario_name(report))}</h1>"
        f'<div class="desc">{e(scenario.get("description", ""))}</div>'
        f'<div class="desc">{e(what)}</div>'
        "</div>"
        '<div class="meta">'
        + "<br>".join(f"{e(k)} <b>{e(v)}</b>" for k, v in meta)
        + f"<br><b>{e(tag)}</b></div></div>"
        f'<div class="headline">{e(model.headline(report))}</div>{reason_items}'
        "</div></header>"
    )


def _error(report: Report) -> str:
    error = report.get("error")
    if not error:
        return ""
    trace = report.get("traceback")
    body = f"<p><b>The drill stopped:</b> {e(error)}</p>"
    if trace:
        body += f"<details><summary>traceback</summary><pre>{e(trace)}</pre></details>"
    return f'<div class="error-box">{body}</div>'


# -- headline numbers --------------------------------------------------------------------------


def _gauge(m: Measure) -> str:
    """A bar: the value against its target (the tick)."""
    if m.value is None or m.target is None:
        return ""
    top = max(m.value, m.target) * 1.15 or 1.0
    width = 200.0
    value_w = width * m.value / top
    target_x = width * m.target / top
    color = "var(--fail)" if m.status == "missed" else "var(--pass)"
    return (
        f'<svg class="gauge" viewBox="0 0 {num(width)} 14" width="100%" height="14" role="img" '
        f'aria-label="{e(m.label)} {e(m.text())} against target {e(m.target_text())}">'
        f'<rect x="0" y="3" width="{num(width)}" height="8" rx="2" fill="#eaeef2"/>'
        f'<rect x="0" y="3" width="{num(value_w)}" height="8" rx="2" fill="{color}"/>'
        f'<line x1="{num(target_x)}" y1="0" x2="{num(target_x)}" y2="14" stroke="#1f2328" '
        'stroke-width="2"/></svg>'
    )


def _cards(report: Report) -> str:
    recovery = model.scenario(report).get("recovery_action")
    cards = []
    for m in model.measures(report):
        if m.key == "rpo_messages" and m.target is None and m.value is None:
            continue
        if m.status == "met":
            target = f"target {e(m.target_text())} · met"
        elif m.status == "missed":
            enforced = "" if m.enforced else " (not enforced)"
            target = f"target {e(m.target_text())} · <b>missed</b>{enforced}"
        elif m.status == "unmeasured":
            target = f"target {e(m.target_text())} · not measured"
        elif m.key == "restore_seconds" and recovery == "restart":
            target = "restart through the logs, no restore"
        elif m.key.startswith("rpo") and recovery == "restart":
            target = "no restore: nothing may be lost"
        else:
            target = "no target set"
        cards.append(
            f'<div class="card {e(m.status)}" data-metric="{e(m.key)}">'
            f'<div class="label">{e(m.label)}</div><div class="value">{_value(m)}</div>'
            f'<div class="target">{target}</div>{_gauge(m)}</div>'
        )
    return '<section class="cards" aria-label="headline numbers">' + "".join(cards) + "</section>"


def _value(m: Measure) -> str:
    if m.value is None:
        return "—"
    if m.unit == "messages":
        n = int(m.value)
        return f'{n} <span class="unit">message{"s" if n != 1 else ""}</span>'
    return e(m.text())


_STATUS_ORDER = {"failed": 0, "error": 1, "passed": 2, "skipped": 3}


def _checklist(results: list[Check]) -> str:
    items = []
    for c in sorted(results, key=lambda c: _STATUS_ORDER[c.status]):
        why = c.message if c.status != "passed" or c.message else ""
        warn = " warn" if c.warn else ""
        icon = "!" if c.warn else _ICONS[c.status]
        items.append(
            f'<li class="check {e(c.status)}{warn}" data-status="{e(c.status)}">'
            f'<span class="icon" aria-label="{e(c.status)}">{icon}</span>'
            f'<span><span class="name">{e(c.name)}</span>'
            + (f'<br><span class="why">{e(_short(why, 160))}</span>' if why else "")
            + "</span></li>"
        )
    return '<h2>Checks</h2><ul class="checks">' + "".join(items) + "</ul>"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- timeline ----------------------------------------------------------------------------------

_PHASE_COLORS = {
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
    "verdict": "#4d2d00",
}


def timeline_svg(report: Report) -> str:
    """The Gantt chart of the phases, with the disaster, the consistency point, RPO and RTO."""
    phases = model.phases(report)
    fault = model.fault_time(report)
    point = model.point_time(report)
    rto = model.metric(report, "rto_seconds")
    restored = model.scenario(report).get("recovery_action") == "restore"
    rpo_span = (point, fault) if restored and point is not None and fault is not None else None
    struck = model.struck_time(report)
    rto_span = (struck, struck + rto) if struck is not None and rto is not None else None
    end = max([model.duration(report), fault or 0.0, *(s[1] for s in (rpo_span, rto_span) if s)])
    scale = ticks(end, 10)
    top_value = scale[-1] if scale[-1] > 0 else 1.0

    left, right, row_h, head = 180.0, 1080.0, 24.0, 46.0
    spans = [s for s in (("RPO", rpo_span), ("RTO", rto_span)) if s[1] is not None]
    height = head + row_h * (len(phases) + len(spans)) + 34.0
    plot_bottom = height - 26.0

    def x(t: float) -> float:
        return left + (right - left) * max(0.0, t) / top_value

    out = [
        f'<svg id="timeline" viewBox="0 0 1100 {num(height)}" role="img" '
        f'aria-label="phase timeline of the drill" xmlns="http://www.w3.org/2000/svg">',
        f'<rect class="plot" x="{num(left)}" y="{num(head - 6)}" width="{num(right - left)}" '
        f'height="{num(plot_bottom - head + 6)}" fill="#f6f8fa"/>',
    ]
    for t in scale:
        out.append(
            f'<line class="grid" x1="{num(x(t))}" y1="{num(head - 6)}" x2="{num(x(t))}" '
            f'y2="{num(plot_bottom)}" stroke="#d1d9e0" stroke-width="1"/>'
            f'<text x="{num(x(t))}" y="{num(plot_bottom + 16)}" font-size="12" fill="#59636e" '
            f'text-anchor="middle">{e(tick_label(t))} s</text>'
        )
    for i, p in enumerate(phases):
        y = head + i * row_h
        unfinished = p.end is None
        stop = p.end if p.end is not None else end
        w = max(2.0, x(stop) - x(p.start))
        color = "#cf222e" if p.error else _PHASE_COLORS.get(p.name, "#6e7781")
        label = model.seconds(p.duration) if p.duration is not None else "did not finish"
        title = f"{p.name}: {p.start:.2f} s → " + (
            f"{p.end:.2f} s ({label})" if p.end is not None else "did not finish"
        )
        if p.error:
            title += f" — {p.error}"
            label += " — failed"
        out.append(
            f'<text x="{num(left - 8)}" y="{num(y + 15)}" font-size="13" text-anchor="end" '
            f'fill="{"#cf222e" if p.error else "#1f2328"}">{e(p.name)}</text>'
            f'<rect class="phase" data-phase="{e(p.name)}" x="{num(x(p.start))}" '
            f'y="{num(y + 3)}" width="{num(w)}" height="{num(row_h - 7)}" rx="2" fill="{color}"'
            + (' fill-opacity="0.45" stroke-dasharray="4 2" stroke="#1f2328"' if unfinished else "")
            + f"><title>{e(title)}</title></rect>"
        )
        lx = x(p.start) + w + 6
        anchor = "start"
        if lx > right - 60:
            lx, anchor = x(p.start) - 6, "end"
        out.append(
            f'<text class="dur" x="{num(lx)}" y="{num(y + 15)}" font-size="12" fill="#59636e" '
            f'text-anchor="{anchor}">{e(label)}</text>'
        )
    for j, (name, span) in enumerate(spans):
        assert span is not None
        y = head + (len(phases) + j) * row_h
        a, b = x(span[0]), x(span[1])
        color = "#0969da" if name == "RPO" else "#bc4c00"
        value = model.metric(report, "rpo_seconds" if name == "RPO" else "rto_seconds")
        text = f"{name} {model.seconds(value)}"
        if name == "RPO":
            text += " (backup point → disaster: what may be lost)"
        else:
            text += " (disaster → clients served again)"
        out.append(
            f'<text x="{num(left - 8)}" y="{num(y + 15)}" font-size="13" font-weight="700" '
            f'text-anchor="end" fill="{color}">{name}</text>'
            f'<rect class="span span-{name.lower()}" x="{num(a)}" y="{num(y + 8)}" '
            f'width="{num(max(2.0, b - a))}" height="6" fill="{color}"/>'
            f'<line x1="{num(a)}" y1="{num(y + 4)}" x2="{num(a)}" y2="{num(y + 18)}" '
            f'stroke="{color}" stroke-width="2"/>'
            f'<line x1="{num(b)}" y1="{num(y + 4)}" x2="{num(b)}" y2="{num(y + 18)}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        tx, anchor = (b + 6, "start") if b < right - 330 else (a - 6, "end")
        out.append(
            f'<text class="span-label" x="{num(tx)}" y="{num(y + 15)}" font-size="12" '
            f'fill="{color}" text-anchor="{anchor}">{e(text)}</text>'
        )
    if point is not None:
        px = x(point)
        anchor = "end" if px > left + 160 else "start"
        tx = px - 6 if anchor == "end" else px + 6
        out.append(
            f'<line class="point" x1="{num(px)}" y1="{num(head - 20)}" x2="{num(px)}" '
            f'y2="{num(plot_bottom)}" stroke="#0969da" stroke-width="2" stroke-dasharray="5 3">'
            f"<title>backup consistency point at {point:.2f} s</title></line>"
            f'<text x="{num(tx)}" y="{num(head - 10)}" font-size="12" fill="#0969da" '
            f'text-anchor="{anchor}">backup consistency point {e(f"{point:.1f}")} s</text>'
        )
    if fault is not None:
        kind = model.section(report, "fault").get("kind", "disaster")
        fx = x(fault)
        anchor = "start" if fx < right - 280 else "end"
        tx = fx + 6 if anchor == "start" else fx - 6
        out.append(
            f'<line id="disaster" class="disaster" x1="{num(fx)}" y1="{num(4)}" '
            f'x2="{num(fx)}" y2="{num(plot_bottom)}" stroke="#cf222e" stroke-width="3">'
            f"<title>disaster ({e(kind)}) at {fault:.2f} s</title></line>"
            f'<text x="{num(tx)}" y="{num(16)}" font-size="13" font-weight="700" '
            f'fill="#cf222e" text-anchor="{anchor}">⚡ disaster: {e(kind)} at '
            f"{e(f'{fault:.1f}')} s</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _timeline_section(report: Report) -> str:
    if not model.phases(report):
        return "<h2>Timeline</h2><p class='muted'>No phase was recorded.</p>"
    note = ""
    if model.fault_time(report) is None:
        note = "<p class='muted'>No disaster was struck: the drill stopped before it.</p>"
    legend = (
        '<p class="legend"><span><i class="swatch" style="background:#cf222e"></i>disaster'
        '</span><span><i class="swatch" style="background:#0969da"></i>backup and its '
        'consistency point</span><span><i class="swatch" style="background:#bc4c00"></i>RTO'
        '</span><span><i class="swatch" style="background:#8250df"></i>recovery</span>'
        "<span>seconds from the drill's start; hover a bar for its times</span></p>"
    )
    return f"<h2>Timeline</h2>{note}{timeline_svg(report)}{legend}"


# -- findings, lost operations, what came back ---------------------------------------------------


def _badges(pairs: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> str:
    return "".join(f'<span class="badge b-{e(c)}">{e(n)} {e(c)}</span>' for c, n in pairs)


def _findings(report: Report) -> str:
    findings = model.rows(report, "findings")
    if not findings:
        return "<h2>Findings</h2><p>No findings: every invariant holds.</p>"
    groups = model.group_findings(findings)
    total = Counter(model.classification(f) for f in findings)
    rows = []
    for g in groups:
        items = "".join(
            f"<li><code>{e(f.get('id', ''))}</code> {e(_detail(f))}"
            + (
                f' <span class="muted">— {e(f.get("reason"))}</span>'
                if f.get("reason") and model.classification(f) != "violation"
                else ""
            )
            + "</li>"
            for f in g.items
        )
        is_open = " open" if g.worst == "violation" and g.count <= LONG_LIST else ""
        inv = "—" if g.invariant is None else str(g.invariant)
        rows.append(
            f'<tr class="group-{e(g.worst)}" data-kind="{e(g.kind)}">'
            f'<td class="kind"><b>{e(g.kind)}</b>'
            f"<details{is_open}><summary>{g.count} id{'s' if g.count != 1 else ''}</summary>"
            f'<ul class="ids">{items}</ul></details></td>'
            f'<td class="num">{g.count}</td><td class="num">{e(inv)}</td>'
            f"<td>{_badges(g.classifications)}</td><td>{e(g.remedy)}</td></tr>"
        )
    summary = ", ".join(f"{n} {c}" for c, n in sorted(total.items(), key=lambda kv: -kv[1]))
    return (
        f"<h2>Findings <span class='muted'>({len(findings)}: {e(summary)})</span></h2>"
        "<table><thead><tr><th>kind</th><th class='num'>count</th><th class='num'>invariant</th>"
        "<th>classification</th><th>remedy</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        "<p class='muted'>allowed: lost after the backup's consistency point, as the scenario "
        "permits; violation: fails the drill; leak: space, not data; warning: disposable data.</p>"
    )


def _detail(finding: Mapping[str, Any]) -> str:
    subject = str(finding.get("id", ""))
    return str(finding.get("detail") or "").removeprefix(f"{subject}: ")


def _lost(report: Report) -> str:
    lost = model.rows(report, "lost_operations")
    if not lost:
        if report.get("check") is None:
            return ""
        return "<h2>Lost operations</h2><p>No acknowledged operation was lost.</p>"
    point = model.point_time(report)
    counts = Counter(str(x.get("classification")) for x in lost)
    rows = []
    for x in sorted(lost, key=lambda x: model.number(x.get("acknowledged_at")) or 0.0):
        at = model.relative(report, x.get("acknowledged_at"))
        when = "—" if at is None or not x.get("acknowledged_at") else f"{at:.2f} s"
        after = (
            f"{at - point:+.2f} s"
            if at is not None and point is not None and x.get("acknowledged_at")
            else "—"
        )
        rows.append(
            f"<tr><td class='num'>{e(x.get('op', ''))}</td><td>{e(x.get('kind', ''))}</td>"
            f"<td><code>{e(x.get('ids', ''))}</code></td><td class='num'>{e(when)}</td>"
            f"<td class='num'>{e(after)}</td>"
            f"<td>{_badges([(str(x.get('classification')), 1)]).replace('>1 ', '>')}</td>"
            f"<td class='muted'>{e(x.get('reason', ''))}</td></tr>"
        )
    table = (
        "<table><thead><tr><th class='num'>op</th><th>kind</th><th>ids</th>"
        "<th class='num'>acknowledged</th><th class='num'>vs backup point</th>"
        "<th>classification</th><th>reason</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
    summary = (
        f"{len(lost)} acknowledged operation{'s' if len(lost) != 1 else ''} lost: "
        + ", ".join(f"{n} {c}" for c, n in counts.most_common())
    )
    if len(lost) > LONG_LIST:
        body = f'<details id="lost"><summary>{e(summary)} — show all</summary>{table}</details>'
    else:
        body = f"<p>{e(summary)}</p>{table}"
    return f"<h2>Lost operations <span class='muted'>({len(lost)})</span></h2>{body}"


def _came_back(report: Report) -> str:
    items = model.rows(report, "came_back")
    if not items:
        return ""
    rows = []
    for x in items:
        back = x.get("back") is True
        expected = x.get("expected") is True
        status = "met" if back else ("missed" if expected else "none")
        word = "back" if back else ("NOT back" if expected else "not back (the backup lacked it)")
        rows.append(
            f"<tr><td>{e(x.get('kind', ''))}</td><td><code>{e(x.get('id', ''))}</code></td>"
            f"<td><code>{e(x.get('before', ''))}</code></td>"
            f'<td><span class="badge b-{status}">{e(word)}</span></td>'
            f"<td>{'yes' if expected else 'no'}</td></tr>"
        )
    returned = sum(1 for x in items if x.get("back") is True)
    return (
        f"<h2>What came back <span class='muted'>({returned} of {len(items)})</span></h2>"
        "<table><thead><tr><th>kind</th><th>id</th><th>before</th><th>after recovery</th>"
        "<th>in the backup</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


# -- details -------------------------------------------------------------------------------------


def _kv(pairs: list[tuple[str, Any]]) -> str:
    return (
        '<dl class="kv">'
        + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in pairs if v not in (None, ""))
        + "</dl>"
    )


def _disaster(report: Report) -> str:
    fault = model.section(report, "fault")
    backup = model.section(report, "backup")
    restore = model.section(report, "restore")
    m = model.section(report, "metrics")
    scenario = model.scenario(report)
    left = "<h3>Disaster</h3>"
    if fault:
        wall = model.number(fault.get("at"))
        damaged = ", ".join(f"{d.get('kind')} {d.get('id')}" for d in model.rows(fault, "damaged"))
        left += _kv(
            [
                ("kind", fault.get("kind")),
                ("at", f"{model.seconds(model.fault_time(report))} ({model.iso(wall)})"),
                ("what", fault.get("detail")),
                ("inflicting took", model.seconds(model.number(fault.get("inflict_seconds")))),
                ("destroyed", damaged),
                ("detected by", m.get("detected")),
                ("detection time", model.seconds(model.metric(report, "detection_seconds"))),
                ("recovery", scenario.get("recovery_action")),
            ]
        )
    else:
        left += "<p class='muted'>The drill stopped before the disaster.</p>"
    right = "<h3>Backup and restore</h3>"
    if backup or restore:
        right += _kv(
            [
                ("backup checked", _recovery_point(report)),
                ("backup procedure", backup.get("procedure")),
                (
                    "backup window",
                    model.seconds(model.number(backup.get("window_seconds"))) if backup else None,
                ),
                (
                    "consistency point",
                    f"{model.seconds(model.point_time(report))} ({backup.get('point_source')})"
                    if backup
                    else None,
                ),
                ("backup directory", backup.get("directory")),
                ("restore procedure", restore.get("procedure")),
                (
                    "restore time",
                    model.seconds(model.number(restore.get("seconds"))) if restore else None,
                ),
                ("spooled at backup", m.get("spooled_at_backup")),
                ("spooled, delivered after recovery", m.get("spooled_delivered_after_recovery")),
            ]
        )
    elif report.get("backup_interrupted"):
        right += f"<p class='muted'>No backup: {e(str(report['backup_interrupted']))}</p>"
    else:
        right += "<p class='muted'>No backup was taken.</p>"
    return (
        f"<h2>Disaster and recovery</h2><div class='two'><div>{left}</div><div>{right}</div></div>"
    )


def _recovery_point(report: Report) -> str | None:
    """Was the backup itself a clean recovery point (reports that checked it)?"""
    points = model.rows(report, "recovery_points")
    if not points:
        return None
    last = points[-1]
    if last.get("clean") is True:
        return "clean: the backup passes firedrill check"
    if last.get("clean") is False:
        found = [str(x) for x in last.get("findings") or []]
        first = f", first: {found[0]}" if found else ""
        more = "+" if len(found) >= 20 else ""
        return f"NOT clean: {len(found)}{more} violation(s) in the backup itself{first}"
    return f"could not be checked: {last.get('why', '')}"


def _outputs(report: Report) -> str:
    outputs = [
        ("backup procedure", model.section(report, "backup").get("output")),
        ("restore procedure", model.section(report, "restore").get("output")),
        ("failed procedure", report.get("procedure_output")),
    ]
    shown = [(name, str(text)) for name, text in outputs if text]
    if not shown:
        return "<h2>Procedure output</h2><p class='muted'>The procedures printed nothing.</p>"
    return "<h2>Procedure output</h2>" + "".join(
        f"<h3>{e(name)}</h3><pre>{e(text)}</pre>" for name, text in shown
    )


def operations_svg(report: Report) -> str:
    """The workload's operations by kind, ok / fail / unknown, as stacked bars."""
    ops = model.section(model.section(report, "metrics"), "operations")
    table: dict[str, Counter[str]] = {}
    for key, n in ops.items():
        kind, _, outcome = str(key).partition(":")
        if isinstance(n, int):
            table.setdefault(kind, Counter())[outcome or "ok"] += n
    if not table:
        return ""
    colors = {"ok": "#1a7f37", "fail": "#8c959f", "unknown": "#bf8700"}
    biggest = max(sum(c.values()) for c in table.values()) or 1
    left, width, row = 90.0, 220.0, 20.0
    height = row * len(table) + 8
    out = [
        f'<svg class="ops" viewBox="0 0 440 {num(height)}" role="img" '
        'aria-label="workload operations by outcome" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (kind, c) in enumerate(sorted(table.items(), key=lambda kv: -sum(kv[1].values()))):
        y = i * row + 4
        x = left
        out.append(
            f'<text x="{num(left - 8)}" y="{num(y + 13)}" font-size="12" text-anchor="end">'
            f"{e(kind)}</text>"
        )
        for outcome in ("ok", "fail", "unknown", *sorted(set(c) - {"ok", "fail", "unknown"})):
            n = c.get(outcome, 0)
            if not n:
                continue
            w = width * n / biggest
            out.append(
                f'<rect x="{num(x)}" y="{num(y + 2)}" width="{num(w)}" height="{num(row - 6)}" '
                f'fill="{colors.get(outcome, "#6e7781")}"><title>{e(kind)} {e(outcome)}: {n}'
                "</title></rect>"
            )
            x += w
        parts = ", ".join(f"{c[o]} {o}" for o in c if c[o])
        out.append(
            f'<text x="{num(x + 6)}" y="{num(y + 13)}" font-size="12" fill="#59636e">'
            f"{e(parts)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _run(report: Report, report_path: Path | str | None) -> str:
    versions = model.section(report, "versions")
    command = " ".join(str(a) for a in report.get("command") or [])
    paths = [
        ("report", str(report_path) if report_path else None),
        ("history", report.get("history")),
        ("logs", report.get("logs")),
        ("kept tree", report.get("kept_tree")),
        ("scenario file", model.scenario(report).get("path")),
    ]
    ops = operations_svg(report)
    return (
        "<h2>The run</h2><div class='two'><div><h3>Versions</h3>"
        + _kv([(k, v) for k, v in versions.items()])
        + "<h3>Command</h3>"
        + f"<pre>{e(command)}</pre></div><div><h3>Paths</h3>"
        + _kv(paths)
        + (f"<h3>Workload operations</h3>{ops}" if ops else "")
        + "</div></div>"
        + f"<footer>firedrill report format {e(report.get('version', '?'))} · "
        "generated from report.json</footer>"
    )
