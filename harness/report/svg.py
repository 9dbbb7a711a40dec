"""Small helpers for the self-contained HTML pages: escaping, axis ticks, the page shell."""

from __future__ import annotations

import html
import math
from typing import Any


def e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def num(value: float) -> str:
    """A coordinate: short, no exponent."""
    return f"{value:.1f}".rstrip("0").rstrip(".") if value == value else "0"


def ticks(maximum: float, count: int = 8) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1, 2 or 5 times a power of ten apart)."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def tick_label(value: float) -> str:
    return f"{value:g}"


CSS_BASE = """
:root { --pass: #1a7f37; --fail: #cf222e; --unknown: #9a6700; --unknown-bg: #f2cc60;
  --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --allowed: #0969da;
  --leak: #8250df; --warning: #9a6700; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans",
  Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 0 24px 48px; }
.table-wrap { overflow-x: auto; }
h1, h2, h3 { line-height: 1.2; margin: 0; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 6px; }
p { margin: 6px 0; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo,
  Consolas, monospace; font-size: 13px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; overflow-x: auto; white-space: pre-wrap; word-break: break-word;
  max-height: 480px; margin: 6px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
  border-bottom: 1px solid var(--line); }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted);
  font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; color: #fff; white-space: nowrap; margin: 1px 2px 1px 0; }
.b-violation, .b-fail, .b-failed, .b-missed { background: var(--fail); }
.b-allowed { background: var(--allowed); }
.b-leak { background: var(--leak); }
.b-warning, .b-unknown, .b-error, .b-unmeasured { background: var(--unknown); }
.b-pass, .b-passed, .b-met { background: var(--pass); }
.b-skipped, .b-none { background: #818b98; }
details > summary { cursor: pointer; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  pre { max-height: none; overflow: visible; }
  h2 { break-after: avoid; }
  svg, tr, .card, .check, .chart { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  details > summary { list-style: none; }
  details::details-content { content-visibility: visible; display: contents; }
  a { color: inherit; text-decoration: none; }
  .noprint { display: none; }
}
"""

PRINT_SCRIPT = (
    "<script>addEventListener('beforeprint',function(){"
    "document.querySelectorAll('details').forEach(function(d){d.open=true;});});</script>"
)
"""Inline, no network: open every collapsed section before printing."""


def page(title: str, body: str, css: str = "") -> str:
    """A complete, self-contained HTML document."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="firedrill">\n'
        f"<title>{e(title)}</title>\n<style>{CSS_BASE}{css}</style>\n</head>\n"
        f"<body>\n{body}\n{PRINT_SCRIPT}\n</body>\n</html>\n"
    )
