"""Findings from the history (invariants 6 and 7): what clients were told happened, happened."""

from __future__ import annotations

from dataclasses import dataclass

from harness.checker.findings.base import Finding, Severity


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
