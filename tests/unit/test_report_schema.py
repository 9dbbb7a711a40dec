"""report.json: the JSON Schema is the contract (the samples validate, broken ones say where and
what, the schema names exactly the fields of the records), the typed report round-trips every
field, the stored judgement is the judgement of the stored record, and a report of the older
format is refused in one line."""

from __future__ import annotations

import copy
import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from fixtures.populate import PopulationSummary
from harness.checker.findings import CheckError, Skipped
from harness.checker.run import CheckReport
from harness.checker.served import ServedReport
from harness.checker.tree_state import TreeComparison
from harness.drill import record as R
from harness.drill import verdict as V
from harness.drill.report import (
    VERSION,
    DrillReport,
    OlderReport,
    ReportError,
    SequenceReport,
    load_report,
)
from harness.drill.sequence_record import SequenceRecord, StepRecord
from harness.faults.came_back import CameBack
from harness.faults.kinds import KINDS
from harness.faults.record import Damaged, FaultRecord
from harness.faults.spec import Disaster
from harness.history import Stamp
from harness.procedures import BackupRecord, RestoreRecord
from harness.report.schema import schema, validate
from harness.scenarios import scenario as S
from tests.support.reports import sequence_sample

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reports"
OLDER = Path(__file__).parents[1] / "fixtures" / "reports-v1"
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if (p / "report.json").is_file())


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "report.json").read_text())
    return data


def test_the_samples_cover_pass_fail_restart_and_restore() -> None:
    reports = [load(n) for n in SAMPLES]
    assert {r["judgement"]["verdict"] for r in reports} >= {"pass", "fail"}
    actions = {r["record"]["scenario"]["recovery_action"] for r in reports}
    assert actions == {"restart", "restore"}


def test_the_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema()["properties"]["version"]["const"] == VERSION


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_report_validates(name: str) -> None:
    assert validate(load(name)) == []


def _broken(change: str) -> dict[str, Any]:
    report = copy.deepcopy(load("fail-live-copy"))
    record, judgement = report["record"], report["judgement"]
    if change == "no verdict":
        del judgement["verdict"]
    elif change == "seed is text":
        record["seed"] = "one"
    elif change == "verdict unknown word":
        judgement["verdict"] = "maybe"
    elif change == "finding classification":
        judgement["findings"][0]["classification"] = "fine"
    elif change == "unknown field":
        report["colour"] = "red"
    elif change == "phase start text":
        record["timeline"][0]["start"] = "early"
    elif change == "metrics missing rto":
        del judgement["metrics"]["rto_seconds"]
    elif change == "wrong format":
        report["format"] = "other"
    elif change == "moment without wall":
        del record["started"]["wall"]
    return report


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ("no verdict", "report.judgement", "'verdict' is a required property"),
        ("seed is text", "report.record.seed", "is not of type 'integer'"),
        ("verdict unknown word", "report.judgement.verdict", "is not one of"),
        (
            "finding classification",
            "report.judgement.findings[0].classification",
            "is not one of",
        ),
        ("unknown field", "report", "'colour' was unexpected"),
        ("phase start text", "report.record.timeline[0].start", "is not of type 'number'"),
        ("metrics missing rto", "report.judgement.metrics", "'rto_seconds' is a required"),
        ("wrong format", "report.format", "'firedrill-report' was expected"),
        ("moment without wall", "report.record.started", "'wall' is a required property"),
    ],
)
def test_a_broken_report_says_where_and_what(change: str, where: str, words: str) -> None:
    errors = validate(_broken(change))
    assert any(e.startswith(f"{where}: ") and words in e for e in errors), errors


def test_a_broken_report_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(json.dumps(_broken("seed is text")))
    with pytest.raises(ReportError) as caught:
        load_report(tmp_path)
    assert "report.record.seed" in str(caught.value) and "\n" not in str(caught.value)


def test_not_an_object_at_all() -> None:
    assert validate([])[0] == "report: [] is not of type 'object'"


# -- the schema against the records --------------------------------------------------------------

