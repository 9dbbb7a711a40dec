"""report.html's lower half as plain view data: the disaster and the recovery, what the
procedures printed, and the run (versions, command, paths, the workload's operations).

Key-value lists are `Pairs` of texts, without the keys that have no value; the template
(harness/report/templates/report.html) prints and escapes them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from harness.checker.served import ServedReport
from harness.drill.record import (
    BackupPhase,
    DrillRecord,
    RecoveryPoint,
    RecoveryRecord,
    RestartRecord,
)
from harness.drill.report import DrillReport
from harness.drill.verdict import Metrics
from harness.report import charts, model
from harness.report.charts import Operations

Pairs = tuple[tuple[str, str], ...]

RECOVERY_ACTIONS = {"restart": "restart through the logs", "restore": "restore from the backup"}


def pairs(*items: tuple[str, object]) -> Pairs:
    """The items that have a value, the values as text."""
    return tuple((key, model.plain(value)) for key, value in items if value not in (None, ""))


@dataclass(frozen=True, slots=True)
class Details:
    disaster: Pairs
    """The disaster (empty: the drill stopped before it)."""
    backup_note: str
    """Why there is no backup ("" when there is one)."""
    recovery: Pairs
    """The backup and the recovery (empty: the drill stopped before the backup)."""
    outputs: Pairs
    """(procedure, what it printed), for those that printed something."""
    after: Pairs = ()
    """Invariant 10: the served comparison and the restart after verify (empty: neither ran)."""


def details(report: DrillReport) -> Details:
    record = report.record
    return Details(
        _disaster(report),
        _backup_note(record),
        _recovery(report),
        _outputs(record),
        _after(record),
    )


def _disaster(report: DrillReport) -> Pairs:
    record, m = report.record, report.judgement.metrics
    fault, detection = record.fault, record.detection
    if fault is None:
        return ()
    detected = None
    if detection is not None:
        detected = detection.what if detection.at is not None else "nothing noticed it"
    return pairs(
        ("kind", fault.kind),
        ("at", f"{model.seconds(model.fault_time(record))} ({model.iso(fault.at.wall)})"),
        ("what", fault.detail),
        ("inflicting took", model.seconds(fault.inflict_seconds)),
        ("destroyed", ", ".join(f"{d.kind} {d.id}" for d in fault.damaged)),
        ("detected by", detected),
        ("detection time", model.seconds(m.detection_seconds) if detection else None),
        ("hung servers", ", ".join(detection.unresponsive) if detection else None),
        ("recovery", record.scenario.recovery_action),
    )


def _backup_note(record: DrillRecord) -> str:
    phase = record.backup
    if phase is None:
        return "The drill stopped before the backup."
    if phase.backup is not None:
        return ""
    if phase.interrupted:
        return f"No backup: it was interrupted ({phase.interrupted})."
    if phase.failed:
        return f"No backup: the procedure failed ({phase.failed})."
    return "No backup was taken."


def _recovery(report: DrillReport) -> Pairs:
    record, m = report.record, report.judgement.metrics
    phase, recovery = record.backup, record.recovery
    if phase is None and recovery is None:
        return ()
    spooled = pairs(
        ("spooled at backup", m.spooled_at_backup if phase and phase.backup else None),
        (
            "spooled, delivered after recovery",
            m.spooled_delivered_after_recovery if record.verify else None,
        ),
    )
    return (*_backup(record, phase, m), *_restore(recovery, m), *spooled)


def _backup(record: DrillRecord, phase: BackupPhase | None, m: Metrics) -> Pairs:
    if phase is None:
        return ()
    backup = phase.backup
    point = model.point_time(record)
    return pairs(
        ("backup checked", recovery_point(phase.recovery_point)),
        ("backup procedure", phase.procedure),
        ("backup window", model.seconds(m.backup_window_seconds) if backup else None),
        ("consistency point", f"{model.seconds(point)} ({backup.point_source})" if backup else ""),
        ("backup directory", backup.directory if backup else None),
    )


def _restore(recovery: RecoveryRecord | None, m: Metrics) -> Pairs:
    if recovery is None:
        return ()
    restore = recovery.restore
    return pairs(
        ("recovered by", RECOVERY_ACTIONS.get(recovery.action, recovery.action)),
        ("restore procedure", restore.procedure if restore else None),
        ("restore time", model.seconds(m.restore_seconds) if restore else None),
        ("restore failed", recovery.failed),
    )


def _after(record: DrillRecord) -> Pairs:
    served = record.verify.served if record.verify else None
    restart = record.restart
    return pairs(
        ("served state", served_text(served)),
        ("clean restart", restart_text(restart) if restart else None),
        ("offline check after it", check_again_text(restart) if restart else None),
        ("served state after it", served_text(restart.served) if restart else None),
    )


def served_text(served: ServedReport | None) -> str | None:
    """One line about a served comparison (None: there was none)."""
    if served is None:
        return None
    if served.error:
        return f"could not be compared: {served.error}"
    if served.skipped:
        return f"not compared: {served.skipped}"
    sampled = f" (of {served.followed} followed)" if served.followed != served.accounts else ""
    return (
        f"{served.accounts} account(s){sampled}, {served.folders} folder(s), "
        f"{served.messages} UID(s) over IMAP, {served.pop3} POP3 listing(s): "
        f"{len(served.findings)} difference(s) in {model.seconds(served.seconds)}"
    )


def check_again_text(restart: RestartRecord) -> str | None:
    """One line about the offline check after the restart: what it compared, what it found."""
    check, compared = restart.check, restart.compared
    if check is None:
        return None
    found = f"{len(check.findings)} finding(s) in {model.seconds(check.seconds)}"
    if compared is None:
        return f"the whole check again: {found}"
    if compared.unchanged:
        return (
            f"unchanged since verify ({compared.entries:,} files and directories, "
            f"{compared.environments} recovered databases compared): verify's findings stand; "
            f"the environments recovered again: {found}"
        )
    listed = ", ".join(compared.changed)
    return f"changed since verify ({listed}): the whole check again: {found}"


def restart_text(restart: RestartRecord) -> str:
    """One line about the clean restart: how long the stop and the start took."""
    stop = f"stop {model.seconds(restart.stop_seconds)}"
    if restart.failed:
        return f"{stop}; {restart.failed}"
    if restart.ready is None:
        return f"{stop}; the service was not back within {restart.timeout:g} s"
    return f"{stop}, start until service ready {model.seconds(restart.start_seconds)}"


def recovery_point(point: RecoveryPoint | None) -> str | None:
    """Was the backup itself a clean recovery point (None: it was not checked)?"""
    if point is None:
        return None
    if point.clean is True:
        return "clean: the backup passes firedrill check"
    if point.clean is False:
        found = point.findings
        first = f", first: {found[0]}" if found else ""
        more = "+" if len(found) >= 20 else ""
        return f"NOT clean: {len(found)}{more} violation(s) in the backup itself{first}"
    return f"could not be checked: {point.why}"


def _outputs(record: DrillRecord) -> Pairs:
    phase, recovery = record.backup, record.recovery
    backup = phase.backup if phase else None
    restore = recovery.restore if recovery else None
    return pairs(
        ("backup procedure", backup.output if backup else None),
        ("failed backup procedure", phase.output if phase and not backup else None),
        ("restore procedure", restore.output if restore else None),
        ("failed restore procedure", recovery.output if recovery and not restore else None),
    )


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    versions: Pairs
    command: str
    paths: Pairs
    operations: Operations | None


def run(report: DrillReport, report_path: Path | str | None) -> Run:
    record = report.record
    where = record.paths
    return Run(
        versions=pairs(*record.versions),
        command=shlex.join(record.command),
        paths=pairs(
            ("report", report_path),
            ("history", where.history),
            ("logs", where.logs),
            ("manifest", where.manifest),
            ("kept tree", where.kept_tree),
            ("scenario file", record.scenario.path),
        ),
        operations=charts.operations(report.judgement.metrics.operations),
    )
