"""The verdict of a drill: every finding classified, every lost operation listed, the metrics.

A loss is *allowed* only when the scenario accepts after-backup loss, recovery was a restore,
and the operation was acknowledged after the backup's consistency point (chapter 13.4.2: "Any
messages received and not read by users since the last backup will be lost"). Everything else
a checker reports as a violation fails the drill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from harness.checker.findings import (
    AcknowledgedAccountLost,
    AcknowledgedConfigLost,
    AcknowledgedDeleteUndone,
    AcknowledgedMessageLost,
    DeletedAccountPresent,
    Finding,
    OrphanMessageFile,
    Severity,
    Verdict,
)
from harness.history import Operation, operations
from harness.scenarios.scenario import Scenario

HISTORY_KINDS = (
    AcknowledgedMessageLost,
    AcknowledgedDeleteUndone,
    AcknowledgedAccountLost,
    DeletedAccountPresent,
    AcknowledgedConfigLost,
)


class Classification(StrEnum):
    ALLOWED = "allowed"
    VIOLATION = "violation"
    LEAK = "leak"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Classified:
    finding: Finding
    classification: Classification
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            **self.finding.to_json(),
            "classification": self.classification.value,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class LostOperation:
    """An acknowledged operation whose effect did not survive."""

    op: int
    kind: str
    ids: str
    acknowledged_at: float
    classification: Classification
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "op": self.op,
            "kind": self.kind,
            "ids": self.ids,
            "acknowledged_at": self.acknowledged_at,
            "classification": self.classification.value,
            "reason": self.reason,
        }


@dataclass
class Judgement:
    verdict: Verdict
    findings: list[Classified] = field(default_factory=list)
    lost: list[LostOperation] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def classify(
    scenario: Scenario,
    findings: Sequence[Finding],
    history: Path,
    *,
    restored: bool,
    point_mono: float | None,
    backup_messages: set[str] | None = None,
) -> tuple[list[Classified], list[LostOperation]]:
    """Classify each finding; list the lost acknowledged operations.

    After a restore, a message file the backup did not contain is not a harmless leak: the
    restore left the old tree's content behind (it did not remove what the backup lacked).
    """
    ops: dict[int, Operation] = {op.index: op for op in operations(history)}
    may_lose = restored and scenario.expect.loss == "after-backup" and point_mono is not None
    classified: list[Classified] = []
    lost: list[LostOperation] = []
    for finding in findings:
        if isinstance(finding, HISTORY_KINDS) and finding.op is not None:
            op = ops.get(finding.op)
            acked = op.completed if op is not None else None
            if (
                acked is not None
                and may_lose
                and point_mono is not None
                and acked.mono >= point_mono
            ):
                verdict = Classification.ALLOWED
                reason = "acknowledged after the backup's consistency point"
            elif acked is not None and point_mono is not None and restored:
                verdict = Classification.VIOLATION
                reason = (
                    "acknowledged before the backup's consistency point: the backup should hold it"
                    if acked.mono < point_mono
                    else "the scenario allows no loss"
                )
            else:
                verdict = Classification.VIOLATION
                reason = "acknowledged, and recovery was a restart through the logs"
            classified.append(Classified(finding, verdict, reason))
            lost.append(
                LostOperation(
                    finding.op,
                    finding.kind,
                    finding.subject,
                    acked.wall if acked else 0.0,
                    verdict,
                    reason,
                )
            )
            continue
        if (
            restored
            and backup_messages is not None
            and isinstance(finding, OrphanMessageFile)
            and finding.subject.rsplit("/", 1)[-1] not in backup_messages
        ):
            reason = "left behind by the restore: the backup does not contain it"
            classified.append(Classified(finding, Classification.VIOLATION, reason))
            continue
        if finding.severity is Severity.VIOLATION:
            classified.append(Classified(finding, Classification.VIOLATION, "invariant broken"))
        elif finding.severity is Severity.LEAK:
            classified.append(
                Classified(
                    finding, Classification.LEAK, "a leak (space, not data) that a crash may leave"
                )
            )
        else:
            classified.append(Classified(finding, Classification.WARNING, "disposable data"))
    return classified, lost


def judge(
    classified: Sequence[Classified],
    lost: Sequence[LostOperation],
    *,
    checker_errors: int,
    target_misses: Sequence[str],
    fail_on_targets: bool,
) -> Judgement:
    """fail > unknown > pass."""
    reasons = [
        f"{c.finding.kind} {c.finding.subject}"
        for c in classified
        if c.classification is Classification.VIOLATION
    ]
    if fail_on_targets:
        reasons += [f"target missed: {m}" for m in target_misses]
    if reasons:
        verdict = Verdict.FAIL
    elif checker_errors:
        verdict = Verdict.UNKNOWN
        reasons = [f"{checker_errors} check(s) could not run"]
    else:
        verdict = Verdict.PASS
    return Judgement(verdict, list(classified), list(lost), reasons)
