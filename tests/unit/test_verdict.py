"""The verdict is a pure function of the record, and every output renders that one judgement.

Table tests over synthetic records (a real restore drill's record, with one thing changed):
each target (RTO, RPO seconds, RPO messages) met, missed or unmeasured, enforced or not; the
verdict, its reasons, the terminal summary, junit.xml and report.html must agree in every
combination. And the drill-level findings each come from one phase record.
"""

from __future__ import annotations

import dataclasses
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.checker import findings as F
from harness.checker.findings import Verdict
from harness.checker.served import ServedReport
from harness.drill.record import (
    DrillRecord,
    ReadyRecord,
    RecoveryRecord,
    RestartRecord,
    SpoolRecord,
)
from harness.drill.report import DrillReport, load_report
from harness.drill.summary import summary
from harness.drill.verdict import Classification, judge
from harness.faults.came_back import CameBack
from harness.report.checks import TARGET_NAMES
from harness.report.html import render_html
from harness.report.junit import junit_xml

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reports"


def restore_drill() -> DrillRecord:
    """A passing restore drill (tier XS, lose the tree, chapter 13.4): RTO ~1 s, RPO ~4 s and
    tens of messages lost as allowed."""
    return load_report(FIXTURES / "pass-restore")[1].record


def with_target(record: DrillRecord, metric: str, limit: float, enforced: bool) -> DrillRecord:
    field = {
        "rto_seconds": "rto_target",
        "rpo_seconds": "rpo_target_seconds",
        "rpo_messages": "rpo_target_messages",
    }[metric]
    value = int(limit) if metric == "rpo_messages" else float(limit)
    targets: dict[str, Any] = {"rto_target": None, "rpo_target_seconds": None, field: value}
    expect = dataclasses.replace(record.scenario.expect, fail_on_targets=enforced, **targets)
    return dataclasses.replace(record, scenario=dataclasses.replace(record.scenario, expect=expect))


def unmeasurable(record: DrillRecord, metric: str) -> DrillRecord:
    """The record changed so that `metric` cannot be measured: the service never came back
    (RTO), or the restore failed (RPO)."""
    if metric == "rto_seconds":
        assert record.ready is not None
        return dataclasses.replace(record, ready=ReadyRecord(None, record.ready.timeout))
    failed = RecoveryRecord("restore", None, "restore command exited 1: cp: No space left")
    return dataclasses.replace(record, recovery=failed)


CASES = list(
    itertools.product(
        ("rto_seconds", "rpo_seconds", "rpo_messages"),
        ("met", "missed", "unmeasured"),
        (True, False),
    )
)


def case_record(metric: str, status: str, enforced: bool) -> DrillRecord:
    base = restore_drill()
    actual = getattr(judge(base).metrics, metric)
    assert actual is not None and actual > 1, "the sample must have something to miss"
    if status == "met":
        return with_target(base, metric, actual * 2, enforced)
    if status == "missed":
        return with_target(base, metric, max(1, actual / 2), enforced)
    return unmeasurable(with_target(base, metric, actual * 2, enforced), metric)


