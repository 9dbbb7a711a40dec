"""The jinja2 environment of firedrill's HTML pages (report.html and trend.html): the
templates in harness/report/templates/, both extending base.html (the page shell and the
shared CSS).

Escaping is the environment's job, not each call site's: autoescape is on for every template,
so every value a template prints is escaped; no template marks text safe (`|safe`) and no
module builds markup (`Markup`), which tests/unit/test_report_html.py holds. Before it is
escaped, every text a template prints loses its control characters and lone surrogates
(`model.printable`: escaping leaves them raw bytes in the page). Undefined names are errors
(StrictUndefined), so a template that asks for what it was not given fails loudly instead of
printing nothing.

`write_together` writes a drill's pages (junit.xml and report.html) so that a reader sees the
old ones or the new ones, never half of one, and a failure leaves no temporary file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
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
        finalize=_printable,
    )
    env.filters["num"] = num
    env.filters["seconds"] = model.seconds
    env.filters["iso"] = model.iso
    env.filters["plural"] = plural
    return env


def _printable(value: Any) -> Any:
    """What a template prints, its text made printable (a macro's or an include's output,
    already made so and marked safe, is left alone: it is a str subclass, not a str)."""
    return model.printable(value) if type(value) is str else value


def plural(n: int, word: str) -> str:
    """`1 drill`, `2 drills`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def render(template: str, **context: Any) -> str:
    """A page from its template, every value escaped."""
    return environment().get_template(template).render(**context)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` at `path` so that a reader never sees half of it."""
    write_together({path: text})


def write_together(files: Mapping[Path, str]) -> None:
    """Write each text at its path: all to temporary files first, then each renamed over its
    path, so a failure while rendering or writing leaves every old file as it was (and removes
    the temporary ones). Text no encoding holds (a lone surrogate) is written as `?`."""
    temporary = {path: path.with_name(path.name + ".tmp") for path in files}
    try:
        for path, text in files.items():
            temporary[path].write_bytes(text.encode("utf-8", errors="replace"))
        for path, tmp in temporary.items():
            os.replace(tmp, path)
    finally:
        for tmp in temporary.values():
            with contextlib.suppress(OSError):  # gone already, or never written
                tmp.unlink()
