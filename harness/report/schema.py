"""The JSON Schema of report.json (draft 2020-12), checked into the repository beside this file.

`validate(report)` returns one message per problem (`path: message`), empty when the report is
valid. The schema describes format version 1 exactly: a field the writer adds or drops needs the
schema changed with it, which `tests/unit/test_report_schema.py` enforces on sample reports.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

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


def validate(report: Any) -> list[str]:
    """Every way `report` departs from the schema, as `where: message`; [] when it is valid."""
    errors = sorted(_validator().iter_errors(report), key=lambda e: list(e.absolute_path))
    return [f"{_where(list(e.absolute_path))}: {e.message}" for e in errors]


def _where(path: list[str | int]) -> str:
    where = "report"
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where
