"""Numbers for the inline SVG charts of the HTML pages: coordinates and axis ticks.

The charts' geometry is computed in Python as plain data (harness/report/charts.py,
harness/report/trend_html.py) and drawn by the templates (harness/report/templates/), which
escape every value; nothing here builds markup.
"""

from __future__ import annotations

import math

LARGEST = 1e9
"""Coordinates are kept within ±this (a value far off the chart is drawn at its edge)."""


def num(value: float) -> str:
    """A coordinate: short, no exponent (NaN, which no chart should have, as 0; infinity and
    other values far off the chart at ±LARGEST)."""
    if math.isnan(value):
        return "0"
    value = min(LARGEST, max(-LARGEST, value))
    return f"{value:.1f}".rstrip("0").rstrip(".")


SCALE = (1e-9, 1e15)
"""The smallest and the largest maximum a scale is drawn to (seconds; beyond, not a drill)."""


def ticks(maximum: float, count: int = 8) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1, 2 or 5 times a power of ten apart);
    [0, 1] for a maximum that is not positive (or not a number), at most SCALE[1]."""
    if not maximum > SCALE[0]:
        return [0.0, 1.0]
    maximum = min(maximum, SCALE[1])
    raw = maximum / max(1, count)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def tick_label(value: float) -> str:
    return f"{value:g}"
