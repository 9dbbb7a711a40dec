"""The history (ledger): the one record workload, faults, procedures and checkers share.

Append-only JSON lines, written and flushed as things happen, so the file is readable after the
harness itself is killed. An operation is two lines: an `invoke` before the client acts and a
`complete` after it knows the outcome (`ok`, `fail`, or `unknown` when the connection broke
before the server answered). An invoke without its complete is read back as `unknown`.
Faults, procedures and phases append `event` lines.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import FiredrillError


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Deliver:
    """SMTP delivery of one message; `accepted` is filled at completion (RCPT answered 250)."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    size: int
    accepted: tuple[str, ...] = ()
    queue_id: str = ""


@dataclass(frozen=True, slots=True)
class Read:
    """A client reading a mailbox (POP3 RETR or IMAP FETCH); `count` at completion."""

    address: str
    protocol: str
    count: int = 0


@dataclass(frozen=True, slots=True)
class SetFlag:
    address: str
    protocol: str
    message_id: str
    flag: str


@dataclass(frozen=True, slots=True)
class Delete:
    """Deleting messages (POP3 DELE+QUIT, IMAP STORE \\Deleted+EXPUNGE) by their Message-ID."""

    address: str
    protocol: str
    message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Provision:
    address: str
    password: str
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Deprovision:
    address: str


@dataclass(frozen=True, slots=True)
class ConfigChange:
    key: str
    value: str


Target = Deliver | Read | SetFlag | Delete | Provision | Deprovision | ConfigChange
KINDS: dict[str, type[Target]] = {
    "deliver": Deliver,
    "read": Read,
    "flag": SetFlag,
    "delete": Delete,
    "provision": Provision,
    "deprovision": Deprovision,
    "config": ConfigChange,
}
_NAMES = {cls: name for name, cls in KINDS.items()}


def kind_of(target: Target) -> str:
    return _NAMES[type(target)]


def _encode(target: Target) -> dict[str, Any]:
    return {"kind": kind_of(target), **asdict(target)}


def _decode(data: dict[str, Any]) -> Target:
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "kind"
    }
    return KINDS[data["kind"]](**fields)


@dataclass(frozen=True, slots=True)
class Stamp:
    """A moment on both clocks: monotonic for durations, wall for reports and RPO."""

    mono: float
    wall: float

    @classmethod
    def now(cls) -> Stamp:
        return cls(time.monotonic(), time.time())


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation with everything a checker needs to judge it.

    `target` is a typed record of what it touched (the ids a checker needs).
    """

    index: int
    worker: int
    invoked: Stamp
    target: Target
    outcome: Outcome = Outcome.UNKNOWN
    completed: Stamp | None = None
    result: Target | None = None
    """The target as completed (e.g. a Deliver with its accepted recipients)."""
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True, slots=True)
class Event:
    """Something that is not a client operation: a phase, a fault, a procedure step."""

    kind: str
    name: str
    at: Stamp
    detail: dict[str, Any] = field(default_factory=dict)


class HistoryWriter:
    """Thread-safe appender; every line is flushed to the OS as soon as it is written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = path.open("a", buffering=1)
        self._lock = threading.Lock()
        self._next = self._count_existing(path)

    @staticmethod
    def _count_existing(path: Path) -> int:
        highest = -1
        for item in read_history(path):
            if isinstance(item, Operation):
                highest = max(highest, item.index)
        return highest + 1

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()

    def invoke(self, target: Target, *, worker: int = 0) -> int:
        with self._lock:
            index = self._next
            self._next += 1
        at = Stamp.now()
        self._write(
            {
                "type": "invoke",
                "index": index,
                "worker": worker,
                "mono": at.mono,
                "wall": at.wall,
                "target": _encode(target),
            }
        )
        return index

    def complete(
        self, index: int, outcome: Outcome, *, result: Target | None = None, error: str = ""
    ) -> None:
        at = Stamp.now()
        self._write(
            {
                "type": "complete",
                "index": index,
                "outcome": outcome.value,
                "mono": at.mono,
                "wall": at.wall,
                "error": error,
                "result": _encode(result) if result is not None else None,
            }
        )

    def event(self, kind: str, name: str, **detail: Any) -> Stamp:
        at = Stamp.now()
        self._write(
            {
                "type": "event",
                "kind": kind,
                "name": name,
                "mono": at.mono,
                "wall": at.wall,
                "detail": detail,
            }
        )
        return at

    def sync(self) -> None:
        with self._lock:
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_history(path: Path) -> Iterator[Operation | Event]:
    """Operations (in invoke order, paired with their completion) and events, from a file.

    A torn last line (the writer was killed mid-write) is ignored; an operation never
    completed is `unknown`.
    """
    if not path.exists():
        return
    invokes: dict[int, dict[str, Any]] = {}
    completes: dict[int, dict[str, Any]] = {}
    order: list[tuple[str, Any]] = []
    with path.open() as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
            except ValueError:
                if line.endswith("\n"):
                    raise FiredrillError(f"{path}:{number}: not a history record") from None
                break  # torn last line
            kind = record.get("type")
            if kind == "invoke":
                invokes[record["index"]] = record
                order.append(("op", record["index"]))
            elif kind == "complete":
                completes[record["index"]] = record
            elif kind == "event":
                order.append(("event", record))
    for what, value in order:
        if what == "event":
            yield Event(
                value["kind"],
                value["name"],
                Stamp(value["mono"], value["wall"]),
                value.get("detail", {}),
            )
            continue
        inv = invokes[value]
        done = completes.get(value)
        result = done.get("result") if done else None
        yield Operation(
            index=inv["index"],
            worker=inv["worker"],
            invoked=Stamp(inv["mono"], inv["wall"]),
            target=_decode(inv["target"]),
            outcome=Outcome(done["outcome"]) if done else Outcome.UNKNOWN,
            completed=Stamp(done["mono"], done["wall"]) if done else None,
            result=_decode(result) if result else None,
            error=done.get("error", "") if done else "",
        )


def operations(path: Path) -> Iterator[Operation]:
    for item in read_history(path):
        if isinstance(item, Operation):
            yield item
