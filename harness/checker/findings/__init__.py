"""Typed findings: what a checker reports, with the id of what is damaged and a remedy.

Each kind is a frozen dataclass; its class attributes say which invariant (DESIGN.md 1-7, 0 for
files outside the stores) it breaks, how bad it is, and what an operator should do about it.
Kinds live by where they come from: `store` (the stores as they are), `backup` (the tree
against a manifest), `history` (acknowledged operations), `clients` (what
clients were told: UIDs, UIDLs, flags), `drill` (what a drill observes),
`steps` (a live installation against a sequence's reference model).
`KINDS` names every kind; `finding_from_json` reads one back from a report.
"""

from __future__ import annotations

from typing import Any

from harness.checker.findings import backup, clients, drill, history, steps, store
from harness.checker.findings.backup import (
    AccountChanged,
    AccountLost,
    AccountResurrected,
    ConfigChanged,
    ConfigKeyAdded,
    ConfigKeyLost,
    MessageChanged,
    MessageLost,
    MessageResurrected,
    NewerThanBackup,
    RowChanged,
    RowLost,
    RowResurrected,
)
from harness.checker.findings.base import CheckError, Finding, Severity, Skipped, Verdict
from harness.checker.findings.clients import (
    AcknowledgedFlagsLost,
    RedeliveredAfterRestore,
    UidlReused,
    UidnextRewound,
    UidReused,
    UidvalidityChangedNeedlessly,
    UidvalidityDecreased,
)
from harness.checker.findings.drill import (
    DamagedByRestart,
    DamageNotRepaired,
    DisasterUndetected,
    ProcedureError,
    ServedStateDiffers,
    ServiceNotRestored,
    SpoolNotDrained,
)
from harness.checker.findings.history import (
    AcknowledgedAccountLost,
    AcknowledgedConfigLost,
    AcknowledgedDeleteUndone,
    AcknowledgedMessageLost,
    DeletedAccountPresent,
    DuplicateDelivery,
)
from harness.checker.findings.steps import (
    AccountUnusable,
    CheckerCrashed,
    CheckerMissed,
    CheckerUnexpected,
    ConfigDiffers,
    DeletedAccountLogsIn,
    FlagsDiffer,
    InboxDiffers,
    InboxUnreadable,
    StepFailed,
)
from harness.checker.findings.store import (
    AccountWithoutMailbox,
    ConfigMissing,
    ConfigSyntax,
    DanglingRow,
    DatabaseCorrupt,
    DatabaseMissing,
    DircacheStale,
    FolderCountMismatch,
    IndexKeyDangling,
    IndexKeyMisdirected,
    IndexKeyMissing,
    LogGap,
    LogMissing,
    MailboxOwnerMismatch,
    MailboxWithoutOwner,
    MessageDigestMismatch,
    MessageFileMissing,
    MessageSizeMismatch,
    OrphanMessageFile,
    RecoveryFailed,
    RefcountHigh,
    RefcountLow,
    RowWithoutFolder,
    SpoolFileDamaged,
    SpoolFileIgnored,
    StaleTempFile,
    StoreMissing,
    UidAboveNext,
)

KINDS: dict[str, type[Finding]] = {
    cls.kind: cls
    for module in (store, backup, history, clients, drill, steps)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, Finding) and cls is not Finding
}
"""Every kind of finding by its name (`message-file-missing`, ...)."""


def finding_from_json(data: Any) -> Finding:
    """The finding a report recorded (`Finding.to_json`); ValueError for a kind this version
    does not know or a malformed record."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise ValueError(f"a finding is an object with a kind, not {data!r}")
    cls = KINDS.get(data["kind"])
    if cls is None:
        raise ValueError(f"unknown finding kind {data['kind']!r}")
    op = data.get("op")
    if op is not None and (isinstance(op, bool) or not isinstance(op, int)):
        raise ValueError(f"{data['kind']}: op {op!r} is not a history index")
    return cls(str(data.get("id", "")), str(data.get("detail", "")), op)


__all__ = [
    "KINDS",
    "AccountChanged",
    "AccountLost",
    "AccountResurrected",
    "AccountUnusable",
    "AccountWithoutMailbox",
    "AcknowledgedAccountLost",
    "AcknowledgedConfigLost",
    "AcknowledgedDeleteUndone",
    "AcknowledgedFlagsLost",
    "AcknowledgedMessageLost",
    "CheckError",
    "CheckerCrashed",
    "CheckerMissed",
    "CheckerUnexpected",
    "ConfigChanged",
    "ConfigDiffers",
    "ConfigKeyAdded",
    "ConfigKeyLost",
    "ConfigMissing",
    "ConfigSyntax",
    "DamageNotRepaired",
    "DamagedByRestart",
    "DanglingRow",
    "DatabaseCorrupt",
    "DatabaseMissing",
    "DeletedAccountLogsIn",
    "DeletedAccountPresent",
    "DircacheStale",
    "DisasterUndetected",
    "DuplicateDelivery",
    "Finding",
    "FlagsDiffer",
    "FolderCountMismatch",
    "InboxDiffers",
    "InboxUnreadable",
    "IndexKeyDangling",
    "IndexKeyMisdirected",
    "IndexKeyMissing",
    "LogGap",
    "LogMissing",
    "MailboxOwnerMismatch",
    "MailboxWithoutOwner",
    "MessageChanged",
    "MessageDigestMismatch",
    "MessageFileMissing",
    "MessageLost",
    "MessageResurrected",
    "MessageSizeMismatch",
    "NewerThanBackup",
    "OrphanMessageFile",
    "ProcedureError",
    "RecoveryFailed",
    "RedeliveredAfterRestore",
    "RefcountHigh",
    "RefcountLow",
    "RowChanged",
    "RowLost",
    "RowResurrected",
    "RowWithoutFolder",
    "ServedStateDiffers",
    "ServiceNotRestored",
    "Severity",
    "Skipped",
    "SpoolFileDamaged",
    "SpoolFileIgnored",
    "SpoolNotDrained",
    "StaleTempFile",
    "StepFailed",
    "StoreMissing",
    "UidAboveNext",
    "UidReused",
    "UidlReused",
    "UidnextRewound",
    "UidvalidityChangedNeedlessly",
    "UidvalidityDecreased",
    "Verdict",
    "finding_from_json",
]
