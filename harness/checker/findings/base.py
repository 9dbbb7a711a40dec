"""What every finding shares: its severity, the verdict findings merge into, and the
records of checks that crashed or were skipped."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Verdict(StrEnum):
    """What a check or a drill concludes; verdicts merge as fail > unknown > pass."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


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
