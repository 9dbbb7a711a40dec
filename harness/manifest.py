"""Manifests: what an installation held at one moment, to compare a restored tree against.

A manifest is JSON lines: a header, then the sections `msg` (message id, size, digest), `row`
(mailbox, folder, uid -> message id and flags), `acct` (the full directory entry), `conf`
(config.db keys) and `spool` (queued mail), each in key order, then an `end` record with the
counts (a manifest without it is truncated and refused). This module writes, reads and
summarizes manifests; the comparison with a tree (invariant 7) is the checker's
(`harness.checker.backup`), a streaming merge of each section with the tree's records (TREE).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from harness import __version__
from harness.checker.databases import ScratchStores, items, open_scratch
from harness.errors import ConfigSyntaxError, FiredrillError, ManifestError
from harness.layout import Layout
from harness.sandbox import require_installation
from harness.store import config as configdb
from harness.store.messagestore import header_message_id
from harness.store.records import MsgRecord, Row, RowKey, flags_code
from harness.store.spool import Spool, SpoolDamage
from harness.store.spool import read as read_queue_file

FORMAT = "firedrill-manifest"
VERSION = 1
SECTIONS = ("msg", "row", "acct", "conf", "spool")
Record = dict[str, Any]
T = TypeVar("T")


# -- what the tree holds, as manifest records ------------------------------------------------


def _messages(stores: ScratchStores) -> Iterator[Record]:
    for k, v in items(stores.handle("msgid", "msgid.db")):
        r = MsgRecord.decode(k, v)
        if r.refcount > 0:
            yield {"t": "msg", "id": r.msgid, "size": r.size, "sha256": r.digest, "h": r.header_id}


def _rows(stores: ScratchStores) -> Iterator[Record]:
    for k, v in items(stores.handle("mbox", "rows.db")):
        r = Row.decode(k, v)
        yield {
            "t": "row",
            "k": [r.key.mailbox, r.key.folder, r.key.uid],
            "m": r.msgid,
            "f": flags_code(r.flags),
        }


def _accounts(stores: ScratchStores) -> Iterator[Record]:
    for k, v in items(stores.handle("entry", "entry.db")):
        yield {"t": "acct", "id": k.decode(), "entry": json.loads(v)}


def config_records(layout: Layout) -> Iterator[Record]:
    if not layout.config.is_file():
        return  # a tree (or a backup) without config.db records no keys
    text = layout.config.read_text(encoding="utf-8", errors="surrogateescape")
    entries = configdb.ConfigDB.parse(text, path="config/config.db").entries()
    for key, value in sorted(entries, key=lambda kv: str(kv[0])):
        yield {"t": "conf", "k": str(key), "v": value}


def _spool(layout: Layout) -> Iterator[Record]:
    """Messages waiting in the MTA queue: after a restore they are delivered, not resurrected."""
    for path in Spool(layout.spool).paths():
        try:
            queued = read_queue_file(path)
        except SpoolDamage:
            continue
        yield {
            "t": "spool",
            "q": queued.queue_id,
            "h": header_message_id(queued.body),
            "to": list(queued.recipients),
        }


TREE: dict[str, tuple[Callable[[ScratchStores, Layout], Iterator[Record]], tuple[str, ...]]] = {
    "msg": (lambda s, _: _messages(s), ("msgid/msgid.db",)),
    "row": (lambda s, _: _rows(s), ("mbox/rows.db",)),
    "acct": (lambda s, _: _accounts(s), ("entry/entry.db",)),
    "conf": (lambda _, lay: config_records(lay), ()),
    "spool": (lambda _, lay: _spool(lay), ()),
}


def write_manifest(root: Path, output: Path) -> dict[str, int]:
    """Record the installation at `root` into `output` (atomically); return the counts.

    The records go to a temporary file next to `output`, renamed over it once complete; the
    temporary file is removed whatever stops the writing (bad config, full disk, Ctrl-C).
    """
    if output.is_dir():
        raise FiredrillError(f"{output} is a directory: give the manifest file's path")
    layout = require_installation(root)
    counts: Counter[str] = Counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="firedrill-manifest-") as scratch:
        stores = open_scratch(layout, Path(scratch))
        try:
            for section, (_, needs) in TREE.items():
                for name in needs:
                    if not stores.readable(name):
                        raise FiredrillError(
                            f"cannot record {section}: {name} is unreadable "
                            f"or missing (run firedrill check --root {root})"
                        )
            fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=output.parent)
            try:
                with os.fdopen(fd, "w") as out:
                    _write_records(out, root, stores, layout, counts)
                os.replace(tmp, output)
            finally:
                Path(tmp).unlink(missing_ok=True)  # gone already once renamed
        finally:
            stores.close()
    return {s: counts[s] for s in SECTIONS}


def _write_records(
    out: IO[str], root: Path, stores: ScratchStores, layout: Layout, counts: Counter[str]
) -> None:
    """The header, every section's records and the end record, fsynced."""
    out.write(
        json.dumps(
            {
                "manifest": FORMAT,
                "version": VERSION,
                "root": str(root),
                "created": time.time(),
                "firedrill": __version__,
            }
        )
        + "\n"
    )
    for section, (produce, _) in TREE.items():
        try:
            for record in produce(stores, layout):
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
                counts[section] += 1
        except ConfigSyntaxError as exc:
            raise FiredrillError(f"cannot record config: {exc}") from exc
    out.write(json.dumps({"t": "end", "counts": dict(counts)}) + "\n")
    out.flush()
    os.fsync(out.fileno())