DEFS: dict[str, type[Any]] = {
    "record": R.DrillRecord,
    "span": R.Span,
    "stamp": Stamp,
    "population": PopulationSummary,
    "backup_phase": R.BackupPhase,
    "backup": BackupRecord,
    "recovery_point": R.RecoveryPoint,
    "restore": RestoreRecord,
    "fault": FaultRecord,
    "damaged": Damaged,
    "verify": R.VerifyRecord,
    "check": CheckReport,
    "served": ServedReport,
    "restart": R.RestartRecord,
    "tree_comparison": TreeComparison,
    "judgement": V.Judgement,
    "metrics": V.Metrics,
    "target": V.Target,
    "sequence_record": SequenceRecord,
    "step": StepRecord,
}
"""Each object of the schema's $defs with the dataclass it describes."""
INLINE: dict[tuple[str, ...], type[Any]] = {
    ("record", "paths"): R.Paths,
    ("record", "start"): R.StartRecord,
    ("record", "detection"): R.DetectionRecord,
    ("record", "recovery"): R.RecoveryRecord,
    ("record", "ready"): R.ReadyRecord,
    ("record", "spool"): R.SpoolRecord,
    ("record", "traffic"): R.TrafficRecord,
    ("verify", "acknowledged"): R.Acknowledged,
    ("verify", "came_back"): CameBack,
    ("check", "errors"): CheckError,
    ("check", "skipped"): Skipped,
    ("judgement", "findings"): V.Classified,
    ("judgement", "lost"): V.LostOperation,
    ("judgement", "not_evaluated"): V.NotEvaluated,
    ("scenario", "population"): S.Population,
    ("scenario", "traffic"): S.Traffic,
    ("scenario", "backup"): S.Backup,
    ("scenario", "disaster"): Disaster,
    ("scenario", "expect"): S.Expect,
}
"""Objects written inline in a $def's property (or its array items), with their dataclass."""


def _object(node: dict[str, Any]) -> dict[str, Any]:
    """The object schema inside a nullable or array property."""
    for key in ("oneOf", "anyOf"):
        for option in node.get(key, []):
            if option.get("type") != "null":
                return _object(option)
    if node.get("type") == "array":
        return _object(node["items"])
    return node


