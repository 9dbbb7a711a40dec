"""report.json's JSON Schema: the sample reports validate, broken ones say what is wrong, and
the schema names exactly the fields the writer (harness/drill/report.py) emits."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from harness.drill import report as writer
from harness.report.schema import schema, validate

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reports"
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if (p / "report.json").is_file())


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "report.json").read_text())
    return data


def test_the_samples_cover_pass_fail_restart_and_restore() -> None:
    reports = [load(n) for n in SAMPLES]
    assert {r["verdict"] for r in reports} >= {"pass", "fail"}
    assert {r["scenario"]["recovery_action"] for r in reports} == {"restart", "restore"}


def test_the_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_report_validates(name: str) -> None:
    assert validate(load(name)) == []


def _broken(change: str) -> dict[str, Any]:
    report = copy.deepcopy(load("fail-live-copy"))
    if change == "no verdict":
        del report["verdict"]
    elif change == "seed is text":
        report["seed"] = "one"
    elif change == "verdict unknown word":
        report["verdict"] = "maybe"
    elif change == "finding classification":
        report["findings"][0]["classification"] = "fine"
    elif change == "unknown field":
        report["colour"] = "red"
    elif change == "phase start text":
        report["timeline"][0]["start"] = "early"
    elif change == "metrics missing rto":
        del report["metrics"]["rto_seconds"]
    elif change == "wrong format":
        report["format"] = "other"
    return report


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ("no verdict", "report", "'verdict' is a required property"),
        ("seed is text", "report.seed", "is not of type 'integer'"),
        ("verdict unknown word", "report.verdict", "is not one of"),
        ("finding classification", "report.findings[0].classification", "is not one of"),
        ("unknown field", "report", "'colour' was unexpected"),
        ("phase start text", "report.timeline[0].start", "is not of type 'number'"),
        ("metrics missing rto", "report.metrics", "'rto_seconds' is a required property"),
        ("wrong format", "report.format", "'firedrill-report' was expected"),
    ],
)
def test_a_broken_report_says_where_and_what(change: str, where: str, words: str) -> None:
    errors = validate(_broken(change))
    assert any(e.startswith(f"{where}: ") and words in e for e in errors), errors


def test_not_an_object_at_all() -> None:
    assert validate([]) == ["report: [] is not of type 'object'"]


def test_a_drill_stopped_by_an_error_validates() -> None:
    """No judgement: unclassified findings, a phase without an end, unknown verdict."""
    report = copy.deepcopy(load("fail-procedure"))
    report["verdict"] = "unknown"
    report["error"] = "internal error: RuntimeError: boom"
    report["traceback"] = "Traceback (most recent call last): ..."
    report["timeline"][-1]["end"] = None
    for f in report["findings"]:
        del f["classification"], f["reason"]
    report["kept_tree"] = "/tmp/firedrill-default-x"
    assert validate(report) == []


def _literal_keys(function: str, variable: str | None) -> set[str]:
    """The keys of the dict literal a function of the writer returns (or assigns to variable)."""
    tree = ast.parse(Path(writer.__file__).read_text())
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    for node in ast.walk(func):
        value = None
        if isinstance(node, ast.Return) and variable is None:
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            value = node.value if node.target.id == variable else None
        if isinstance(value, ast.Dict):
            return {
                k.value
                for k in value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
    raise AssertionError(f"no dict literal in {function}")


def test_the_schema_names_every_field_the_writer_emits() -> None:
    """A field added to (or dropped from) write() needs the schema changed with it."""
    top = schema()
    assert set(top["properties"]) == _literal_keys("write", "report")
    # Fields added within format 1 are optional: reports written before them stay valid.
    assert set(top["required"]) <= set(top["properties"])
    assert set(top["required"]) >= set(load("pass-restart"))
    metrics = top["$defs"]["metrics"]
    assert set(metrics["required"]) == set(metrics["properties"]) == _literal_keys("metrics", None)
    assert top["properties"]["version"]["const"] == writer.FORMAT_VERSION


def test_fields_added_within_format_1_validate() -> None:
    report = copy.deepcopy(load("pass-restart"))
    report["recovery_points"] = [{"taken": 1795669168.18, "clean": True, "findings": []}]
    report["latest_clean_recovery_point"] = 1795669168.18
    report["procedure"] = "chapter13"
    assert validate(report) == []
    report["recovery_points"].append({"taken": 1.0, "clean": None, "why": "no tree to check"})
    assert validate(report) == []
    report["recovery_points"][0]["clean"] = "yes"
    assert validate(report) == [
        "report.recovery_points[0].clean: 'yes' is not of type 'boolean', 'null'"
    ]
