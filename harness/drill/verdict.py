"""The verdict of a drill: a pure function of its record, computed once.

`judge(record)` takes, in this order: the findings (what the drill observed, derived from its
phase records, and what the final check found), each classified; the acknowledged operations
whose effect did not survive; the metrics (`metrics`); the targets against them (`targets`);
and the verdict with its reasons. The summary line, report.json, junit.xml and report.html all
render this one `Judgement`, so they cannot disagree.

A loss is *allowed* only when the scenario accepts after-backup loss, recovery was a restore,
and the operation was acknowledged after the backup's consistency point (chapter 13.4.2: "Any
messages received and not read by users since the last backup will be lost"). Everything else
a checker reports as a violation fails the drill. Verdicts merge as fail > unknown > pass: a
violation or an enforced target that was missed or could not be measured fails the drill; a
drill that stopped early or a check that crashed leaves it unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from harness.checker.findings import (
    AcknowledgedAccountLost,
    AcknowledgedConfigLost,
    AcknowledgedDeleteUndone,
    AcknowledgedFlagsLost,
    AcknowledgedMessageLost,
    CheckError,
    DamagedByRestart,
    DamageNotRepaired,
    DeletedAccountPresent,
    DisasterUndetected,
    Finding,
    NewerThanBackup,
    OrphanMessageFile,
    ProcedureError,
    ServiceNotRestored,
    Severity,
    SpoolNotDrained,
    Verdict,
)
from harness.checker.run import CheckReport
from harness.checker.served import ServedReport
from harness.drill.codec import Jsonable
from harness.drill.record import DrillRecord, RestartRecord, VerifyRecord
from harness.history import Stamp

HISTORY_KINDS = (
    AcknowledgedMessageLost,
    AcknowledgedDeleteUndone,
    AcknowledgedAccountLost,
    DeletedAccountPresent,
    AcknowledgedConfigLost,
    AcknowledgedFlagsLost,
)
"""Findings about an acknowledged operation (they carry its history index, `op`)."""


class Classification(StrEnum):
    ALLOWED = "allowed"
    VIOLATION = "violation"
    LEAK = "leak"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Classified:
    """A finding as judged: `classification` and the one-line `reason` for it."""

    finding: Finding
    classification: Classification
    reason: str


@dataclass(frozen=True, slots=True)
class LostOperation:
    """An acknowledged operation whose effect did not survive (`acknowledged` None when the
    history does not say when)."""

    op: int
    kind: str
    ids: str
    acknowledged: Stamp | None
    classification: Classification
    reason: str


@dataclass(frozen=True, slots=True)
class Metrics:
    """The drill's figures; None where the drill could not measure one.

    rto_seconds: disaster struck (damage complete) -> every protocol served a client again.
    detection_seconds: disaster struck -> noticed. backup_window_seconds: the backup procedure,
    start to end. restore_seconds: the restore procedure. rpo_seconds: disaster began - the
    backup's consistency point, after a restore (0 for a restart: nothing may be lost).
    rpo_messages: acknowledged messages lost as allowed (after the point). lost_messages:
    acknowledged messages lost, allowed or not. spooled_*: the backup's queued mail, and how
    much of it was delivered after the recovery. operations: the workload's counts.
    """

    rto_seconds: float | None = None
    detection_seconds: float | None = None
    detected: str | None = None
    backup_window_seconds: float | None = None
    restore_seconds: float | None = None
    rpo_seconds: float | None = None
    rpo_messages: int | None = None
    lost_messages: int = 0
    spooled_at_backup: int = 0
    spooled_delivered_after_recovery: int = 0
    operations: tuple[tuple[str, int], ...] = ()


TARGETS = {
    "rto_seconds": ("RTO", "rto_target"),
    "rpo_seconds": ("RPO", "rpo_target_seconds"),
    "rpo_messages": ("RPO (messages)", "rpo_target_messages"),
}
"""Each metric a scenario may set a target for: its label and its `[expect]` field."""


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    """An invariant (DESIGN.md number) the drill could not evaluate, and why (one line)."""

    invariant: int
    reason: str


@dataclass(frozen=True, slots=True)
class Target:
    """A metric against the scenario's target. `status`: met, missed or unmeasured; `why`: one
    line saying so (for an unmeasured one, why it could not be measured). `enforced`: the
    scenario fails the drill when the target is not met (`fail_on_targets`). `fails`: this
    target fails the drill: enforced and missed, or enforced and not measurable in a drill
    that ran to its end (a drill the harness stopped is unknown, not failed)."""

    metric: str
    label: str
    limit: float
    actual: float | None
    status: str
    enforced: bool
    fails: bool
    why: str


@dataclass(frozen=True, slots=True)
class Judgement(Jsonable):
    verdict: Verdict
    reasons: tuple[str, ...]
    findings: tuple[Classified, ...]
    lost: tuple[LostOperation, ...]
    metrics: Metrics
    targets: tuple[Target, ...]
    not_evaluated: tuple[NotEvaluated, ...] = ()
    """Invariants the drill could not evaluate, with why: never counted as passed."""

    @property
    def violations(self) -> tuple[Classified, ...]:
        return tuple(c for c in self.findings if c.classification is Classification.VIOLATION)


def judge(record: DrillRecord) -> Judgement:
    """The judgement of a record (complete or partial): findings classified, losses listed,
    metrics, targets, verdict, what could not be evaluated. Pure: the same record always
    gives the same judgement."""
    classified, lost = classify(record, list(observed(record)))
    figures = metrics(record, lost)
    measured = targets(record, figures)
    verdict, reasons = decide(record, classified, measured)
    return Judgement(
        verdict, reasons, tuple(classified), tuple(lost), figures, measured, unevaluated(record)
    )


def unevaluated(record: DrillRecord) -> tuple[NotEvaluated, ...]:
    """The invariants a verified drill could not evaluate (DESIGN.md: reported as not
    evaluated, never as passed): 7 after a restore from a backup firedrill cannot read as a
    tree (an archive, a dump: no manifest, so the restored tree was not compared with what
    the backup held), 10 when no account's served state was compared."""
    verify = record.verify
    if verify is None:
        return ()
    missing: list[NotEvaluated] = []
    taken = record.backup.backup if record.backup else None
    if record.scenario.recovery_action == "restore" and taken is not None and not taken.manifest:
        why = taken.manifest_source or "the backup is no tree firedrill can read"
        missing.append(
            NotEvaluated(
                7,
                f"no manifest of the consistency point ({why}): the restored tree was not "
                "compared with what the backup held; acknowledged operations were judged "
                "from the history alone",
            )
        )
    served = verify.served
    if not (served and served.accounts):
        why = (served.skipped or served.error) if served else "no served comparison recorded"
        missing.append(NotEvaluated(10, why or "no account was compared"))
    return tuple(missing)