@pytest.mark.parametrize(("metric", "status", "enforced"), CASES, ids=lambda v: str(v))
def test_targets_verdict_summary_junit_and_html_agree(
    metric: str, status: str, enforced: bool
) -> None:
    report = DrillReport.of(case_record(metric, status, enforced))
    judgement = report.judgement
    (target,) = judgement.targets
    assert (target.metric, target.status, target.enforced) == (metric, status, enforced)
    fails = enforced and status != "met"
    assert target.fails is fails
    violations = judgement.violations
    assert bool(violations) is (status == "unmeasured")  # the cause is itself a violation
    expected = Verdict.FAIL if (fails or violations) else Verdict.PASS
    assert judgement.verdict is expected
    # The reasons name the target exactly when it fails the drill.
    named = [r for r in judgement.reasons if r.startswith("target ")]
    assert len(named) == int(fails)
    if fails:
        word = "missed" if status == "missed" else "not measured"
        assert named[0].startswith(f"target {word}: {target.label} ")
    # The terminal summary prints the same reasons under the same verdict.
    lines = summary(report).splitlines()
    assert lines[0].startswith(f"{expected.value.upper()}: ")
    notes = [line.strip() for line in lines[1:] if line.strip().startswith("note: ")]
    assert [
        line.strip() for line in lines[1:] if line not in notes and line.strip() not in notes
    ] == list(judgement.reasons)
    assert len(notes) == int(status == "missed" and not enforced)  # a miss is never silent
    # junit.xml: the target's case, and failures only under a failed verdict.
    suite = ET.fromstring(junit_xml(report)).find("testsuite")
    assert suite is not None
    case = next(c for c in suite.iter("testcase") if c.get("name") == TARGET_NAMES[metric])
    outcome = [child.tag for child in case if child.tag in ("failure", "skipped", "error")]
    if fails:
        assert outcome == ["failure"]
    elif status == "unmeasured":
        assert outcome == ["skipped"]
    else:
        assert outcome == []
    assert (int(suite.get("failures", "0")) > 0) is (expected is Verdict.FAIL)
    # report.html shows the same verdict.
    assert f'data-verdict="{expected.value}"' in render_html(report)


def test_the_issue_example_an_enforced_rpo_message_target_fails_the_drill() -> None:
    """A copy of the default drill with rpo_target_messages = 1 and fail_on_targets = true
    loses tens of messages after the backup: it must fail, naming the target."""
    report = DrillReport.of(with_target(restore_drill(), "rpo_messages", 1, True))
    assert report.judgement.verdict is Verdict.FAIL
    assert report.judgement.reasons[-1].startswith("target missed: RPO (messages) ")
    assert "> target 1 message" in report.judgement.reasons[-1]


def test_an_unmeasured_target_of_a_drill_the_harness_stopped_leaves_it_unknown() -> None:
    stopped = dataclasses.replace(
        with_target(restore_drill(), "rto_seconds", 60, True),
        ready=None,
        spool=None,
        verify=None,
        complete=False,
        error="the servers did not serve clients within 120s",
    )
    judgement = judge(stopped)
    assert judgement.verdict is Verdict.UNKNOWN
    (target,) = judgement.targets
    assert target.status == "unmeasured" and not target.fails


# -- each drill-level finding comes from one phase record ---------------------------------------


def _only(record: DrillRecord) -> list[tuple[str, str]]:
    return [
        (c.finding.kind, c.finding.subject)
        for c in judge(record).findings
        if c.finding.__module__ == "harness.checker.findings.drill"
    ]


def test_each_drill_finding_comes_from_its_phase_record() -> None:
    base = restore_drill()
    assert _only(base) == []
    assert base.backup is not None and base.fault is not None and base.verify is not None
    cases = {
        "procedure-failed backup": dataclasses.replace(
            base, backup=dataclasses.replace(base.backup, backup=None, failed="exit 3")
        ),
        "procedure-failed restore": unmeasurable(base, "rpo_seconds"),
        "service-not-restored allservers": unmeasurable(base, "rto_seconds"),
        "spool-not-drained mta/spool": dataclasses.replace(base, spool=SpoolRecord(3, 90.0)),
        f"disaster-undetected {base.fault.kind}": dataclasses.replace(
            base,
            detection=dataclasses.replace(base.detection, at=None),  # type: ignore[type-var]
        ),
        "damage-not-repaired .": dataclasses.replace(
            base,
            verify=dataclasses.replace(
                base.verify, came_back=(CameBack("path", ".", "", back=False, expected=True),)
            ),
        ),
        "served-state-differs user1@example.com/INBOX/7": dataclasses.replace(
            base, verify=dataclasses.replace(base.verify, served=_served(STALE))
        ),
        "damaged-by-restart message-file-missing msgfiles/ab/cd/abcdef0123456789": (
            _restarted(base, MISSING)
        ),
    }
    for expected, record in cases.items():
        assert [f"{k} {s}" for k, s in _only(record)] == [expected]
    drill = {k for k, c in F.KINDS.items() if c.__module__ == "harness.checker.findings.drill"}
    assert {expected.split()[0] for expected in cases} == drill  # every kind of the drill