# -- reading ---------------------------------------------------------------------------------


_FIELDS: dict[str, tuple[tuple[str, type], ...]] = {
    "msg": (("id", str), ("size", int), ("sha256", str)),
    "row": (("k", list), ("m", str), ("f", str)),
    "acct": (("id", str), ("entry", dict)),
    "conf": (("k", str), ("v", str)),
    "spool": (("q", str), ("to", list)),
    "end": (("counts", dict),),
}
"""The fields each record type must have, with their JSON types."""


def open_manifest(path: Path) -> Iterator[Record]:
    """The records of a manifest, each checked as it is read.

    Raises ManifestError naming the file and line of the first record that is not valid JSON,
    lacks a field, has one of the wrong type or is out of order, and for a manifest without
    its end record (truncated). `validate_manifest` reads it all before anything starts.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror}") from exc
    with handle:
        try:
            header = json.loads(handle.readline())
            if header.get("manifest") != FORMAT or header.get("version") != VERSION:
                raise ManifestError(f"{path} is not a firedrill manifest (version {VERSION})")
        except (ValueError, AttributeError) as exc:
            raise ManifestError(f"{path} is not a firedrill manifest: {exc}") from exc
        order = _Order()
        for number, line in enumerate(handle, 2):
            try:
                record = json.loads(line)
                order.add(record)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}:{number}: not JSON: {exc.msg}") from None
            except (ValueError, KeyError, TypeError) as exc:
                raise ManifestError(f"{path}:{number}: {exc}") from None
            if record["t"] == "end":
                for extra, rest in enumerate(handle, number + 1):
                    if rest.strip():
                        raise ManifestError(f"{path}:{extra}: a record after the end record")
                return
            yield record
    raise ManifestError(f"{path} is truncated (no end record)")


class _Order:
    """Checks one record after another: fields, section order, key order, the end's counts."""

    def __init__(self) -> None:
        self.section = 0
        self.last: Any = None
        self.counts: Counter[str] = Counter()

    def add(self, record: Any) -> None:
        """Raise ValueError or TypeError saying what is wrong with `record`."""
        if not isinstance(record, dict):
            raise ValueError(f"a record is a JSON object, not {type(record).__name__}")
        kind = record.get("t")
        if not isinstance(kind, str) or kind not in _FIELDS:
            raise ValueError(f"unknown record type {kind!r}")
        for name, expected in _FIELDS[kind]:
            if name not in record:
                raise ValueError(f"{kind} record without {name!r}")
            if not isinstance(record[name], expected):
                raise TypeError(
                    f"{kind} record: {name!r} is {type(record[name]).__name__}, "
                    f"not {expected.__name__}"
                )
        if kind == "end":
            self._end(record["counts"])
            return
        position = SECTIONS.index(kind)
        if position < self.section:
            raise ValueError(f"a {kind} record after the {SECTIONS[self.section]} section")
        if position > self.section:
            self.section, self.last = position, None
        sort = _SORT.get(kind)
        if sort is not None:
            key = sort(record)
            if self.last is not None and key < self.last:
                raise ValueError(f"{kind} records out of key order")
            self.last = key
        self.counts[kind] += 1

    def _end(self, counts: dict[str, Any]) -> None:
        for section in SECTIONS:
            if counts.get(section, 0) != self.counts[section]:
                raise ValueError(
                    f"the end record counts {counts.get(section, 0)} {section} record(s), "
                    f"the manifest holds {self.counts[section]}"
                )


