"""The JSON Schema of report.json (draft 2020-12), checked into the repository beside this file.

`validate(report)` returns one message per problem (`path: message`), empty when the report is
valid. The schema describes format version 2 exactly: a field added to or dropped from a record
needs the schema changed with it, which `tests/unit/test_report_schema.py` enforces field by
field against the dataclasses.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import relevance

SCHEMA_NAME = "report.schema.json"


@cache
def schema() -> dict[str, Any]:
    """The schema as a dict (read once)."""
    text = resources.files("harness.report").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


MESSAGE_LIMIT = 200
"""Characters of a message kept (a message about the whole document quotes all of it)."""


def validate(report: Any) -> list[str]:
    """Every way `report` departs from the schema, as `where: message`, the most precise
    (deepest) first; [] when it is valid. An error of a `oneOf` (a phase that is null or an
    object, ...) is replaced by the cause inside the branch that fits best (`findings[45].op:
    None is not of type 'integer'`, not `verify: ... is not valid under any of the given
    schemas`)."""
    errors = sorted(
        (_cause(e) for e in _validator().iter_errors(report)),
        key=lambda e: (-len(e.absolute_path), [str(p) for p in e.absolute_path]),
    )
    return [f"{_where(list(e.absolute_path))}: {_message(e)}" for e in errors]


def _cause(error: ValidationError) -> ValidationError:
    """The real cause of `error`: down through `oneOf` and `anyOf` into the one branch the
    value fits best (leaving out a branch of another type: `null` for an object), its most
    relevant error (jsonschema's relevance: the deepest first), until an error has no branches
    or two branches fit equally well (then no one of them is the cause)."""
    while error.context:
        best: dict[object, ValidationError] = {}
        for e in sorted(error.context, key=relevance):
            if e.validator != "type" or e.relative_path:
                best.setdefault(e.relative_schema_path[0], e)  # the most relevant of its branch
        ranked = sorted(best.values(), key=relevance)
        if not ranked or (len(ranked) > 1 and relevance(ranked[0]) == relevance(ranked[1])):
            break
        error = ranked[0]
    return error


def _message(error: ValidationError) -> str:
    """The error's message; a big value it quotes (an object, a list) is named, not quoted."""
    message = error.message
    shown = repr(error.instance)
    if isinstance(error.instance, dict | list) and len(shown) > 60:
        message = message.replace(shown, f"the {type(error.instance).__name__}")
    if len(message) <= MESSAGE_LIMIT:
        return message
    return message[: MESSAGE_LIMIT - 1] + "…"


def _where(path: list[str | int]) -> str:
    where = "report"
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where
