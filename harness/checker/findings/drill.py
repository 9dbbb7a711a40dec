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
