"""Findings about what clients were told (invariant 8): IMAP UIDs and UIDVALIDITY (RFC 3501
§2.3.1.1), POP3 unique-ids (RFC 1939 §7), acknowledged flag changes, and mail the restore
delivered a second time.

Ids: a folder is `ADDRESS/FOLDER`; a UID is `ADDRESS/FOLDER/UIDVALIDITY/UID`; a UIDL is
`ADDRESS/UIDL`; a message is `MAILBOX:MESSAGE-ID` like the other history findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.checker.findings.base import Finding, Severity

NEW_UIDVALIDITY = "imboxmaint newuidvalidity"
"""The store maintenance step a restore of db/mbox needs (see the README, "UIDs after a
restore")."""


@dataclass(frozen=True, slots=True)
class UidReused(Finding):
    kind = "uid-reused"
    severity = Severity.VIOLATION
    invariant = 8
    remedy = (
        "a UID a client cached now names another message under the same UIDVALIDITY: caching "
        f"clients show stale mail or delete the wrong one; run `{NEW_UIDVALIDITY}` after every "
        "restore of db/mbox"
    )


@dataclass(frozen=True, slots=True)
class UidnextRewound(Finding):
    kind = "uidnext-rewound"
    severity = Severity.VIOLATION
    invariant = 8
    remedy = (
        "the folder's UIDNEXT went back under the same UIDVALIDITY: the next deliveries reuse "
        f"UIDs clients cached; run `{NEW_UIDVALIDITY}` after every restore of db/mbox"
    )


@dataclass(frozen=True, slots=True)
class UidvalidityDecreased(Finding):
    kind = "uidvalidity-decreased"
    severity = Severity.VIOLATION
    invariant = 8
    remedy = (
        "UIDVALIDITY must only grow (RFC 3501 §2.3.1.1): a client may hold an older cache "
        f"under this value; run `{NEW_UIDVALIDITY}`, which picks a greater one"
    )


@dataclass(frozen=True, slots=True)
class UidlReused(Finding):
    kind = "uidl-reused"
    severity = Severity.VIOLATION
    invariant = 8
    remedy = (
        "a POP3 unique-id a client saw now names another message (RFC 1939 §7): clients that "
        "leave mail on the server skip it as already downloaded; run "
        f"`{NEW_UIDVALIDITY}` after every restore of db/mbox (it starts a fresh UIDL epoch)"
    )


@dataclass(frozen=True, slots=True)
class AcknowledgedFlagsLost(Finding):
    kind = "acknowledged-flags-lost"
    severity = Severity.VIOLATION
    invariant = 8
    remedy = (
        "a flag a client set (acknowledged STORE) is gone: the restore or recovery lost "
        "per-message state; restore db/mbox with its logs"
    )


@dataclass(frozen=True, slots=True)
class UidvalidityChangedNeedlessly(Finding):
    kind = "uidvalidity-changed-needlessly"
    severity = Severity.WARNING
    invariant = 8
    remedy = (
        "a crash recovered through the logs keeps every UID: a new UIDVALIDITY makes every "
        f"client download the folder again; run `{NEW_UIDVALIDITY}` only after a restore"
    )


@dataclass(frozen=True, slots=True)
class RedeliveredAfterRestore(Finding):
    kind = "redelivered-after-restore"
    severity = Severity.VIOLATION
    invariant = 6
    remedy = (
        "mail the backup's spool held was delivered again although it had been delivered "
        "already: restore mta/spool only together with the stores it was taken with, never "
        "into a live spool"
    )
