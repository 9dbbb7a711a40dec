"""A manifest is validated whole before any comparison: a bad record is one error, FILE:LINE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ManifestError
from harness.manifest import FORMAT, VERSION, summarize, validate_manifest

HEADER = {"manifest": FORMAT, "version": VERSION, "root": "/x", "created": 0.0, "firedrill": "t"}
RECORDS: list[dict[str, object]] = [
    {"t": "msg", "id": "00aa", "size": 10, "sha256": "d1", "h": "<a@x>"},
    {"t": "msg", "id": "00bb", "size": 20, "sha256": "d2", "h": "<b@x>"},
    {"t": "row", "k": ["1000", "INBOX", 1], "m": "00aa", "f": ""},
    {"t": "row", "k": ["1000", "INBOX", 2], "m": "00bb", "f": "S"},
    {"t": "acct", "id": "1", "entry": {"address": "a@example.com"}},
    {"t": "conf", "k": "/*/mss/checkpointSeconds", "v": "30"},
    {"t": "spool", "q": "q1", "h": "<c@x>", "to": ["a@example.com"]},
]
END = {"t": "end", "counts": {"msg": 2, "row": 2, "acct": 1, "conf": 1, "spool": 1}}


def _lines(records: list[dict[str, object]] | None = None, end: object = END) -> list[str]:
    body = RECORDS if records is None else records
    return [json.dumps(r) for r in (HEADER, *body, end)]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _replace(line: int, text: str) -> list[str]:
    """The valid manifest with its line number `line` (1-based, header is 1) replaced."""
    lines = _lines()
    lines[line - 1] = text
    return lines


def _record(index: int, **change: object) -> dict[str, object]:
    record = dict(RECORDS[index])
    for key, value in change.items():
        if value is None:
            del record[key]
        else:
            record[key] = value
    return record


def test_a_valid_manifest_passes_and_summarizes(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", _lines())
    validate_manifest(path)
    summary = summarize(path)
    assert summary.messages == {"00aa", "00bb"} and summary.accounts == {"1"}
    assert summary.spool_header_ids == ["<c@x>"]


BAD: list[tuple[str, list[str], str]] = [
    ("first record not json", _replace(2, "{not json"), ":2: not JSON"),
    ("middle record not json", _replace(5, '{"t": "row", "k": ['), ":5: not JSON"),
    (
        "field missing",
        _replace(3, json.dumps(_record(1, size=None))),
        ":3: msg record without 'size'",
    ),
    (
        "field of the wrong type",
        _replace(2, json.dumps(_record(0, size="10"))),
        ":2: msg record: 'size' is str, not int",
    ),
    ("not an object", _replace(6, "[1, 2]"), ":6: a record is a JSON object, not list"),
    ("unknown type", _replace(7, json.dumps({"t": "blob"})), ":7: unknown record type 'blob'"),
    (
        "row key malformed",
        _replace(4, json.dumps(_record(2, k=["1000", 1]))),
        ":4: row record: 'k' is ['1000', 1]",
    ),
    (
        "section out of order",
        _lines([RECORDS[0], RECORDS[2], RECORDS[1], *RECORDS[3:]]),
        ":4: a msg record after the row section",
    ),
    (
        "keys out of order",
        _lines([RECORDS[1], RECORDS[0], *RECORDS[2:]]),
        ":3: msg records out of key order",
    ),
    (
        "end counts disagree",
        _lines(RECORDS[1:], END),
        ":8: the end record counts 2 msg record(s), the manifest holds 1",
    ),
    ("record after the end", [*_lines(), json.dumps(RECORDS[0])], ":10: a record after the end"),
    ("truncated", _lines()[:-1], " is truncated (no end record)"),
    ("torn last line", [*_lines()[:-1], '{"t": "en'], ":9: not JSON"),
]


@pytest.mark.parametrize(("lines", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_record_anywhere_is_one_error_naming_file_and_line(
    lines: list[str], message: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "m.jsonl", lines)
    with pytest.raises(ManifestError) as caught:
        validate_manifest(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text, text
    assert "\n" not in text


def test_a_header_that_is_not_a_manifest_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", ['{"manifest": "other", "version": 1}', json.dumps(END)])
    with pytest.raises(ManifestError, match="not a firedrill manifest"):
        validate_manifest(path)