def observed(record: DrillRecord) -> Iterator[Finding]:
    """Every finding of the drill, in the order the phases met them: those the drill itself
    observed (from its phase records), those of the final check and of the served
    comparison, and the damage the restart after verify did."""
    if record.backup is not None and record.backup.failed:
        yield ProcedureError("backup", record.backup.failed)
    if record.detection is not None and record.detection.at is None and record.fault:
        yield DisasterUndetected(record.fault.kind, record.fault.detail)
    if record.recovery is not None and record.recovery.failed:
        yield ProcedureError("restore", record.recovery.failed)
    if record.ready is not None and record.ready.at is None:
        within = f"{record.ready.timeout:g}s"
        yield ServiceNotRestored(
            "allservers", f"no SMTP banner and POP3/IMAP login within {within}"
        )
    if record.spool is not None and record.spool.remaining:
        after = f"{record.spool.remaining} queued message(s) after {record.spool.timeout:g}s"
        yield SpoolNotDrained("mta/spool", after)
    if record.verify is not None:
        yield from record.verify.check.findings
        if record.verify.served is not None:
            yield from record.verify.served.findings
        for item in record.verify.came_back:
            if not item.back and item.expected:
                yield DamageNotRepaired(item.id, item.kind)
        if record.restart is not None:
            yield from restart_damage(record.verify, record.restart)


def restart_damage(verify: VerifyRecord, restart: RestartRecord) -> Iterator[DamagedByRestart]:
    """Invariant 10, second half: what the clean restart after verify broke. The service not
    back after it is `service-not-restored allservers`; then each violation (kind, subject)
    of the offline check or the served comparison after the restart that was not there
    before, once, as `KIND SUBJECT` with its detail (and the operation it names). Served
    findings count only when the comparison ran both times."""
    if restart.failed or restart.ready is None:
        within = f"{restart.timeout:g}s"
        why = restart.failed or f"no SMTP banner and POP3/IMAP login within {within}"
        yield DamagedByRestart("service-not-restored allservers", f"after a clean restart: {why}")
    both = _ran(verify.served) and _ran(restart.served)
    before = {(f.kind, f.subject) for f in _violations(verify.check, verify.served, both)}
    named: set[tuple[str, str]] = set()
    for finding in _violations(restart.check, restart.served, both):
        key = (finding.kind, finding.subject)
        if key not in before and key not in named:
            named.add(key)
            yield DamagedByRestart(
                f"{finding.kind} {finding.subject}", finding.detail, op=finding.op
            )


def _ran(served: ServedReport | None) -> bool:
    return served is not None and not served.skipped and not served.error