def _fields(cls: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


ADDED_IN_FORMAT_2 = {
    "check": {"recovered"},
    "restart": {"compared"},
    "judgement": {"not_evaluated"},
    "backup": {"manifest_source"},
}
"""Fields added to format 2 after reports were written in it: optional, so those still load."""


@pytest.mark.parametrize("name", sorted(DEFS), ids=str)
def test_the_schema_names_every_field_of_the_record(name: str) -> None:
    """A field added to (or dropped from) a record needs the schema changed with it."""
    node = schema()["$defs"][name]
    assert set(node["properties"]) == _fields(DEFS[name])
    later = ADDED_IN_FORMAT_2.get(name, set())
    assert set(node["required"]) == set(node["properties"]) - later
    assert node["additionalProperties"] is False


@pytest.mark.parametrize("where", sorted(INLINE), ids="/".join)
def test_the_schema_names_every_field_of_inline_records(where: tuple[str, ...]) -> None:
    node = _object(schema()["$defs"][where[0]]["properties"][where[1]])
    assert set(node["properties"]) == _fields(INLINE[where])


def test_the_scenario_is_its_fields_with_the_derived_recovery_action_and_category() -> None:
    names = set(schema()["$defs"]["scenario"]["properties"])
    assert names == _fields(S.Scenario) | {"recovery_action", "category"}


def test_every_dataclass_in_the_record_is_described() -> None:
    """Walk the record's types: each dataclass reached is one of DEFS or INLINE."""
    described = set(DEFS.values()) | set(INLINE.values()) | {S.Scenario}
    seen: set[type[Any]] = set()
    todo: list[Any] = [R.DrillRecord, V.Judgement, SequenceRecord]
    while todo:
        kind = todo.pop()
        for arg in typing.get_args(kind):
            todo.append(arg)
        if dataclasses.is_dataclass(kind) and isinstance(kind, type) and kind not in seen:
            seen.add(kind)
            todo += list(typing.get_type_hints(kind).values())
    findings = {c for c in seen if c.__module__.startswith("harness.checker.findings")}
    assert seen - findings - described == set()


def test_the_disaster_kinds_of_the_schema_are_the_registry() -> None:
    assert schema()["$defs"]["disaster_kind"]["enum"] == list(KINDS)


# -- typed round trip, pure verdict --------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_every_field_round_trips(name: str) -> None:
    data = load(name)
    report = DrillReport.from_json(data)
    assert report.to_json() == json.loads(json.dumps(report.to_json()))
    assert json.loads(json.dumps(report.to_json())) == data
    assert DrillReport.from_json(report.to_json()) == report


@pytest.mark.parametrize("name", SAMPLES)
def test_the_stored_judgement_is_the_judgement_of_the_stored_record(name: str) -> None:
    report = DrillReport.from_json(load(name))
    assert V.judge(report.record) == report.judgement


def test_a_partial_record_validates_and_reads_back() -> None:
    report = DrillReport.from_json(load("pass-restore"))
    unfinished = (
        *report.record.timeline[:3],
        dataclasses.replace(report.record.timeline[3], end=None),
    )
    partial = dataclasses.replace(
        report.record,
        timeline=unfinished,
        fault=None,
        detection=None,
        recovery=None,
        ready=None,
        spool=None,
        verify=None,
        complete=False,
        error="interrupted (Ctrl-C)",
    )
    data = DrillReport.of(partial).to_json()
    assert validate(data) == []
    again = DrillReport.from_json(data)
    assert again.record == partial and again.judgement.verdict.value == "unknown"


def test_a_drill_stopped_during_its_restart_is_a_readable_partial_record() -> None:
    report = DrillReport.from_json(load("pass-restore"))
    last = report.record.timeline[-1]
    assert last.phase == "restart" and report.record.restart is not None
    partial = dataclasses.replace(
        report.record,
        timeline=(*report.record.timeline[:-1], dataclasses.replace(last, end=None)),
        restart=None,
        complete=False,
        error="interrupted (Ctrl-C)",
    )
    data = json.loads(json.dumps(DrillReport.of(partial).to_json()))
    assert validate(data) == [] and data["record"]["restart"] is None
    again = DrillReport.from_json(data)
    assert again.record == partial and again.judgement.verdict.value == "unknown"
    assert again.judgement.reasons == ("interrupted (Ctrl-C)",)


def test_a_report_of_format_1_is_refused_in_one_line_naming_the_format() -> None:
    with pytest.raises(OlderReport) as caught:
        load_report(OLDER / "pass-restore")
    message = str(caught.value)
    assert "format 1" in message and "\n" not in message


def test_a_sequence_report_validates_round_trips_and_is_not_a_drill() -> None:
    report = sequence_sample("backup")
    data = json.loads(json.dumps(report.to_json()))
    assert validate(data) == []
    assert SequenceReport.from_json(data) == report
    assert report.judgement.verdict.value == "fail"
    assert report.judgement.reasons == ("inbox-differs user1@example.com",)
    with pytest.raises(ReportError, match="a sequence, not of a drill"):
        DrillReport.from_json(data)
    both = {**data, "record": load("pass-restart")["record"]}
    assert validate(both) == ["report: the dict is not valid under any of the given schemas"]
    assert all(len(e) < 300 for e in validate(both))


@pytest.mark.parametrize(
    "edit",
    ["verdict", "reclassified", "record"],
)
def test_a_judgement_that_does_not_follow_from_its_record_is_refused(edit: str) -> None:
    """No reader may show a verdict the record does not give: an edited report is refused."""
    data = copy.deepcopy(load("pass-restore"))
    if edit == "verdict":
        data["judgement"]["verdict"] = "fail"
    elif edit == "reclassified":
        data["judgement"]["findings"][0]["classification"] = "violation"
    else:  # the record changed, the judgement left as it was
        data["record"]["complete"] = False
        data["record"]["error"] = "KeyboardInterrupt"
    assert validate(data) == []
    with pytest.raises(ReportError, match="does not follow from its record") as caught:
        DrillReport.from_json(data)
    assert "\n" not in str(caught.value)


def test_a_format_2_report_written_before_the_later_fields_still_loads() -> None:
    """report.json files written before `check.recovered` and `restart.compared` existed
    validate and read back with their defaults (an operator's trend keeps its old drills)."""
    data = load("pass-restore")
    record = data["record"]
    for part in (record["verify"]["check"], record["restart"]["check"]):
        del part["recovered"]
    del record["restart"]["compared"]
    validate(data)
    report = DrillReport.from_json(data)
    assert report.record.restart is not None and report.record.restart.compared is None
    assert report.record.verify is not None and report.record.verify.check.recovered == {}
