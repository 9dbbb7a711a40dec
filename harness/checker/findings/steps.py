"""Findings of the step engine (harness/drill/stepper.py): a live installation that differs
from the reference model of a sequence after a step. Each names the account, key, file or step
it is about."""

from __future__ import annotations

from dataclasses import dataclass

from harness.checker.findings.base import Finding, Severity

_REPLAY = "run the sequence again with `firedrill run FILE` and read the step's report"


@dataclass(frozen=True, slots=True)
class StepFailed(Finding):
    kind = "step-failed"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "the system refused a step it must accept: " + _REPLAY


@dataclass(frozen=True, slots=True)
class InboxDiffers(Finding):
    kind = "inbox-differs"
    severity = Severity.VIOLATION
    invariant = 6
    remedy = "an INBOX over IMAP lacks acknowledged mail or shows mail nobody sent: " + _REPLAY


@dataclass(frozen=True, slots=True)
class FlagsDiffer(Finding):
    kind = "flags-differ"
    severity = Severity.VIOLATION
    invariant = 6
    remedy = "acknowledged flag changes did not hold (or others appeared): " + _REPLAY


@dataclass(frozen=True, slots=True)
class DeletedAccountLogsIn(Finding):
    kind = "deleted-account-logs-in"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "an account whose deletion was acknowledged logs in again: delete it again"


@dataclass(frozen=True, slots=True)
class ConfigDiffers(Finding):
    kind = "config-differs"
    severity = Severity.VIOLATION
    invariant = 7
    remedy = "the configuration server answers another value than acknowledged: set it again"


@dataclass(frozen=True, slots=True)
class AccountUnusable(Finding):
    kind = "account-unusable"
    severity = Severity.VIOLATION
    invariant = 4
    remedy = "a live account cannot log in or open its INBOX: check db/entry and db/mbox"


@dataclass(frozen=True, slots=True)
class InboxUnreadable(Finding):
    kind = "inbox-unreadable"
    severity = Severity.VIOLATION
    invariant = 1
    remedy = "FETCH of the INBOX failed: check the rows and message files of the mailbox"


@dataclass(frozen=True, slots=True)
class CheckerUnexpected(Finding):
    kind = "checker-unexpected"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "firedrill check reports damage no step inflicted: " + _REPLAY


@dataclass(frozen=True, slots=True)
class CheckerMissed(Finding):
    kind = "checker-missed"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "firedrill check misses damage a step inflicted: a checker bug, report it"


@dataclass(frozen=True, slots=True)
class CheckerCrashed(Finding):
    kind = "checker-error"
    severity = Severity.VIOLATION
    invariant = 0
    remedy = "a check could not run on the installation: read its error"
