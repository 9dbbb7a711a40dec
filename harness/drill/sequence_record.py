"""The record of a sequence run and its judgement: the same typed findings and the same
`Judgement` as a drill's, so a sequence's report reads like a drill's.

Each step leaves a `StepRecord` (what ran, how long, the findings after it: where the live
installation differs from the reference model). `judge_sequence(record)` is pure: every
finding fails the sequence; a run the harness stopped is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.checker.findings import Finding, Verdict
from harness.drill.codec import Jsonable
from harness.drill.verdict import Classification, Classified, Judgement, Metrics
from harness.history import Stamp


@dataclass(frozen=True, slots=True)
class StepRecord:
    """Step `n` (0: the start, before any step) as text, its seconds, and the findings after
    it (empty: the installation matched the model)."""

    n: int
    step: str
    seconds: float
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class SequenceRecord(Jsonable):
    """A sequence as run: its name, procedure, population, backend, the TOML it was run from,
    and its steps (the run stops at the first step with findings)."""

    sequence: str
    procedure: str
    tier: str
    seed: int
    backend: str
    started: Stamp
    file: str
    steps: tuple[StepRecord, ...] = ()
    planned: int = 0
    """How many steps the sequence has (`steps` holds the start and those that ran)."""
    error: str = ""
    complete: bool = False


def judge_sequence(record: SequenceRecord) -> Judgement:
    """Every finding after a step is a violation: the installation differs from the model."""
    classified = tuple(
        Classified(finding, Classification.VIOLATION, f"after step {step.n}: {step.step}")
        for step in record.steps
        for finding in step.findings
    )
    reasons = tuple(f"{c.finding.kind} {c.finding.subject}" for c in classified)
    if reasons:
        verdict = Verdict.FAIL
    elif record.error or not record.complete:
        verdict, reasons = Verdict.UNKNOWN, (record.error or "the run stopped early",)
    else:
        verdict = Verdict.PASS
    return Judgement(verdict, reasons, classified, (), Metrics(), ())