def _violations(
    check: CheckReport | None, served: ServedReport | None, with_served: bool
) -> Iterator[Finding]:
    if check is not None:
        yield from check.violations
    if with_served and served is not None:
        yield from (f for f in served.findings if f.severity is Severity.VIOLATION)


def crashed(record: DrillRecord) -> tuple[CheckError, ...]:
    """The checks that could not run (their invariant is unknown): the final check's, the
    served comparison's, and the same after the restart."""
    errors: list[CheckError] = []
    if record.verify is not None:
        errors += _errors(record.verify.check, record.verify.served, "")
    if record.restart is not None:
        errors += _errors(record.restart.check, record.restart.served, " after the restart")
    return tuple(errors)


def _errors(check: CheckReport | None, served: ServedReport | None, when: str) -> list[CheckError]:
    errors = [CheckError(e.check + when, e.error) for e in check.errors] if check else []
    if served is not None and served.error:
        errors.append(CheckError("served state" + when, served.error))
    return errors


def classify(
    record: DrillRecord, findings: Sequence[Finding]
) -> tuple[list[Classified], list[LostOperation]]:
    """Classify each finding; list the lost acknowledged operations.

    After a restore, a message file the backup did not contain is not a harmless leak: the
    restore left the old tree's content behind (it did not remove what the backup lacked).
    """
    evidence = record.verify
    acked = {a.op: a.at for a in evidence.acknowledged} if evidence else {}
    not_in_backup = set(evidence.not_in_backup) if evidence else set()
    classified: list[Classified] = []
    lost: list[LostOperation] = []
    for finding in findings:
        if isinstance(finding, HISTORY_KINDS) and finding.op is not None:
            at = acked.get(finding.op)
            classification, reason = _loss(record, at)
            classified.append(Classified(finding, classification, reason))
            lost.append(
                LostOperation(finding.op, finding.kind, finding.subject, at, classification, reason)
            )
        elif isinstance(finding, NewerThanBackup):
            reason = "newer than the backup and still holds: the operation named explains it"
            classified.append(Classified(finding, Classification.ALLOWED, reason))
        elif (
            record.restored
            and isinstance(finding, OrphanMessageFile)
            and finding.subject.rsplit("/", 1)[-1] in not_in_backup
        ):
            reason = "left behind by the restore: the backup does not contain it"
            classified.append(Classified(finding, Classification.VIOLATION, reason))
        else:
            classified.append(Classified(finding, *_by_severity(finding)))
    return classified, lost


def _loss(record: DrillRecord, acked: Stamp | None) -> tuple[Classification, str]:
    """How a lost acknowledged operation is judged."""
    point = record.point
    if not (record.restored and point is not None and acked is not None):
        return Classification.VIOLATION, "acknowledged, and recovery was a restart through the logs"
    if acked.mono < point.mono:
        reason = "acknowledged before the backup's consistency point: the backup should hold it"
        return Classification.VIOLATION, reason
    if record.scenario.expect.loss != "after-backup":
        return Classification.VIOLATION, "the scenario allows no loss"
    return Classification.ALLOWED, "acknowledged after the backup's consistency point"


def _by_severity(finding: Finding) -> tuple[Classification, str]:
    if finding.severity is Severity.VIOLATION:
        return Classification.VIOLATION, "invariant broken"
    if finding.severity is Severity.LEAK:
        return Classification.LEAK, "a leak (space, not data) that a crash may leave"
    return Classification.WARNING, "disposable data"


# -- metrics and targets -----------------------------------------------------------------------


def metrics(record: DrillRecord, lost: Sequence[LostOperation]) -> Metrics:
    """The drill's figures (see Metrics). Recovery time runs from the moment the disaster had
    struck (the damage complete); the recovery point is taken when it began."""
    fault, backup = record.fault, record.backup.backup if record.backup else None
    restore = record.recovery.restore if record.recovery else None
    ready = record.ready.at if record.ready else None
    detected = record.detection
    messages = {x.ids.split(":", 1)[-1]: x for x in lost if x.kind == "acknowledged-message-lost"}
    allowed = sum(x.classification is Classification.ALLOWED for x in messages.values())
    rpo_measured = _rpo_unmeasured(record) is None
    return Metrics(
        rto_seconds=_seconds(fault.struck if fault else None, ready),
        detection_seconds=_seconds(
            fault.struck if fault else None, detected.at if detected else None
        ),
        detected=detected.what if detected and detected.at else None,
        backup_window_seconds=_seconds(backup.started, backup.ended) if backup else None,
        restore_seconds=_seconds(restore.started, restore.ended) if restore else None,
        rpo_seconds=(
            (_seconds(backup.point, fault.at) if record.restored and backup and fault else 0.0)
            if rpo_measured
            else None
        ),
        rpo_messages=(allowed if record.restored else 0) if rpo_measured else None,
        lost_messages=len(messages),
        spooled_at_backup=len(record.backup.spooled) if record.backup else 0,
        spooled_delivered_after_recovery=record.verify.spooled_delivered if record.verify else 0,
        operations=record.traffic.operations if record.traffic else (),
    )


