"""junit.xml: one suite per drill, one case per check; failures carry the typed findings with
their ids; read back with junitparser, as CI consumers read it."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite, xunit2

from harness.checker.findings import OrphanMessageFile
from harness.drill.report import DrillReport
from harness.report.checks import INVARIANTS, checks
from harness.report.junit import write_junit
from tests.support.reports import SAMPLES, changed, sample, stopped


def parse(report: DrillReport, tmp_path: Path) -> TestSuite:
    path = tmp_path / "junit.xml"
    write_junit(report, path)
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert isinstance(suite, TestSuite)
    return suite


def cases(suite: TestSuite) -> dict[str, TestCase]:
    return {c.name: c for c in suite}


def test_a_failing_drill_names_the_finding_ids(tmp_path: Path) -> None:
    report = sample("fail-live-copy")
    suite = parse(report, tmp_path)
    assert suite.name == "default"
    assert suite.failures == 1 and suite.errors == 0
    failed = [c for c in suite if any(isinstance(r, Failure) for r in c.result)]
    assert [c.name for c in failed] == [f"invariant 1: {INVARIANTS[1]}"]
    failure = failed[0].result[0]
    assert isinstance(failure, Failure)
    violations = report.judgement.violations
    assert len(violations) > 3
    for c in violations:
        assert f"{c.finding.kind} {c.finding.subject}" in failure.message
        assert f"{c.finding.kind} {c.finding.subject}: file does not exist" in (failure.text or "")
    assert failure.type == "message-file-missing"
    # Allowed losses (after the backup point) fail nothing.
    assert cases(suite)["losses only after the backup point"].is_passed


def test_the_properties(tmp_path: Path) -> None:
    report = sample("pass-restart")
    suite = parse(report, tmp_path)
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["scenario"] == "crash-mss-mta"
    assert props["verdict"] == "pass"
    assert props["seed"] == "1"
    assert props["backend"] == "local"
    assert props["procedure"] == "chapter13"
    assert props["report"] == str((tmp_path / "report.json").absolute())
    assert props["rto_seconds"] == f"{report.judgement.metrics.rto_seconds:g}"


def test_one_case_per_check_restart_drill(tmp_path: Path) -> None:
    suite = parse(sample("pass-restart"), tmp_path)
    names = list(cases(suite))
    assert names[: len(INVARIANTS)] == [f"invariant {i}: {t}" for i, t in INVARIANTS.items()]
    assert names[len(INVARIANTS) :] == [
        "no unexpected acknowledged loss",
        "service restored",
        "spool drained",
        "RTO within target",
        "drill ran to completion",
    ]
    assert all(c.is_passed for c in suite)
    assert suite.tests == len(names) and suite.failures == 0


def test_restore_drill_has_rpo_and_came_back(tmp_path: Path) -> None:
    names = list(cases(parse(sample("pass-restore"), tmp_path)))
    assert "losses only after the backup point" in names
    assert "destroyed data came back" in names
    assert {"RTO within target", "RPO within target"} <= set(names)
    assert "RPO (messages) within target" not in names  # no such target: not emitted


def test_a_drill_whose_backup_failed_skips_what_it_did_not_check(tmp_path: Path) -> None:
    suite = parse(sample("fail-procedure"), tmp_path)
    by_name = cases(suite)
    failure = by_name[f"invariant 0: {INVARIANTS[0]}"].result[0]
    assert isinstance(failure, Failure)
    assert "procedure-failed backup" in failure.message
    for i in (*range(1, 8), 10):
        assert isinstance(by_name[f"invariant {i}: {INVARIANTS[i]}"].result[0], Skipped)
    assert "service restored" not in by_name  # the drill never got there
    rto = by_name["RTO within target"].result[0]
    assert isinstance(rto, Skipped) and "no disaster struck" in rto.message
    assert by_name["drill ran to completion"].is_passed  # it ended, failed


def test_a_harness_error_is_an_error_case(tmp_path: Path) -> None:
    report = stopped(
        sample("pass-restart"),
        "internal error: RuntimeError: boom",
        "Traceback (most recent call last):\n  boom",
    )
    suite = parse(report, tmp_path)
    assert suite.errors == 1
    error = cases(suite)["drill ran to completion"].result[0]
    assert isinstance(error, Error)
    assert error.message == "internal error: RuntimeError: boom"
    assert "Traceback" in (error.text or "")


def _rto_target(report: DrillReport, limit: float, enforced: bool) -> DrillReport:
    expect = dataclasses.replace(
        report.record.scenario.expect, rto_target=limit, fail_on_targets=enforced
    )
    return changed(report, scenario=dataclasses.replace(report.record.scenario, expect=expect))


def test_an_enforced_missed_target_fails_its_case(tmp_path: Path) -> None:
    report = _rto_target(sample("pass-restart"), 0.01, enforced=True)
    assert report.judgement.verdict.value == "fail"
    failure = cases(parse(report, tmp_path))["RTO within target"].result[0]
    assert isinstance(failure, Failure)
    assert "missed" in failure.message and "target ≤ 0.01 s" in failure.message


def test_an_unenforced_missed_target_passes_with_a_note(tmp_path: Path) -> None:
    report = _rto_target(sample("pass-restart"), 0.01, enforced=False)
    assert report.judgement.verdict.value == "pass"
    case = cases(parse(report, tmp_path))["RTO within target"]
    assert case.is_passed
    assert "not enforced" in (case.system_out or "")


@pytest.mark.parametrize("name", SAMPLES)
def test_a_failed_verdict_has_a_failed_check_and_a_pass_none(name: str) -> None:
    report = sample(name)
    failed = [c for c in checks(report) if c.status == "failed"]
    assert bool(failed) == (report.judgement.verdict.value == "fail")


def test_text_xml_cannot_hold_is_replaced_and_markup_escaped(tmp_path: Path) -> None:
    report = sample("fail-live-copy")
    scenario = dataclasses.replace(report.record.scenario, name='a<b>&"c"')
    verify = report.record.verify
    assert verify is not None
    hostile = OrphanMessageFile("<x>\x1b[31m", "bad \x00 byte & </failure>")
    not_in_backup = (*verify.not_in_backup, "<x>\x1b[31m")
    check = dataclasses.replace(verify.check, findings=(*verify.check.findings, hostile))
    verify = dataclasses.replace(verify, check=check, not_in_backup=not_in_backup)
    path = tmp_path / "junit.xml"
    write_junit(changed(report, scenario=scenario, verify=verify), path)
    root = ET.parse(path).getroot()  # well-formed
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == 'a<b>&"c"'
    text = path.read_text()
    assert "\x00" not in text and "\x1b" not in text
    assert "bad � byte &amp; &lt;/failure&gt;" in text


@pytest.mark.parametrize("name", SAMPLES)
def test_the_xunit2_reader_accepts_it_too(name: str, tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(sample(name), path)
    xml = xunit2.JUnitXml.fromfile(str(path))
    suite = next(iter(xml))
    assert int(suite.tests) == len(checks(sample(name)))
