"""Findings the drill itself observes: a procedure that failed, service not back, mail not
delivered, damage not repaired, a disaster nobody noticed."""

from __future__ import annotations

from dataclasses import dataclass

from harness.checker.findings.base import Finding, Severity


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


# invariant 10: what clients are served equals the store, and survives a clean restart
@dataclass(frozen=True, slots=True)
class ServedStateDiffers(Finding):
    kind = "served-state-differs"
    severity = Severity.VIOLATION
    invariant = 10
    remedy = (
        "clients are served another state than the store holds: the servers kept state from "
        "before the restore; stop every server before restoring and start them after"
    )


@dataclass(frozen=True, slots=True)
class DamagedByRestart(Finding):
    kind = "damaged-by-restart"
    severity = Severity.VIOLATION
    invariant = 10
    remedy = (
        "the recovered installation did not survive a clean imctrl stop/start: what the "
        "restore left behind breaks at the next restart; see the finding it names"
    )