STALE = F.ServedStateDiffers("user1@example.com/INBOX/7", "stored ('<a@b>', flags ()), not served")
MISSING = F.MessageFileMissing("msgfiles/ab/cd/abcdef0123456789", "no file")


def _served(*findings: F.Finding) -> ServedReport:
    return ServedReport(findings, followed=3, accounts=3, folders=15, messages=40, pop3=1)


def _restarted(
    base: DrillRecord,
    *after: F.Finding,
    served: ServedReport | None = None,
    ready: bool = True,
) -> DrillRecord:
    """The record with a restart phase whose offline check found what verify's did and
    `after`, and whose served comparison found `served` (what verify's found by default)."""
    assert base.verify is not None and base.ready is not None and base.ready.at is not None
    check = dataclasses.replace(base.verify.check, findings=(*base.verify.check.findings, *after))
    again = base.verify.served if served is None else served
    at = base.ready.at if ready else None
    restart = RestartRecord(0.5, 1.0, at, 120.0, check, again if ready else None)
    return dataclasses.replace(base, restart=restart)


def test_what_the_restart_breaks_is_damage_named_by_its_finding_and_nothing_else() -> None:
    drill = restore_drill()
    assert drill.verify is not None
    base = dataclasses.replace(
        drill, verify=dataclasses.replace(drill.verify, served=_served(STALE))
    )
    assert [f"{k} {s}" for k, s in _only(base)] == [f"{STALE.kind} {STALE.subject}"]
    unchanged = _restarted(base)
    assert _only(unchanged) == _only(base) and judge(unchanged).verdict is Verdict.FAIL
    # A violation both before and after is not the restart's doing; a new one is, once.
    twice = _restarted(base, MISSING, MISSING)
    damage = [c for c in judge(twice).findings if c.finding.kind == "damaged-by-restart"]
    assert [c.finding.subject for c in damage] == [f"{MISSING.kind} {MISSING.subject}"]
    assert damage[0].finding.detail == MISSING.detail
    assert damage[0].classification is Classification.VIOLATION
    # A leak the restart leaves is not damage; a new served difference is.
    leak = F.OrphanMessageFile("msgfiles/00/11/0011223344556677", "no record")
    assert _only(_restarted(base, leak)) == _only(base)
    other = F.ServedStateDiffers("user2@example.com/pop3", "2 unique-ids served, 3 stored")
    served = _restarted(base, served=_served(STALE, other))
    assert _only(served)[-1] == ("damaged-by-restart", f"{other.kind} {other.subject}")
    # A service that does not come back after the restart is damage too.
    down = _restarted(base, ready=False)
    assert _only(down)[-1] == ("damaged-by-restart", "service-not-restored allservers")


def test_a_served_comparison_that_crashed_leaves_the_drill_unknown() -> None:
    base = restore_drill()
    assert base.verify is not None and judge(base).verdict is Verdict.PASS
    broken = ServedReport(error="KeyError: 'x' (at served.py:1)")
    record = dataclasses.replace(base, verify=dataclasses.replace(base.verify, served=broken))
    judged = judge(record)
    assert judged.verdict is Verdict.UNKNOWN and judged.reasons == ("1 check(s) could not run",)


def test_a_thing_the_backup_did_not_hold_need_not_come_back() -> None:
    base = restore_drill()
    assert base.verify is not None
    gone = CameBack("message", "0123456789abcdef", "", back=False, expected=False)
    record = dataclasses.replace(base, verify=dataclasses.replace(base.verify, came_back=(gone,)))
    assert _only(record) == [] and judge(record).verdict is Verdict.PASS


