"""The history (ledger): the one record workload, faults, procedures and checkers share.

Append-only JSON lines, written and flushed as things happen, so the file is readable after the
harness itself is killed. An operation is two lines: an `invoke` before the client acts and a
`complete` after it knows the outcome (`ok`, `fail`, or `unknown` when the connection broke
before the server answered). An invoke without its complete is read back as `unknown`.
Faults, procedures and phases append `event` lines. What a client session was shown (IMAP
UIDVALIDITY, UIDNEXT and UIDs, POP3 unique-ids, each with the Message-ID it named) is a `seen`
line: the promises of invariant 8 that a recovery must keep.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
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
    """The typed target of a record; ValueError or TypeError when it is not one."""
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"unknown operation kind {kind!r}")
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "kind"
    }
    return KINDS[kind](**fields)


def _seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Stamp:
    """A moment on both clocks: monotonic for durations, wall for reports and RPO."""

    mono: float
    wall: float

    @classmethod
    def now(cls) -> Stamp:
        return cls(time.monotonic(), time.time())

    def to_json(self) -> dict[str, float]:
        return {"mono": self.mono, "wall": self.wall}

    @classmethod
    def from_json(cls, data: Any) -> Stamp:
        """Raises ValueError unless `data` is {"mono": number, "wall": number}."""
        if not isinstance(data, dict):
            raise ValueError(f"a moment is {{mono, wall}}, not {data!r}")
        mono, wall = data.get("mono"), data.get("wall")
        if not (_seconds(mono) and _seconds(wall)):
            raise ValueError(f"a moment is {{mono, wall}} seconds, not {data!r}")
        return cls(float(data["mono"]), float(data["wall"]))


@dataclass(frozen=True, slots=True)
class Seen:
    """What one client session was shown of one folder (DESIGN.md invariant 8).

    IMAP (`protocol` "imap"): the folder's UIDVALIDITY and UIDNEXT announced at SELECT (RFC 3501
    §2.3.1.1) and `ids`, (UID, Message-ID) pairs of the messages the session fetched. POP3
    ("pop3", folder INBOX, uidvalidity and uidnext 0): `ids` are (unique-id, Message-ID) pairs
    from UIDL with TOP or RETR (RFC 1939 §7). A Message-ID is "" when the message had none.
    """

    address: str
    protocol: str
    folder: str = "INBOX"
    uidvalidity: int = 0
    uidnext: int = 0
    ids: tuple[tuple[str, str], ...] = ()
    at: Stamp | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "seen",
            "address": self.address,
            "protocol": self.protocol,
            "folder": self.folder,
            "uidvalidity": self.uidvalidity,
            "uidnext": self.uidnext,
            "ids": [list(pair) for pair in self.ids],
            "mono": self.at.mono if self.at else 0.0,
            "wall": self.at.wall if self.at else 0.0,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Seen:
        """Raises ValueError, KeyError or TypeError when `record` is not a seen line."""
        ids = record.get("ids", [])
        if not isinstance(ids, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in ids
        ):
            raise ValueError("seen ids are [id, Message-ID] string pairs")
        numbers = [record.get("uidvalidity", 0), record.get("uidnext", 0)]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            raise ValueError("seen uidvalidity and uidnext are counts")
        return cls(
            str(record["address"]),
            str(record["protocol"]),
            str(record.get("folder", "INBOX")),
            numbers[0],
            numbers[1],
            tuple((a, b) for a, b in ids),
            Stamp(float(record["mono"]), float(record["wall"])),
        )


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
    """Thread-safe appender; every line is flushed to the OS as soon as it is written.

    Opening an existing history first repairs its end if a writer was killed mid-line: an
    incomplete last line is truncated away (the reader ignores it anyway, so nothing it reads
    is lost), and a complete record that only lacks its newline gets one. Without this, the
    first new record would be glued onto the torn one and the file would stop being readable.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        _repair_tail(path)
        self._next = self._count_existing(path)
        self._handle = path.open("a", buffering=1)
        self._lock = threading.Lock()
        self.dropped = 0
        """Records written after close (by clients still running when a drill stopped)."""

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
            if self._handle.closed:  # a client thread finishing after the drill ended
                self.dropped += 1
                return
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

    def seen(self, seen: Seen) -> None:
        """Record what a client session was shown (stamped now)."""
        self._write(replace(seen, at=Stamp.now()).to_json())

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


