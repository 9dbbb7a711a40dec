"""The verify phase and the evidence the verdict needs, read from the installation, the
history and the backup: the final check, when each operation a finding names was
acknowledged, which orphan files the backup did not hold, whether what the disaster destroyed
came back, what the backup's spool held and how much of it was delivered, what the followed
accounts are served against what the store holds; and the backup itself checked as a
recovery point.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness.checker import tree_state
from harness.checker.databases import items, scratch_copy
from harness.checker.findings import OrphanMessageFile
from harness.checker.run import CheckReport, check_environments, run_check
from harness.checker.served import Access, ServedReport, served_state
from harness.checker.tree_state import TreeComparison, TreeState
from harness.drill.record import Acknowledged, BackupPhase, RecoveryPoint, VerifyRecord
from harness.errors import FiredrillError
from harness.faults.came_back import CameBack, Restored, came_back
from harness.faults.kinds import KINDS
from harness.faults.record import FaultRecord
from harness.history import HistoryWriter, operations
from harness.layout import Layout
from harness.manifest import ManifestSummary, summarize
from harness.procedures import BackupRecord
from harness.scenarios.scenario import Scenario
from harness.store.records import MsgRecord

RECOVERY_POINT_FINDINGS = 20
"""A damaged recovery point lists at most this many of its violations."""


def verify(
    layout: Layout,
    history: HistoryWriter,
    scenario: Scenario,
    backup: BackupPhase | None,
    fault: FaultRecord | None,
    *,
    access: Access | None,
    seed: int,
) -> tuple[VerifyRecord, TreeState]:
    """Invariants 1-7 against the history (and, after a restore, the backup's manifest),
    with the evidence the verdict needs, and invariant 10's served comparison through
    `access` (None: the service is not back, nothing is compared; `seed` draws the sample);
    with the record, the state of the tree the offline check read (taken before it read
    anything, see harness.checker.tree_state), for the restart's `check_again`.
    Raises FiredrillError only for bad input (no installation, a malformed history)."""
    restored = scenario.recovery_action == "restore"
    manifest = manifest_of(scenario, backup)
    state = tree_state.take(layout.root, history.path)
    check = final_check(layout, history.path, scenario, backup)
    summary = summarize(manifest) if manifest else None
    named = {f.op for f in check.findings if f.op is not None}
    orphans = [
        f.subject.rsplit("/", 1)[-1] for f in check.findings if isinstance(f, OrphanMessageFile)
    ]
    record = VerifyRecord(
        check,
        acknowledged=acknowledged(history.path, named),
        not_in_backup=tuple(m for m in orphans if summary and m not in summary.messages),
        came_back=came_back_after(layout, fault, summary) if restored and fault else (),
        spooled_delivered=delivered(layout, backup.spooled if backup else ()),
        served=served(layout, access, history.path, scenario, seed),
    )
    return record, state.with_recovered(check.recovered)


def final_check(
    layout: Layout,
    history: Path,
    scenario: Scenario,
    backup: BackupPhase | None,
) -> CheckReport:
    """The offline check of the recovered installation: every invariant check, the history's
    acknowledged operations, and after a restore the backup's manifest."""
    restored = scenario.recovery_action == "restore"
    against = manifest_of(scenario, backup)
    return run_check(layout.root, history=history, against=against, restored=restored)


def manifest_of(scenario: Scenario, backup: BackupPhase | None) -> Path | None:
    """The backup manifest the recovered tree is compared with: after a restore only."""
    taken = backup.backup if backup else None
    return taken.manifest if scenario.recovery_action == "restore" and taken else None


def check_again(
    layout: Layout,
    before: TreeState | None,
    *,
    history: Path | None,
    against: Path | None,
    restored: bool | None = None,
) -> tuple[CheckReport, TreeComparison | None]:
    """The offline check after the clean restart, and what it compared. The environments are
    copied, verified and recovered again (invariant 5: the restart appends to their logs and
    may remove some) and the rest of the tree is compared with `before`, the state verify's
    check read (harness.checker.tree_state). Unchanged, and the recovered databases equal to
    the ones verify read: every other finding of verify's check stands as it was, and the
    report holds invariant 5's findings alone. Anything changed (or no `before`): the whole
    check again, as `run_check` with `history`, `against` and `restored`. Raises FiredrillError only
    when the tree is no installation."""
    def whole() -> CheckReport:
        return run_check(layout.root, history=history, against=against, restored=restored)

    if before is None:
        return whole(), None
    started = time.monotonic()
    walked = tree_state.compare(layout.root, before, history)
    changed = list(walked.changed)
    try:
        stores = check_environments(layout.root)
    except (OSError, subprocess.SubprocessError) as exc:  # the whole check says what it is
        stores = CheckReport(str(layout.root))
        changed.append(f"db: {exc}")
    changed += tree_state.differing(dict(before.recovered), stores.recovered)
    compared = TreeComparison(
        walked.entries,
        len(stores.recovered),
        tuple(changed[: tree_state.LISTED]),
        round(time.monotonic() - started, 3),
    )
    return (whole() if changed else stores), compared


def served(
    layout: Layout,
    access: Access | None,
    history: Path,
    scenario: Scenario,
    seed: int,
    *,
    identities: bool = True,
) -> ServedReport:
    """What the followed accounts are served against the store (skipped when `access` is
    None: the service is not back). After the restart, without `identities`: each UID's
    Message-ID was compared in verify, and the offline check again holds the rows to it."""
    if access is None:
        return ServedReport(skipped="the service is not back: nothing is served")
    tier = scenario.population.tier
    return served_state(layout, access, history, tier=tier, seed=seed, identities=identities)


def acknowledged(history: Path, ops: set[int]) -> tuple[Acknowledged, ...]:
    """When each of `ops` was acknowledged, per the history (those never acknowledged are
    left out)."""
    if not ops:
        return ()
    return tuple(
        Acknowledged(op.index, op.completed)
        for op in operations(history)
        if op.index in ops and op.acknowledged and op.completed is not None
    )


def came_back_after(
    layout: Layout, fault: FaultRecord, summary: ManifestSummary | None
) -> tuple[CameBack, ...]:
    """For each thing the disaster destroyed: is it back, did the backup hold it? (The
    disaster kind's own check; crashes destroy nothing.)"""
    check = KINDS[fault.kind].came_back
    if check is None or not fault.damaged:
        return ()
    with scratch_copy(layout, ("entry", "mbox")) as stores:
        tree = Restored(layout, stores, summary)
        return tuple(came_back(tree, check, damaged) for damaged in fault.damaged)


def spooled_ids(manifest: Path | None) -> tuple[str, ...]:
    """The Message-IDs a backup's spool held (from its manifest)."""
    return tuple(summarize(manifest).spool_header_ids) if manifest else ()


def delivered(layout: Layout, header_ids: tuple[str, ...]) -> int:
    """How many of these Message-IDs are stored now (spooled mail delivered after recovery)."""
    if not header_ids:
        return 0
    wanted = set(header_ids)
    with scratch_copy(layout, ("msgid",)) as stores:
        if not stores.readable("msgid/msgid.db"):
            return 0
        found = {
            MsgRecord.decode(k, v).header_id for k, v in items(stores.handle("msgid", "msgid.db"))
        }
    return len(wanted & found)


def recovery_point(backup: BackupRecord) -> RecoveryPoint:
    """The backup itself checked: is it a clean recovery point? (Only a tree can be checked.)"""
    tree = backup.directory / "tree" if (backup.directory / "tree").is_dir() else backup.directory
    try:
        report = run_check(tree)
    except FiredrillError as exc:
        return RecoveryPoint(backup.point, None, why=str(exc))
    bad = report.violations
    return RecoveryPoint(
        backup.point,
        not bad and not report.errors,
        tuple(f"{f.kind} {f.subject}" for f in bad[:RECOVERY_POINT_FINDINGS]),
    )