def test_a_loss_before_the_consistency_point_is_a_violation_after_it_allowed() -> None:
    base = restore_drill()
    judgement = judge(base)
    allowed = [x for x in judgement.lost if x.classification is Classification.ALLOWED]
    assert allowed and len(allowed) == len(judgement.lost)
    assert base.verify is not None and base.point is not None
    # The same operations, acknowledged before the point: the backup should have held them.
    early = dataclasses.replace(base.point, mono=base.point.mono - 1)
    moved = tuple(dataclasses.replace(a, at=early) for a in base.verify.acknowledged)
    record = dataclasses.replace(base, verify=dataclasses.replace(base.verify, acknowledged=moved))
    judged = judge(record)
    assert judged.verdict is Verdict.FAIL
    assert {x.classification for x in judged.lost} == {Classification.VIOLATION}
    assert all("before the backup's consistency point" in x.reason for x in judged.lost)


def test_an_orphan_the_backup_did_not_hold_is_left_behind_by_the_restore() -> None:
    base = restore_drill()
    assert base.verify is not None
    orphan = F.OrphanMessageFile("msgfiles/ab/cd/abcdef0123456789", "no record")
    check = dataclasses.replace(base.verify.check, findings=(*base.verify.check.findings, orphan))
    kept = dataclasses.replace(base.verify, check=check)
    assert judge(dataclasses.replace(base, verify=kept)).verdict is Verdict.PASS  # a leak
    left = dataclasses.replace(kept, not_in_backup=("abcdef0123456789",))
    judged = judge(dataclasses.replace(base, verify=left))
    assert judged.verdict is Verdict.FAIL
    assert judged.reasons == ("orphan-message-file msgfiles/ab/cd/abcdef0123456789",)


def test_a_restore_without_a_manifest_leaves_invariant_7_not_evaluated_in_every_output(
    tmp_path: Path,
) -> None:
    """A restore with no manifest of the consistency point (a live copy into an archive:
    never quiet, nothing to read) was not compared with the backup: the judgement says
    invariant 7 was not evaluated and why, and the summary, junit.xml (a skipped case) and
    report.html say so; nothing counts it as passed. With the manifest, it is evaluated."""
    record = restore_drill()
    assert record.backup is not None and record.backup.backup is not None
    assert judge(record).not_evaluated == ()
    why = "the servers never were all down (a live copy)"
    archive = dataclasses.replace(record.backup.backup, manifest=None, manifest_source=why)
    record = dataclasses.replace(record, backup=dataclasses.replace(record.backup, backup=archive))
    judgement = judge(record)
    assert [n.invariant for n in judgement.not_evaluated] == [7]
    assert "no manifest" in judgement.not_evaluated[0].reason
    report = DrillReport(record, judgement)
    assert f"  not evaluated: invariant 7: no manifest of the consistency point ({why})" in (
        summary(report)
    )
    root = ET.fromstring(junit_xml(report))
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("invariant 7"))
    skipped = case.find("skipped")
    assert skipped is not None and "not evaluated" in (skipped.get("message") or "")
    assert "not evaluated: no manifest of the consistency point" in render_html(report)


def test_reasons_name_each_kind_once_with_its_count_and_first_ids() -> None:
    """Forty resurrected messages are one reason, not forty lines."""
    record = restore_drill()
    assert record.verify is not None
    check = record.verify.check
    many = tuple(F.MessageResurrected(f"{i:016x}", "back") for i in range(40))
    one = (F.ConfigChanged("/*/mta/port", "was 25"),)
    verify = dataclasses.replace(
        record.verify, check=dataclasses.replace(check, findings=(*many, *one))
    )
    judgement = judge(dataclasses.replace(record, verify=verify, restart=None))
    assert judgement.verdict is Verdict.FAIL
    assert judgement.reasons == (
        f"message-resurrected ×40: {0:016x}, {1:016x}, {2:016x}, ...",
        "config-changed /*/mta/port",
    )