def _repair_tail(path: Path) -> None:
    """End an existing history on a newline: truncate a torn last line, terminate a whole one."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return
    with handle:
        size = handle.seek(0, os.SEEK_END)
        start = size
        while start > 0:
            block = max(0, start - 65536)
            handle.seek(block)
            data = handle.read(start - block)
            cut = data.rfind(b"\n")
            if cut >= 0:
                start = block + cut + 1
                break
            start = block
        if start == size:
            return  # empty, or already ends with a newline
        handle.seek(start)
        try:
            json.loads(handle.read())
        except ValueError:
            handle.truncate(start)  # a torn record: nothing a reader could use
        else:
            handle.seek(size)
            handle.write(b"\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True, slots=True)
class _Completion:
    outcome: Outcome
    at: Stamp
    result: Target | None
    error: str


def _parse(record: Any) -> Operation | tuple[int, _Completion] | Event | Seen:
    """An invoke (an Operation not completed yet), a completion of an index, an event, or
    what a client saw.

    Raises ValueError, KeyError or TypeError when `record` is not a history record.
    """
    if not isinstance(record, dict):
        raise TypeError(f"a JSON {type(record).__name__}, not an object")
    kind = record.get("type")
    if kind not in ("invoke", "complete", "event", "seen"):
        raise ValueError(f"unknown record type {kind!r}")
    if kind == "seen":
        return Seen.from_json(record)
    at = Stamp(float(record["mono"]), float(record["wall"]))
    if kind == "invoke":
        return Operation(
            index=int(record["index"]),
            worker=int(record["worker"]),
            invoked=at,
            target=_decode(record["target"]),
        )
    if kind == "complete":
        result = record.get("result")
        done = _Completion(
            Outcome(record["outcome"]),
            at,
            _decode(result) if result else None,
            str(record.get("error", "")),
        )
        return int(record["index"]), done
    detail = record.get("detail", {})
    if not isinstance(detail, dict):
        raise TypeError(f"event detail is a {type(detail).__name__}, not an object")
    return Event(str(record["kind"]), str(record["name"]), at, detail)


Record = Operation | Event | Seen
"""What a history holds, as `read_history` yields it."""


def read_history(path: Path) -> Iterator[Record]:
    """Operations (in invoke order, paired with their completion), events and what clients
    saw, from a file.

    A torn last line (the writer was killed mid-write) is ignored; an operation never
    completed is `unknown`. Any other line that is not a history record raises FiredrillError
    "FILE:LINE: what is wrong" before anything is yielded.
    """
    if not path.exists():
        return
    invokes: dict[int, Operation] = {}
    completes: dict[int, _Completion] = {}
    order: list[int | Event | Seen] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
            except ValueError as exc:
                if not line.endswith(b"\n"):
                    break  # torn last line
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise FiredrillError(
                    f"{path}:{number}: not a history record: not JSON ({reason})"
                ) from None
            try:
                item = _parse(record)
            except KeyError as exc:
                raise FiredrillError(
                    f"{path}:{number}: not a history record: no field {exc}"
                ) from None
            except (ValueError, TypeError) as exc:
                raise FiredrillError(f"{path}:{number}: not a history record: {exc}") from None
            if isinstance(item, Operation):
                invokes[item.index] = item
                order.append(item.index)
            elif isinstance(item, Event | Seen):
                order.append(item)
            else:
                index, done = item
                completes[index] = done
    for entry in order:
        if isinstance(entry, Event | Seen):
            yield entry
            continue
        op = invokes[entry]
        completion = completes.get(entry)
        if completion is None:
            yield op
            continue
        yield replace(
            op,
            outcome=completion.outcome,
            completed=completion.at,
            result=completion.result,
            error=completion.error,
        )


def validate_history(path: Path) -> None:
    """Raise FiredrillError ("FILE:LINE: what is wrong") unless every line of `path` is a record.

    For commands to call before any check starts; a missing file is left to the caller.
    """
    for _ in read_history(path):
        pass


def operations(path: Path) -> Iterator[Operation]:
    for item in read_history(path):
        if isinstance(item, Operation):
            yield item
