"""What a disaster did: the fault record (when it began, when the damage was complete, what it
destroyed) and the context a disaster strikes in."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from harness.environments.backend import Backend
from harness.history import HistoryWriter, Stamp
from harness.layout import Layout


@dataclass(frozen=True, slots=True)
class Damaged:
    """One thing a disaster destroyed: what kind of object (`account`, `mailbox`, `config`,
    `config-file`, `message`, `path`), its id, and its state before."""

    kind: str
    id: str
    before: str = ""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "before": self.before}

    @classmethod
    def from_json(cls, data: Any) -> Damaged:
        return cls(str(data["kind"]), str(data["id"]), str(data.get("before", "")))


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """A disaster: `at` when it began to strike, `struck` when the damage was complete (a lost
    tree takes a while to delete; the real disk is gone at once). Recovery time runs from
    `struck`, the recovery point is taken at `at`."""

    kind: str
    at: Stamp
    struck: Stamp
    detail: str
    damaged: tuple[Damaged, ...] = field(default_factory=tuple)

    @property
    def inflict_seconds(self) -> float:
        return self.struck.mono - self.at.mono

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "at": self.at.to_json(),
            "struck": self.struck.to_json(),
            "detail": self.detail,
            "damaged": [d.to_json() for d in self.damaged],
        }

    @classmethod
    def from_json(cls, data: Any) -> FaultRecord:
        return cls(
            str(data["kind"]),
            Stamp.from_json(data["at"]),
            Stamp.from_json(data["struck"]),
            str(data["detail"]),
            tuple(Damaged.from_json(d) for d in data["damaged"]),
        )


@dataclass(frozen=True, slots=True)
class FaultContext:
    """What a disaster strikes: the installation, the backend running it, the history it is
    recorded in, and the seeded random source that picks its victims."""

    layout: Layout
    backend: Backend
    history: HistoryWriter
    rng: random.Random


Strike = tuple[str, list[Damaged]]
"""What inflicting a disaster returns: one line of what happened, and what it destroyed."""
