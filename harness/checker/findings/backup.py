"""Findings of invariant 7 after a restore: the tree against the backup's manifest."""

from __future__ import annotations

from dataclasses import dataclass

from harness.checker.findings.base import Finding, Severity

# invariant 7 and restores: the tree against a manifest made earlier


@dataclass(frozen=True, slots=True)
class MessageLost(Finding):
    kind = "message-lost"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore msgfiles and the message store from the backup"


@dataclass(frozen=True, slots=True)
class MessageResurrected(Finding):
    kind = "message-resurrected"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = (
        "a restore brought back a message that was gone: remove what the backup did not contain"
    )


@dataclass(frozen=True, slots=True)
class MessageChanged(Finding):
    kind = "message-changed"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore the message from the backup"


@dataclass(frozen=True, slots=True)
class RowLost(Finding):
    kind = "row-lost"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore db/mbox from the backup"


@dataclass(frozen=True, slots=True)
class RowResurrected(Finding):
    kind = "row-resurrected"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "remove what the backup did not contain"


@dataclass(frozen=True, slots=True)
class RowChanged(Finding):
    kind = "row-changed"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore db/mbox from the backup"


@dataclass(frozen=True, slots=True)
class AccountLost(Finding):
    kind = "account-lost"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore db/entry and db/index from the backup"


@dataclass(frozen=True, slots=True)
class AccountResurrected(Finding):
    kind = "account-resurrected"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "remove what the backup did not contain"


@dataclass(frozen=True, slots=True)
class AccountChanged(Finding):
    kind = "account-changed"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore db/entry from the backup"


@dataclass(frozen=True, slots=True)
class ConfigKeyLost(Finding):
    kind = "config-key-lost"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore config/config.db from the backup"


@dataclass(frozen=True, slots=True)
class ConfigKeyAdded(Finding):
    kind = "config-key-added"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore config/config.db from the backup"


@dataclass(frozen=True, slots=True)
class ConfigChanged(Finding):
    kind = "config-changed"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "restore config/config.db from the backup"


@dataclass(frozen=True, slots=True)
class NewerThanBackup(Finding):
    """A difference from the backup's manifest that an operation after the consistency
    point explains (`op`): state newer than the backup that still holds (a selective
    restore keeps it). Evidence, no violation (harness.checker.explained)."""

    kind = "newer-than-backup"
    severity = Severity.WARNING
    invariant = 7
    remedy = "none: kept since the backup, as the operation named made it"
