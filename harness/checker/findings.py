"""Typed findings: what a checker reports, with the id of what is damaged and a remedy.

Each kind is a frozen dataclass; its class attributes say which invariant (DESIGN.md 1-7, 0 for
files outside the stores) it breaks, how bad it is, and what an operator should do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Severity(StrEnum):
    VIOLATION = "violation"
    """Data is lost, wrong or unreachable."""
    LEAK = "leak"
    """Space or records nobody uses any more (what a crash may legitimately leave)."""
    WARNING = "warning"
    """Disposable or derived data out of date."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, about one object: `subject` is its id (message, row, account, file, key)."""

    subject: str
    detail: str = ""
    op: int | None = None
    """The history index of the operation a history-based finding is about."""
    kind: ClassVar[str] = "finding"
    severity: ClassVar[Severity] = Severity.VIOLATION
    invariant: ClassVar[int] = 0
    remedy: ClassVar[str] = ""

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "kind": self.kind,
            "severity": self.severity.value,
            "invariant": self.invariant,
            "id": self.subject,
            "detail": self.detail,
            "remedy": self.remedy,
        }
        if self.op is not None:
            data["op"] = self.op
        return data

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}" + (f": {self.detail}" if self.detail else "")


_RESTORE_MSG = "restore this message file from the latest clean backup (check it with --against)"


# invariant 1: every row resolves to a record whose file exists with its size and digest


@dataclass(frozen=True, slots=True)
class MessageFileMissing(Finding):
    kind = "message-file-missing"
    severity = Severity.VIOLATION
    invariant = 1
    remedy = _RESTORE_MSG


@dataclass(frozen=True, slots=True)
class MessageSizeMismatch(Finding):
    kind = "message-size-mismatch"
    severity = Severity.VIOLATION
    invariant = 1
    remedy = _RESTORE_MSG


@dataclass(frozen=True, slots=True)
class MessageDigestMismatch(Finding):
    kind = "message-digest-mismatch"
    severity = Severity.VIOLATION
    invariant = 1
    remedy = _RESTORE_MSG


@dataclass(frozen=True, slots=True)
class DanglingRow(Finding):
    kind = "dangling-row"
    severity = Severity.VIOLATION
    invariant = 1
    remedy = "restore db/mbox and db/msgid from one consistent backup together with msgfiles"


# invariant 2: refcounts equal references; files without record are leaks


@dataclass(frozen=True, slots=True)
class RefcountLow(Finding):
    kind = "refcount-low"
    severity = Severity.VIOLATION
    invariant = 2
    remedy = "recount references (rows) and rewrite the msgid record before any purge runs"


@dataclass(frozen=True, slots=True)
class RefcountHigh(Finding):
    kind = "refcount-high"
    severity = Severity.LEAK
    invariant = 2
    remedy = "recount references; the file is kept longer than needed"


@dataclass(frozen=True, slots=True)
class OrphanMessageFile(Finding):
    kind = "orphan-message-file"
    severity = Severity.LEAK
    invariant = 2
    remedy = "no record points at this file: remove it, or investigate a lost record"


@dataclass(frozen=True, slots=True)
class StaleTempFile(Finding):
    kind = "stale-temp-file"
    severity = Severity.LEAK
    invariant = 2
    remedy = "an interrupted write: remove the temporary file"


# invariant 3: per folder, uids below uidnext and cached counts right


@dataclass(frozen=True, slots=True)
class RowWithoutFolder(Finding):
    kind = "row-without-folder"
    severity = Severity.VIOLATION
    invariant = 3
    remedy = "recreate the folder record or restore db/mbox"


@dataclass(frozen=True, slots=True)
class UidAboveNext(Finding):
    kind = "uid-above-next"
    severity = Severity.VIOLATION
    invariant = 3
    remedy = "raise uidnext above the highest uid (or restore db/mbox)"


@dataclass(frozen=True, slots=True)
class FolderCountMismatch(Finding):
    kind = "folder-count-mismatch"
    severity = Severity.VIOLATION
    invariant = 3
    remedy = "recompute the folder's cached counts from its rows"


# invariant 4: accounts, mailboxes, index, dircache agree


@dataclass(frozen=True, slots=True)
class AccountWithoutMailbox(Finding):
    kind = "account-without-mailbox"
    severity = Severity.VIOLATION
    invariant = 4
    remedy = "recreate the mailbox (mail to this account bounces) or restore db/mbox"


@dataclass(frozen=True, slots=True)
class MailboxWithoutOwner(Finding):
    kind = "mailbox-without-owner"
    severity = Severity.LEAK
    invariant = 4
    remedy = "no account owns this mailbox: delete it or restore the account"


@dataclass(frozen=True, slots=True)
class MailboxOwnerMismatch(Finding):
    kind = "mailbox-owner-mismatch"
    severity = Severity.VIOLATION
    invariant = 4
    remedy = "restore db/entry and db/mbox from the same backup"


@dataclass(frozen=True, slots=True)
class IndexKeyDangling(Finding):
    kind = "index-key-dangling"
    severity = Severity.VIOLATION
    invariant = 4
    remedy = "rebuild db/index from db/entry (dirserv does it at start)"


@dataclass(frozen=True, slots=True)
class IndexKeyMissing(Finding):
    kind = "index-key-missing"
    severity = Severity.VIOLATION
    invariant = 4
    remedy = "rebuild db/index from db/entry (dirserv does it at start)"


