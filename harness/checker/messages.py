"""Invariants 1-3: rows resolve to records, records to intact files, refcounts and counts hold.

Everything streams: rows and folders are merged in key order, records are read in key order
while a small pool of threads hashes their files ahead, and msgfiles/ is walked once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from harness.checker.context import CheckContext
from harness.checker.databases import items
from harness.checker.findings import (
    DanglingRow,
    Finding,
    FolderCountMismatch,
    MessageDigestMismatch,
    MessageFileMissing,
    MessageSizeMismatch,
    OrphanMessageFile,
    RefcountHigh,
    RefcountLow,
    RowWithoutFolder,
    StaleTempFile,
    StoreMissing,
    UidAboveNext,
)
from harness.checker.refcounts import RefCounts
from harness.progress import Progress
from harness.store.msgfiles import MessageFiles, digest_file, is_temporary
from harness.store.records import Flag, FolderMeta, MsgRecord, Row

HASH_WORKERS = 4
HASH_WINDOW = 64


def check_rows(ctx: CheckContext) -> Iterator[Finding]:
    """Rows against folders (uids, cached counts) and against msgid records (no dangling)."""
    if not ctx.require("rows", "mbox/rows.db", "mbox/folders.db"):
        return
    records = ctx.stores.handle("msgid", "msgid.db")
    records_ok = ctx.stores.readable("msgid/msgid.db")
    rows_db = ctx.stores.handle("mbox", "rows.db")
    folders_db = ctx.stores.handle("mbox", "folders.db")
    refs = RefCounts()
    row_iter = _Peek(Row.decode(k, v) for k, v in items(rows_db))

    def homeless(row: Row) -> Iterator[Finding]:
        """A row before or after every folder of its own: no folder record, and maybe no
        msgid record either (both are reported)."""
        ctx.stats["rows"] += 1
        refs.add(row.msgid)
        yield RowWithoutFolder(str(row.key), "no folder record for this row")
        if records_ok and records.get(row.msgid.encode()) is None:
            yield DanglingRow(str(row.key), f"points at message {row.msgid}, which has no record")

    for key, value in items(folders_db):
        meta = FolderMeta.decode(key, value)
        prefix = (meta.mailbox, meta.folder)
        while (row := row_iter.peek()) is not None and (row.key.mailbox, row.key.folder) < prefix:
            yield from homeless(next(row_iter))
        count = size = unseen = 0
        while (row := row_iter.peek()) is not None and (row.key.mailbox, row.key.folder) == prefix:
            next(row_iter)
            ctx.stats["rows"] += 1
            refs.add(row.msgid)
            count, size, unseen = count + 1, size + row.size, unseen + (Flag.SEEN not in row.flags)
            if row.key.uid >= meta.uidnext:
                yield UidAboveNext(str(row.key), f"uidnext of the folder is {meta.uidnext}")
            if records_ok and records.get(row.msgid.encode()) is None:
                yield DanglingRow(
                    str(row.key), f"points at message {row.msgid}, which has no record"
                )
        if (count, size, unseen) != (meta.count, meta.size, meta.unseen):
            yield FolderCountMismatch(
                f"{meta.mailbox}/{meta.folder}",
                f"cached count/bytes/unseen {meta.count}/{meta.size}/{meta.unseen}, "
                f"rows say {count}/{size}/{unseen}",
            )
    for row in row_iter:
        yield from homeless(row)
    ctx.refs = refs


def check_records(ctx: CheckContext) -> Iterator[Finding]:
    """Each record's file exists with its size and digest; refcount = rows pointing at it."""
    if not ctx.require("records", "msgid/msgid.db"):
        return
    if not ctx.layout.msgfiles.is_dir():
        yield StoreMissing("msgfiles", "the message file system is gone")
        ctx.skip("message files", "msgfiles/ is missing")
        verify_files = False
    else:
        verify_files = True
    refs = ctx.refs
    if refs is None:
        ctx.skip("refcounts", "the mailbox rows could not be read")
    records = (MsgRecord.decode(k, v) for k, v in items(ctx.stores.handle("msgid", "msgid.db")))
    total = ctx.stats.get("records_expected")
    with Progress("verify messages", total=total, unit="msg", enabled=ctx.progress) as bar:
        for record, result in _hashed(records, ctx.layout.root, verify_files):
            bar.advance()
            used = refs.count(record.msgid) if refs is not None else None
            if used is not None and record.refcount < used:
                yield RefcountLow(record.msgid, f"refcount {record.refcount}, {used} rows")
            elif used is not None and record.refcount > used:
                yield RefcountHigh(record.msgid, f"refcount {record.refcount}, {used} rows")
            if result is None:
                continue
            ctx.stats["messages_verified"] += 1
            if isinstance(result, str):
                yield MessageFileMissing(record.msgid, result)
                continue
            size, digest = result
            ctx.stats["bytes_verified"] += size
            if size != record.size:
                yield MessageSizeMismatch(
                    record.msgid, f"{record.path}: {size} bytes, record says {record.size}"
                )
            elif digest != record.digest:
                yield MessageDigestMismatch(
                    record.msgid, f"{record.path}: content differs from its digest"
                )