def row_sort(record: Record) -> bytes:
    key = record["k"]
    if not (
        len(key) == 3
        and isinstance(key[0], str)
        and isinstance(key[1], str)
        and isinstance(key[2], int)
    ):
        raise TypeError(f"row record: 'k' is {key!r}, not [mailbox, folder, uid]")
    return RowKey(key[0], key[1], key[2]).encode()


_SORT: dict[str, Callable[[Record], Any]] = {
    "msg": lambda r: r["id"],
    "row": row_sort,
    "acct": lambda r: r["id"],
    "conf": lambda r: r["k"],
}
"""The key each sorted section is in order of (the comparison merges on it)."""


def validate_manifest(path: Path) -> None:
    """Raise ManifestError ("FILE:LINE: what is wrong") unless `path` is a whole, valid manifest.

    One streaming pass over every record, so that a comparison never meets a bad one midway.
    """
    for _ in open_manifest(path):
        pass


@dataclass
class ManifestSummary:
    """What a manifest holds, by id (for checking what a restore brought back)."""

    messages: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    config: dict[str, str] = field(default_factory=dict)
    rows_per_mailbox: Counter[str] = field(default_factory=Counter)
    spool_header_ids: list[str] = field(default_factory=list)


def summarize(path: Path) -> ManifestSummary:
    summary = ManifestSummary()
    for record in open_manifest(path):
        kind = record["t"]
        if kind == "msg":
            summary.messages.add(record["id"])
        elif kind == "row":
            summary.rows_per_mailbox[record["k"][0]] += 1
        elif kind == "acct":
            summary.accounts.add(record["id"])
        elif kind == "conf":
            summary.config[record["k"]] = record["v"]
        elif kind == "spool" and record.get("h"):
            summary.spool_header_ids.append(record["h"])
    return summary


@dataclass(frozen=True, slots=True)
class QueuedCopies:
    """How many copies of each message a backup held that its spool also queued: `spooled`,
    (recipient address lower-cased, Message-ID) -> queue files naming it; `stored`, (mailbox,
    Message-ID) -> rows already in that mailbox. After a restore, a recipient can rightly hold
    at most stored + spooled copies of such a message (the spool delivers its copy once)."""

    spooled: Counter[tuple[str, str]] = field(default_factory=Counter)
    stored: Counter[tuple[str, str]] = field(default_factory=Counter)

    def allowed(self, address: str, mailbox: str, message_id: str) -> int | None:
        """Copies a restore may leave, or None when the backup did not queue the message."""
        queued = self.spooled.get((address.lower(), message_id), 0)
        if not queued:
            return None
        return queued + self.stored.get((mailbox, message_id), 0)


def queued_copies(path: Path | None) -> QueuedCopies:
    """What a backup's manifest says of the messages its spool held (empty without one). Two
    streaming passes; memory grows with the spool, not with the store."""
    copies = QueuedCopies()
    if path is None:
        return copies
    for record in open_manifest(path):
        if record["t"] == "spool" and record.get("h"):
            for address in record.get("to", []):
                copies.spooled[(str(address).lower(), record["h"])] += 1
    wanted = {message_id for _, message_id in copies.spooled}
    headers: dict[str, str] = {}
    for record in open_manifest(path):
        if record["t"] == "msg" and record.get("h") in wanted:
            headers[record["id"]] = record["h"]
        elif record["t"] == "row" and record["m"] in headers:
            copies.stored[(record["k"][0], headers[record["m"]])] += 1
    return copies
