"""report.json: a drill's record and its judgement, the one file every reader loads.

    {"format": "firedrill-report", "version": 2, "record": {...}, "judgement": {...}}

(a sequence's report holds a `sequence` record instead of a drill's `record`).

`DrillReport.to_json()` writes it and `DrillReport.from_json()` reads it back: the document is
validated against the JSON Schema (harness/report/report.schema.json, the contract), turned
into the typed record and judgement, and the judgement is checked to be `judge(record)` (so no
reader can show a verdict its record does not give). `load_report` reads a report directory (or its
report.json); a report of the older format 1 is refused in one line (`OlderReport`), and so is
anything else that is not a report (`ReportError`, never another exception): `parse_json` refuses
numbers JSON does not have (NaN, infinities) and nesting too deep to read. The
runner saves the report after every phase (`save`, atomically), so a killed drill leaves a
readable partial one.
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import berkeleydb
import cattrs
from berkeleydb import db
from cattrs.v import format_exception

from harness import __version__
from harness.drill.record import DrillRecord
from harness.drill.sequence_record import SequenceRecord, judge_sequence
from harness.drill.verdict import Judgement, judge
from harness.errors import FiredrillError
from harness.report.schema import validate

FORMAT = "firedrill-report"
VERSION = 2
REPORT_NAME = "report.json"


class ReportError(FiredrillError):
    """A report that cannot be read: missing, not JSON, not firedrill's, not valid."""


class OlderReport(ReportError):
    """A report written in an earlier format than this firedrill reads."""


def versions() -> tuple[tuple[str, str], ...]:
    """What ran the drill: firedrill, Python, the Berkeley DB binding and library, the OS."""
    return (
        ("firedrill", __version__),
        ("python", platform.python_version()),
        ("berkeleydb", berkeleydb.__version__),
        ("libdb", ".".join(str(n) for n in db.version())),
        ("platform", platform.platform()),
    )


@dataclass(frozen=True, slots=True)
class DrillReport:
    """A drill's record and the judgement of it."""

    record: DrillRecord
    judgement: Judgement

    @classmethod
    def of(cls, record: DrillRecord) -> DrillReport:
        """The report of a record, judged now."""
        return cls(record, judge(record))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "record": self.record.to_json(),
            "judgement": self.judgement.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "report") -> DrillReport:
        """Raises OlderReport for format 1, ReportError for anything else that is not a valid
        format 2 drill report (naming `source` and the first problem)."""
        record, judgement = _read(data, source, "record", DrillRecord)
        _follows(judgement, judge(record), source)
        return cls(record, judgement)


@dataclass(frozen=True, slots=True)
class SequenceReport:
    """A sequence run's record and the judgement of it (report.json with a `sequence`)."""

    record: SequenceRecord
    judgement: Judgement

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "sequence": self.record.to_json(),
            "judgement": self.judgement.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "report") -> SequenceReport:
        record, judgement = _read(data, source, "sequence", SequenceRecord)
        _follows(judgement, judge_sequence(record), source)
        return cls(record, judgement)


R = TypeVar("R", DrillRecord, SequenceRecord)


def _read(data: Any, source: str, key: str, kind: type[R]) -> tuple[R, Judgement]:
    """The record under `key` and the judgement of a valid format 2 report."""
    try:
        _valid(data, source)
        if key not in data:
            other = "a sequence" if key == "record" else "a drill"
            raise ReportError(f"{source}: the report of {other}, not of a {_WHAT[key]}")
        record = _structured(kind, data[key], source, f"report.{key}")
        return record, _structured(Judgement, data["judgement"], source, "report.judgement")
    except RecursionError:  # a value nested deeper than the schema allows, quoted in a message
        raise ReportError(f"{source}: not a valid report: nested too deeply") from None


J = TypeVar("J", DrillRecord, SequenceRecord, Judgement)


def _structured(kind: type[J], data: Any, source: str, where: str) -> J:
    """`kind.from_json(data)`; ReportError naming the first field that does not fit."""
    try:
        return kind.from_json(data)
    except (cattrs.BaseValidationError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise ReportError(f"{source}: not a valid report: {_first(exc, where)}") from None


_WHAT = {"record": "drill", "sequence": "sequence"}


def _follows(stored: Judgement, again: Judgement, source: str) -> None:
    """The verdict is a pure function of the record: a stored judgement that is not the
    record's judgement (an edited report, or one another firedrill judged differently) would
    let the outputs disagree, so it is refused."""
    if stored == again:
        return
    what = (
        f"verdict {stored.verdict.value}, judged again {again.verdict.value}"
        if stored.verdict is not again.verdict
        else "its findings, losses, metrics or targets differ from the record's"
    )
    raise ReportError(
        f"{source}: its judgement does not follow from its record ({what}): "
        "edited, or judged by another firedrill"
    )


def _valid(data: Any, source: str) -> None:
    """Raise OlderReport or ReportError unless `data` is a valid format 2 report."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReportError(f"{source}: not a firedrill report")
    if data.get("version") != VERSION:
        raise OlderReport(
            f"{source}: a report of format {data.get('version')!r}; this firedrill "
            f"({__version__}) reads format {VERSION}: run the drill again (firedrill replay "
            "runs it from its scenario)"
        )
    problems = validate(data)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ReportError(f"{source}: not a valid report: {problems[0]}{more}")


def _first(exc: Exception, where: str) -> str:
    """The first problem of a structuring error, in the words of what raised it (a finding's
    `unknown finding kind 'x'`, not cattrs' `invalid value for type`), with the field's path."""
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc, where, _described)[:1])
    return f"{_described(exc, None)} @ {where}"


def _described(exc: BaseException, kind: type | None) -> str:
    if isinstance(exc, ValueError | ArithmeticError | FiredrillError) and str(exc):
        return str(exc)
    return format_exception(exc, kind)


def save(report_dir: Path, report: DrillReport | SequenceReport) -> Path:
    """Write report.json in `report_dir` (atomically: a reader never sees half of it)."""
    path = report_dir / REPORT_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def parse_json(text: str) -> Any:
    """A JSON document as firedrill reads every file it did not just write: ValueError (one
    line) for a number that is not finite (the `NaN` and `Infinity` tokens Python's json would
    accept, a literal too big for a float such as 1e999) and for nesting too deep to read."""
    try:
        return json.loads(text, parse_constant=_not_a_number, parse_float=_finite)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _not_a_number(token: str) -> float:
    raise ValueError(f"{token} is not a number JSON allows")


def _finite(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"{token} is too big for a number")
    return value


def read_json(where: Path) -> tuple[Path, Any]:
    """A report directory or its report.json -> (report.json's path, its JSON document)."""
    path = where / REPORT_NAME if where.is_dir() else where
    if not path.is_file():
        raise ReportError(f"no report at {path}")
    try:
        return path, parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: not a readable report: {exc}") from None


def load_report(where: Path) -> tuple[Path, DrillReport]:
    """A drill's report directory or its report.json -> (the directory, the report).
    ReportError (one line) when there is none or it cannot be read."""
    path, data = read_json(where)
    return path.parent, DrillReport.from_json(data, source=str(path))


def load_any(where: Path) -> tuple[Path, DrillReport | SequenceReport]:
    """A drill's or a sequence's report -> (the directory, the report)."""
    path, data = read_json(where)
    if isinstance(data, dict) and "sequence" in data:
        return path.parent, SequenceReport.from_json(data, source=str(path))
    return path.parent, DrillReport.from_json(data, source=str(path))