@dataclass(frozen=True, slots=True)
class IndexKeyMisdirected(Finding):
    kind = "index-key-misdirected"
    severity = Severity.VIOLATION
    invariant = 4
    remedy = "rebuild db/index from db/entry"


@dataclass(frozen=True, slots=True)
class DircacheStale(Finding):
    kind = "dircache-stale"
    severity = Severity.WARNING
    invariant = 4
    remedy = "delete db/dircache: it is rebuilt on demand"


# invariant 5: Berkeley DB environments verify and recover


@dataclass(frozen=True, slots=True)
class StoreMissing(Finding):
    kind = "store-missing"
    severity = Severity.VIOLATION
    invariant = 5
    remedy = "restore this path from the latest backup"


@dataclass(frozen=True, slots=True)
class DatabaseMissing(Finding):
    kind = "database-missing"
    severity = Severity.VIOLATION
    invariant = 5
    remedy = "restore the environment from the latest backup"


@dataclass(frozen=True, slots=True)
class DatabaseCorrupt(Finding):
    kind = "database-corrupt"
    severity = Severity.VIOLATION
    invariant = 5
    remedy = "restore the environment (data files with their logs) from a clean backup"


@dataclass(frozen=True, slots=True)
class LogMissing(Finding):
    kind = "log-missing"
    severity = Severity.VIOLATION
    invariant = 5
    remedy = "restore the environment's data files together with all their log files"


@dataclass(frozen=True, slots=True)
class LogGap(Finding):
    kind = "log-gap"
    severity = Severity.VIOLATION
    invariant = 5
    remedy = "restore the environment's data files together with all their logs"


@dataclass(frozen=True, slots=True)
class RecoveryFailed(Finding):
    kind = "recovery-failed"
    severity = Severity.VIOLATION
    invariant = 5
    remedy = "run db_recover -c (catastrophic) or restore the environment from backup"


# files outside the stores: config.db and the MTA spool


@dataclass(frozen=True, slots=True)
class ConfigMissing(Finding):
    kind = "config-missing"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "restore config/config.db from the latest backup"


@dataclass(frozen=True, slots=True)
class ConfigSyntax(Finding):
    kind = "config-syntax"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "repair the line, or restore config/config.db"


@dataclass(frozen=True, slots=True)
class SpoolFileDamaged(Finding):
    kind = "spool-file-damaged"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "restore mta/spool from backup: this queued message cannot be delivered"


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


# invariant 6 and 7 from the history: what clients were told happened, happened
@dataclass(frozen=True, slots=True)
class AcknowledgedMessageLost(Finding):
    kind = "acknowledged-message-lost"
    severity = Severity.VIOLATION
    invariant = 6
    remedy = "acknowledged with 250 but not in the mailbox: find the step that lost it"


@dataclass(frozen=True, slots=True)
class DuplicateDelivery(Finding):
    kind = "duplicate-delivery"
    severity = Severity.WARNING
    invariant = 6
    remedy = "a redelivery after a crash stored the message twice (at-least-once delivery)"


@dataclass(frozen=True, slots=True)
class AcknowledgedDeleteUndone(Finding):
    kind = "acknowledged-delete-undone"
    severity = Severity.VIOLATION
    invariant = 6
    remedy = "a deletion the client was told succeeded came back: the expunge was not durable"


@dataclass(frozen=True, slots=True)
class AcknowledgedAccountLost(Finding):
    kind = "acknowledged-account-lost"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = (
        "an acknowledged provisioning is missing: restore db/entry and db/index or re-provision"
    )


@dataclass(frozen=True, slots=True)
class DeletedAccountPresent(Finding):
    kind = "deleted-account-present"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "an acknowledged account deletion came back: delete it again"


@dataclass(frozen=True, slots=True)
class AcknowledgedConfigLost(Finding):
    kind = "acknowledged-config-lost"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "an acknowledged configuration change is not in config.db: apply it again"


# drills: what the runner itself observes
@dataclass(frozen=True, slots=True)
class DamageNotRepaired(Finding):
    kind = "damage-not-repaired"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "the restore did not bring back what the disaster destroyed: check what it copies"


@dataclass(frozen=True, slots=True)
class ServiceNotRestored(Finding):
    kind = "service-not-restored"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "clients could not log in after recovery: read the server logs in the report"


@dataclass(frozen=True, slots=True)
class SpoolNotDrained(Finding):
    kind = "spool-not-drained"
    severity = Severity.VIOLATION
    invariant = 6
    remedy = "queued mail was not delivered after recovery: check the MTA log and the MSS"


@dataclass(frozen=True, slots=True)
class ProcedureError(Finding):
    kind = "procedure-failed"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "the backup or restore procedure failed: its output is in the report"


@dataclass(frozen=True, slots=True)
class DisasterUndetected(Finding):
    kind = "disaster-undetected"
    severity = Severity.WARNING
    invariant = 0
    remedy = "firedrill check did not notice this disaster before recovery"


KINDS: dict[str, type[Finding]] = {cls.kind: cls for cls in Finding.__subclasses__()}


@dataclass(frozen=True, slots=True)
class CheckError:
    """A checker that crashed: its invariant is unknown, not passed."""

    check: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "error": self.error}


@dataclass(frozen=True, slots=True)
class Skipped:
    """A check that could not run because what it reads is already reported broken."""

    check: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason}