def _hashed(
    records: Iterator[MsgRecord],
    root: Path,
    verify: bool,
) -> Iterator[tuple[MsgRecord, tuple[int, str] | str | None]]:
    """Records in order, each with (size, digest) of its file, an error text, or None (skipped).

    Files of records with refcount 0 (waiting for purge) are not verified.
    """
    if not verify:
        for record in records:
            yield record, None
        return
    with ThreadPoolExecutor(HASH_WORKERS) as pool:
        window: deque[tuple[MsgRecord, Future[tuple[int, str] | str] | None]] = deque()
        for record in records:
            future = pool.submit(_digest, root / record.path) if record.refcount > 0 else None
            window.append((record, future))
            if len(window) >= HASH_WINDOW:
                done, fut = window.popleft()
                yield done, (fut.result() if fut else None)
        while window:
            done, fut = window.popleft()
            yield done, (fut.result() if fut else None)


def _digest(path: Path) -> tuple[int, str] | str:
    try:
        return digest_file(path)
    except FileNotFoundError:
        return f"{path.name}: file does not exist"
    except OSError as exc:
        return f"{path.name}: {exc.strerror}"


def check_orphans(ctx: CheckContext) -> Iterator[Finding]:
    """Files under msgfiles/ at a path no record names (leaks), and interrupted writes.

    A file is judged by its path, not its name: a copy of a known message at another path
    (say msgfiles/zz/zz/<id>) is an orphan as much as a file of an unknown message is.
    """
    if not ctx.layout.msgfiles.is_dir():
        return
    if not ctx.require("orphans", "msgid/msgid.db"):
        return
    records = ctx.stores.handle("msgid", "msgid.db")
    for path in MessageFiles(ctx.layout.msgfiles).walk():
        rel = path.relative_to(ctx.layout.root).as_posix()
        if is_temporary(path):
            yield StaleTempFile(rel, "temporary message file of an interrupted delivery")
            continue
        key = path.name.encode()
        value = records.get(key)
        if value is None:
            yield OrphanMessageFile(rel, "no msgid record names this file")
        elif (named := MsgRecord.decode(key, value).path) != rel:
            yield OrphanMessageFile(
                rel, f"message {path.name} has a record, which names {named}, not this path"
            )


class _Peek:
    """An iterator with one item of look-ahead."""

    def __init__(self, it: Iterator[Row]) -> None:
        self._it = it
        self._next: Row | None = None
        self._has = False

    def peek(self) -> Row | None:
        if not self._has:
            self._next = next(self._it, None)
            self._has = True
        return self._next

    def __iter__(self) -> _Peek:
        return self

    def __next__(self) -> Row:
        item = self.peek()
        self._has = False
        if item is None:
            raise StopIteration
        return item