def _seconds(first: Stamp | None, then: Stamp | None) -> float | None:
    if first is None or then is None:
        return None
    return round(then.mono - first.mono, 3)


def _rpo_unmeasured(record: DrillRecord) -> str | None:
    """Why the recovery point could not be measured, or None when it was."""
    if not record.restored:
        return None if record.verify is not None else "the drill stopped before verify"
    phase = record.backup
    if phase is None:
        return "the drill stopped before the backup"
    if phase.backup is None:
        cause = phase.interrupted or phase.failed or "no backup was taken"
        return f"there is no backup to restore from ({cause})"
    if record.recovery is None:
        return "the drill stopped before the restore"
    if record.recovery.restore is None:
        return f"the restore failed ({record.recovery.failed})"
    if record.verify is None:
        return "the drill stopped before verify"
    return None


def _rto_unmeasured(record: DrillRecord) -> str:
    if record.fault is None:
        return "no disaster struck"
    if record.ready is None:
        return "the drill stopped before the service was probed"
    return f"the service never came back (not within {record.ready.timeout:g} s)"


def targets(record: DrillRecord, figures: Metrics) -> tuple[Target, ...]:
    """Each target the scenario sets, against the metrics."""
    expect = record.scenario.expect
    result = []
    for metric, (label, field) in TARGETS.items():
        limit = getattr(expect, field)
        if limit is None:
            continue
        actual = getattr(figures, metric)
        if actual is None:
            cause = _rto_unmeasured(record) if metric == "rto_seconds" else _rpo_unmeasured(record)
            status, why = "unmeasured", f"{label} not measured: {cause}"
        elif actual <= limit:
            status, why = "met", f"{label} {_amount(actual, metric)} ≤ {_amount(limit, metric)}"
        else:
            status = "missed"
            why = f"{label} {_amount(actual, metric)} > target {_amount(limit, metric)}"
        enforced = expect.fail_on_targets
        fails = enforced and (status == "missed" or (status == "unmeasured" and record.complete))
        result.append(Target(metric, label, float(limit), actual, status, enforced, fails, why))
    return tuple(result)


def _amount(value: float, metric: str) -> str:
    if metric == "rpo_messages":
        return f"{value:g} message{'' if value == 1 else 's'}"
    return f"{value:g} s"


def _stopped(record: DrillRecord) -> str:
    """Where a drill that did not end stopped, from its timeline."""
    if not record.timeline:
        return "the drill stopped before its first phase"
    last = record.timeline[-1]
    if last.end is None:
        return f"the drill stopped during {last.phase}"
    return f"the drill stopped after {last.phase}"


REASON_IDS = 3
"""A reason names at most this many ids of its kind (the findings list has them all)."""


def _by_kind(violations: Iterable[Finding]) -> list[str]:
    """One reason per kind of violation, in the order the kinds were first met."""
    subjects: dict[str, list[str]] = {}
    for finding in violations:
        subjects.setdefault(finding.kind, []).append(finding.subject)
    reasons = []
    for kind, ids in subjects.items():
        if len(ids) == 1:
            reasons.append(f"{kind} {ids[0]}")
            continue
        named = ", ".join(ids[:REASON_IDS]) + (", ..." if len(ids) > REASON_IDS else "")
        reasons.append(f"{kind} ×{len(ids)}: {named}")
    return reasons


def decide(
    record: DrillRecord, classified: Sequence[Classified], measured: Sequence[Target]
) -> tuple[Verdict, tuple[str, ...]]:
    """fail > unknown > pass, with the reasons: the violations by kind (`KIND ID` for one,
    `KIND ×N: ID, ID, ID, ...` for more, at most REASON_IDS ids named) and the targets that
    fail."""
    reasons = _by_kind(
        c.finding for c in classified if c.classification is Classification.VIOLATION
    )
    reasons += [
        f"target {'missed' if t.status == 'missed' else 'not measured'}: {t.why}"
        for t in measured
        if t.fails
    ]
    if reasons:
        return Verdict.FAIL, tuple(reasons)
    if record.error or not record.complete:
        why = record.error or _stopped(record)
        return Verdict.UNKNOWN, (why,)
    errors = crashed(record)
    if errors:
        return Verdict.UNKNOWN, (f"{len(errors)} check(s) could not run",)
    return Verdict.PASS, ()
