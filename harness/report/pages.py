"""The jinja2 environment of firedrill's HTML pages (report.html and trend.html): the
templates in harness/report/templates/, both extending base.html (the page shell and the
shared CSS).

Escaping is the environment's job, not each call site's: autoescape is on for every template,
so every value a template prints is escaped; no template marks text safe (`|safe`) and no
module builds markup (`Markup`), which tests/unit/test_report_html.py holds. Undefined names
are errors (StrictUndefined), so a template that asks for what it was not given fails loudly
instead of printing nothing.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from harness.report import model
from harness.report.svg import num


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = num
    env.filters["seconds"] = model.seconds
    env.filters["iso"] = model.iso
    env.filters["plural"] = plural
    return env


def plural(n: int, word: str) -> str:
    """`1 drill`, `2 drills`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def render(template: str, **context: Any) -> str:
    """A page from its template, every value escaped."""
    return environment().get_template(template).render(**context)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` at `path` so that a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
