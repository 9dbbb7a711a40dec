"""The MTA queue (mta/spool): one file per message in transit, envelope + body + end record.

A queue file is written under spool/tmp/, fsynced, and renamed to spool/<id>.q before the MTA
answers `250`; it is removed only after the MSS committed the delivery. Format::

    FIREDRILL-SPOOL 1
    id: <queue id>
    queued: <epoch seconds>
    from: <envelope sender>
    to: <recipient>            (one line per recipient)
    size: <body bytes>

    <body, exactly `size` bytes>
    END <sha256 of the body>

A `.q` file without a valid end record is damage (the file was acknowledged complete).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import failpoints
from harness.store.fsync import fsync_dir
from harness.waiting import poll_last, poll_until

MAGIC = b"FIREDRILL-SPOOL 1\n"
SUFFIX = ".q"
END = b"\nEND "
DRAIN_INTERVAL = 0.1
"""Seconds between two looks at the spool while waiting for it to drain."""


class SpoolDamage(Exception):
    """A queue file that cannot be read back whole (internal to this module and the checker)."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message in the MTA queue."""

    queue_id: str
    sender: str
    recipients: tuple[str, ...]
    queued: int
    body: bytes
    path: Path


class Spool:
    """The mta/spool directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def enqueue(
        self, sender: str, recipients: Sequence[str], body: bytes, *, queue_id: str | None = None
    ) -> QueuedMessage:
        """Write a queue file durably; return only once it is safe to answer `250`."""
        queue_id = queue_id or f"{time.time_ns():x}{os.urandom(3).hex()}"
        queued = int(time.time())
        header = [b"id: " + queue_id.encode(), b"queued: %d" % queued, b"from: " + sender.encode()]
        header += [b"to: " + r.encode() for r in recipients]
        header.append(b"size: %d" % len(body))
        data = b"".join(
            (
                MAGIC,
                b"\n".join(header),
                b"\n\n",
                body,
                END,
                hashlib.sha256(body).hexdigest().encode(),
                b"\n",
            )
        )
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / queue_id
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        final = self.root / f"{queue_id}{SUFFIX}"
        os.replace(tmp, final)
        fsync_dir(self.root)
        failpoints.hit("spool.after-fsync")
        return QueuedMessage(queue_id, sender, tuple(recipients), queued, body, final)

    def remove(self, message: QueuedMessage) -> None:
        """Drop a queue file after the MSS committed its delivery."""
        failpoints.hit("spool.before-unlink")
        message.path.unlink(missing_ok=True)
        fsync_dir(self.root)

    def paths(self) -> list[Path]:
        return sorted(self.root.glob(f"*{SUFFIX}")) if self.root.is_dir() else []

    def leftovers(self) -> list[Path]:
        """Temporary files of writes that never completed (never acknowledged: a leak)."""
        return sorted(p for p in self.tmp.iterdir() if p.is_file()) if self.tmp.is_dir() else []

    def __iter__(self) -> Iterator[QueuedMessage]:
        for path in self.paths():
            yield read(path)


def read(path: Path) -> QueuedMessage:
    """Parse one queue file; raise SpoolDamage naming what is wrong."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise SpoolDamage("no spool header")
    head, sep, rest = data[len(MAGIC) :].partition(b"\n\n")
    if not sep:
        raise SpoolDamage("envelope not terminated")
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, _, value = line.partition(": ")
        fields.setdefault(name, []).append(value)
    try:
        size = int(fields["size"][0])
        queue_id = fields["id"][0]
        queued = int(fields["queued"][0])
        sender = fields["from"][0]
    except (KeyError, ValueError) as exc:
        raise SpoolDamage(f"envelope field missing or bad: {exc}") from exc
    body, trailer = rest[:size], rest[size:]
    if not trailer.startswith(END) or not trailer.endswith(b"\n"):
        raise SpoolDamage("no end record (file truncated?)")
    if trailer[len(END) : -1].decode("ascii", "replace") != hashlib.sha256(body).hexdigest():
        raise SpoolDamage("end record digest does not match the body")
    return QueuedMessage(queue_id, sender, tuple(fields.get("to", [])), queued, body, path)


def wait_drained(
    spool: Spool | Path, timeout: float, *, interval: float = DRAIN_INTERVAL, strict: bool = False
) -> int:
    """Wait up to `timeout` seconds (looking every `interval` s) for the spool to hold no queue
    file; return how many are left then (0: drained). With `strict`, a spool still holding
    mail raises `WaitTimeout` naming the count and the first files instead."""
    spool = spool if isinstance(spool, Spool) else Spool(spool)
    if strict:
        poll_until(
            spool.paths,
            timeout,
            interval,
            f"the spool {spool.root} to drain",
            done=_empty,
            describe=_queued,
        )
        return 0
    return len(poll_last(spool.paths, timeout, interval, done=_empty))


def _empty(paths: list[Path]) -> bool:
    return not paths


def _queued(paths: list[Path], shown: int = 5) -> str:
    names = ", ".join(p.name for p in paths[:shown]) + (", ..." if len(paths) > shown else "")
    return f"{len(paths)} queued message(s) still there ({names})"
