"""Numbers for the inline SVG charts of the HTML pages: coordinates and axis ticks.

The charts' geometry is computed in Python as plain data (harness/report/charts.py,
harness/report/trend_html.py) and drawn by the templates (harness/report/templates/), which
escape every value; nothing here builds markup.
"""

from __future__ import annotations

import math


def num(value: float) -> str:
    """A coordinate: short, no exponent (NaN, which no chart should have, as 0)."""
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
