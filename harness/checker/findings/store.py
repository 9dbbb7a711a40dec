"""Findings about the stores as they are: invariants 1-5 and the files outside the stores (0)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.checker.findings.base import Finding, Severity

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


@dataclass(frozen=True, slots=True)
class SpoolFileIgnored(Finding):
    """A queued message in mta/spool under a name the MTA never scans (it delivers `*.q`
    files at the top of the spool): e.g. `*.q.restored`, a copy kept in a subdirectory."""

    kind = "spool-file-ignored"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = (
        "this queued message will never be delivered: move it to mta/spool/<queue id>.q "
        "(or remove it if its mail was delivered)"
    )
