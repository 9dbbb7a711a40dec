"""The message store (MSS data): msgfiles plus the db/mbox and db/msgid environments.

This module is the one place that knows the store's write ordering (DESIGN.md):

1. (MTA: spool file durable before `250` — see `spool.py`.)
2. The message file is written to a temporary name, made durable, renamed into msgfiles/.
3. One transaction per environment: the msgid record (refcount = rows that will point at it)
   commits first, then the mailbox rows.
4. (MTA: the spool file is removed only after `deliver` returned.)
5. Expunge removes rows first, then decrements refcounts; `purge` deletes records whose
   refcount is 0 and only then unlinks their files.

A crash between any two steps leaves a leak (an orphan file, a refcount above the number of
rows) and never a row that points at nothing. The servers and the population reuse this class.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness import failpoints
from harness.errors import AlreadyExists, NotFound, StoreError
from harness.layout import Layout
from harness.store import bdb
from harness.store.fsync import fsync_dir, syncfs
from harness.store.msgfiles import MessageFiles, Staged
from harness.store.records import (
    FOLDERS,
    Flag,
    FolderMeta,
    MailboxMeta,
    MsgRecord,
    Row,
    RowKey,
    folder_prefix,
)
from harness.store.uids import next_uidvalidity

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)
_HEADER_SCAN = 64 * 1024


def header_message_id(data: bytes) -> str:
    """The Message-ID header of a raw message ('' when it has none)."""
    head = data[:_HEADER_SCAN].split(b"\n\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    return match.group(1).decode("ascii", "replace") if match else ""


def new_msgid() -> str:
    return os.urandom(8).hex()


@dataclass(frozen=True, slots=True)
class Target:
    """Where one copy of an incoming message goes."""

    mailbox: str
    folder: str = "INBOX"
    flags: frozenset[Flag] = frozenset()
    arrival: int | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message to store once, for one or more targets (single-instance)."""

    data: bytes
    targets: tuple[Target, ...]
    msgid: str | None = None


@dataclass(frozen=True, slots=True)
class Delivered:
    """What `deliver` committed: the message id and the rows that point at it."""

    msgid: str
    rows: tuple[RowKey, ...]
    size: int
    digest: str
    header_id: str


class MessageStore:
    """Read and write access to one installation's message store (servers stopped or owned)."""

    def __init__(self, layout: Layout, *, durable: bool = True, as_server: bool = False) -> None:
        self.layout = layout
        self.durable = durable
        self.files = MessageFiles(layout.msgfiles)
        self.msgid_env = bdb.Environment(
            layout.env("msgid"), "msgid", durable=durable, as_server=as_server
        )
        try:
            self.mbox_env = bdb.Environment(
                layout.env("mbox"), "mbox", durable=durable, as_server=as_server
            )
        except BaseException:
            self.msgid_env.close()
            raise
        self._records = self.msgid_env.db("msgid.db")
        self._mailboxes = self.mbox_env.db("mailboxes.db")
        self._folders = self.mbox_env.db("folders.db")
        self._rows = self.mbox_env.db("rows.db")

    # -- mailboxes -------------------------------------------------------------------------

    def create_mailbox(
        self,
        mailbox: str,
        owner: str,
        *,
        folders: Sequence[str] = FOLDERS,
        created: int | None = None,
    ) -> None:
        """Create a mailbox with its folders (uidvalidity = creation time)."""
        created = int(time.time()) if created is None else created
        with self.mbox_env.transaction() as txn:
            if self._mailboxes.get(mailbox.encode(), txn=txn) is not None:
                raise AlreadyExists(f"mailbox {mailbox} already exists")
            self._mailboxes.put(
                mailbox.encode(), MailboxMeta(mailbox, owner, created).encode(), txn=txn
            )
            for folder in folders:
                meta = FolderMeta(mailbox, folder, uidvalidity=created, uidnext=1)
                self._folders.put(meta.key(), meta.encode(), txn=txn)
        self.mbox_env.commit_point()

    def delete_mailbox(self, mailbox: str) -> list[str]:
        """Remove a mailbox and its rows, then release its messages; returns their msgids."""
        with self.mbox_env.transaction() as txn:
            if self._mailboxes.get(mailbox.encode(), txn=txn) is None:
                raise NotFound(f"no mailbox {mailbox}")
            released = []
            for key, value in list(
                bdb.cursor_items(self._rows, prefix=folder_prefix(mailbox), txn=txn)
            ):
                released.append(Row.decode(key, value).msgid)
                self._rows.delete(key, txn=txn)
            for key, _ in list(
                bdb.cursor_items(self._folders, prefix=folder_prefix(mailbox), txn=txn)
            ):
                self._folders.delete(key, txn=txn)
            self._mailboxes.delete(mailbox.encode(), txn=txn)
        self.mbox_env.commit_point()
        failpoints.hit("expunge.between-mbox-and-msgid-commit")
        self._release(released)
        return released

    def mailbox(self, mailbox: str) -> MailboxMeta | None:
        value = self._mailboxes.get(mailbox.encode())
        return None if value is None else MailboxMeta.decode(mailbox.encode(), value)

    def mailboxes(self) -> Iterator[MailboxMeta]:
        for key, value in bdb.cursor_items(self._mailboxes):
            yield MailboxMeta.decode(key, value)

    def folder(self, mailbox: str, folder: str) -> FolderMeta | None:
        key = f"{mailbox}\x00{folder}".encode()
        value = self._folders.get(key)
        return None if value is None else FolderMeta.decode(key, value)

    def folders(self, mailbox: str | None = None) -> Iterator[FolderMeta]:
        prefix = b"" if mailbox is None else folder_prefix(mailbox)
        for key, value in bdb.cursor_items(self._folders, prefix=prefix):
            yield FolderMeta.decode(key, value)

    def renew_uidvalidity(self, *, now: int | None = None) -> int:
        """Give every folder of the store a new, strictly greater UIDVALIDITY
        (`uids.next_uidvalidity`: max(old + 1, `now`), `now` in Unix seconds, default the
        clock), in one transaction of db/mbox; UIDs and UIDNEXT are kept. What a restore of
        db/mbox needs before the servers start (RFC 3501 §2.3.1.1; `imboxmaint
        newuidvalidity`). Returns the number of folders renewed.

        Raises StoreError when a UIDVALIDITY would outgrow 32 bits (nothing is changed then).
        """
        now = int(time.time()) if now is None else now
        with self.mbox_env.transaction() as txn:
            metas = [FolderMeta.decode(k, v) for k, v in bdb.cursor_items(self._folders, txn=txn)]
            for meta in metas:
                renewed = replace(meta, uidvalidity=next_uidvalidity(meta.uidvalidity, now))
                self._folders.put(renewed.key(), renewed.encode(), txn=txn)
        self.mbox_env.commit_point()
        return len(metas)

    # -- messages --------------------------------------------------------------------------

    def deliver(
        self,
        data: bytes,
        targets: Sequence[Target],
        *,
        msgid: str | None = None,
    ) -> Delivered:
        """Store one message for all its targets, durably, in the write order of the module."""
        return self.deliver_batch([Incoming(data, tuple(targets), msgid)])[0]

    def deliver_batch(self, batch: Sequence[Incoming]) -> list[Delivered]:
        """Store several messages with one flush of their files and one commit per environment."""
        if not batch:
            return []
        self._check_targets(batch)
        staged = self._stage_files(batch)
        now = int(time.time())
        records = [
            MsgRecord(
                s.msgid,
                f"msgfiles/{self.files.path(s.msgid).relative_to(self.files.root)}",
                s.size,
                s.digest,
                len(item.targets),
                now,
                header_message_id(item.data),
            )
            for s, item in zip(staged, batch, strict=True)
        ]
        with self.msgid_env.transaction() as txn:
            for record in records:
                if self._records.get(record.msgid.encode(), txn=txn) is not None:
                    raise AlreadyExists(f"message id {record.msgid} already stored")
                self._records.put(record.msgid.encode(), record.encode(), txn=txn)
        self.msgid_env.commit_point()
        failpoints.hit("deliver.between-msgid-and-mbox-commit")
        delivered = []
        with self.mbox_env.transaction() as txn:
            for record, item in zip(records, batch, strict=True):
                rows = tuple(self._append_row(txn, record, target, now) for target in item.targets)
                delivered.append(
                    Delivered(record.msgid, rows, record.size, record.digest, record.header_id)
                )
        failpoints.hit("deliver.after-mbox-commit")
        return delivered

    def _check_targets(self, batch: Sequence[Incoming]) -> None:
        for item in batch:
            if not item.targets:
                raise StoreError("a message needs at least one target mailbox")
            for target in item.targets:
                if self.folder(target.mailbox, target.folder) is None:
                    raise NotFound(f"no folder {target.folder} in mailbox {target.mailbox}")

    def _stage_files(self, batch: Sequence[Incoming]) -> list[Staged]:
        """Write the batch's files, rename them into place, and make files and names durable
        before any record may point at them (step 2 of the module's ordering).

        Durable store: each file is on disk before its rename (fsync, or one syncfs for a
        batch), then the renames are (fsync of the directory, or one syncfs for a batch).
        Bulk load (`durable=False`, the population): no flush before the renames, one syncfs
        of the msgfiles filesystem after them. Records commit only after it returned, so on
        power loss a record is never on disk without its file; a loss before the syncfs
        leaves at worst a torn file under its final name that no record names (an orphan).
        """
        single = len(batch) == 1
        fsync_each = self.durable and single
        staged = [
            self.files.stage(item.msgid or new_msgid(), item.data, fsync=fsync_each)
            for item in batch
        ]
        if self.durable and not single:
            syncfs(self.files.root)
        failpoints.hit("deliver.after-msgfile-write")
        for s in staged:
            MessageFiles.publish(s)
        if self.durable and single:
            fsync_dir(staged[0].final.parent)
        else:
            syncfs(self.files.root)  # bulk loads too: files before the records that name them
        failpoints.hit("deliver.after-msgfile-rename")
        return staged

    def _append_row(self, txn: bdb.Txn, record: MsgRecord, target: Target, now: int) -> RowKey:
        meta_key = f"{target.mailbox}\x00{target.folder}".encode()
        meta = FolderMeta.decode(meta_key, self._folders.get(meta_key, txn=txn))
        key = RowKey(target.mailbox, target.folder, meta.uidnext)
        arrival = now if target.arrival is None else target.arrival
        row = Row(key, record.msgid, target.flags, arrival, record.size)
        self._rows.put(key.encode(), row.encode(), txn=txn)
        meta = replace(
            meta,
            uidnext=meta.uidnext + 1,
            count=meta.count + 1,
            size=meta.size + record.size,
            unseen=meta.unseen + (Flag.SEEN not in target.flags),
        )
        self._folders.put(meta_key, meta.encode(), txn=txn)
        return key

    def set_flags(self, key: RowKey, flags: frozenset[Flag]) -> Row:
        """Replace the flags of one row, keeping the folder's unseen count right."""
        return self._update_flags(key, lambda _: flags)

    def change_flags(
        self, key: RowKey, add: frozenset[Flag] = frozenset(), remove: frozenset[Flag] = frozenset()
    ) -> Row:
        """Add then remove flags of one row as it is stored, in one transaction: a change
        another session made to other flags meanwhile is kept (a client's copy of the row may
        be stale). NotFound once the row is gone."""
        return self._update_flags(key, lambda old: (old | add) - remove)

    def _update_flags(
        self, key: RowKey, flags_of: Callable[[frozenset[Flag]], frozenset[Flag]]
    ) -> Row:
        with self.mbox_env.transaction() as txn:
            value = self._rows.get(key.encode(), txn=txn)
            if value is None:
                raise NotFound(f"no message {key}")
            row = Row.decode(key.encode(), value)
            flags = flags_of(row.flags)
            new = replace(row, flags=flags)
            self._rows.put(key.encode(), new.encode(), txn=txn)
            delta = (Flag.SEEN not in flags) - (Flag.SEEN not in row.flags)
            if delta:
                self._adjust_folder(txn, key.mailbox, key.folder, unseen=delta)
        return new

    def expunge(self, mailbox: str, folder: str, uids: Iterable[int] | None = None) -> list[Row]:
        """Remove the rows flagged deleted (or the given uids), then release their messages."""
        wanted = None if uids is None else set(uids)
        removed: list[Row] = []
        with self.mbox_env.transaction() as txn:
            for key, value in list(
                bdb.cursor_items(self._rows, prefix=folder_prefix(mailbox, folder), txn=txn)
            ):
                row = Row.decode(key, value)
                hit = Flag.DELETED in row.flags if wanted is None else row.key.uid in wanted
                if hit:
                    self._rows.delete(key, txn=txn)
                    removed.append(row)
            if removed:
                self._adjust_folder(
                    txn,
                    mailbox,
                    folder,
                    count=-len(removed),
                    size=-sum(r.size for r in removed),
                    unseen=-sum(Flag.SEEN not in r.flags for r in removed),
                )
        self.mbox_env.commit_point()
        failpoints.hit("expunge.between-mbox-and-msgid-commit")
        self._release([r.msgid for r in removed])
        return removed

    def _adjust_folder(
        self,
        txn: bdb.Txn,
        mailbox: str,
        folder: str,
        *,
        count: int = 0,
        size: int = 0,
        unseen: int = 0,
    ) -> None:
        meta_key = f"{mailbox}\x00{folder}".encode()
        meta = FolderMeta.decode(meta_key, self._folders.get(meta_key, txn=txn))
        meta = replace(
            meta, count=meta.count + count, size=meta.size + size, unseen=meta.unseen + unseen
        )
        self._folders.put(meta_key, meta.encode(), txn=txn)

    def _release(self, msgids: Sequence[str]) -> None:
        if not msgids:
            return
        with self.msgid_env.transaction() as txn:
            for msgid in msgids:
                value = self._records.get(msgid.encode(), txn=txn)
                if value is None:
                    continue
                record = MsgRecord.decode(msgid.encode(), value)
                self._records.put(
                    msgid.encode(), replace(record, refcount=record.refcount - 1).encode(), txn=txn
                )

    def purge(self, *, batch: int = 1000) -> list[str]:
        """Delete records with refcount 0, then their files; returns the purged msgids.

        The scan reads without a transaction (no lock is held across the whole store); the
        deletions commit in batches, each re-checking the refcount under its transaction.
        """
        records = (MsgRecord.decode(k, v) for k, v in bdb.cursor_items(self._records))
        candidates = [r.msgid for r in records if r.refcount <= 0]
        purged: list[str] = []
        for start in range(0, len(candidates), batch):
            gone: list[str] = []
            with self.msgid_env.transaction() as txn:
                for msgid in candidates[start : start + batch]:
                    value = self._records.get(msgid.encode(), txn=txn)
                    if value is not None and MsgRecord.decode(msgid.encode(), value).refcount <= 0:
                        self._records.delete(msgid.encode(), txn=txn)
                        gone.append(msgid)
            self.msgid_env.commit_point()
            failpoints.hit("purge.after-record-delete")
            for msgid in gone:
                self.files.remove(msgid)
            purged += gone
        return purged

    # -- reading ---------------------------------------------------------------------------

    def record(self, msgid: str) -> MsgRecord | None:
        value = self._records.get(msgid.encode())
        return None if value is None else MsgRecord.decode(msgid.encode(), value)

    def records(self) -> Iterator[MsgRecord]:
        for key, value in bdb.cursor_items(self._records):
            yield MsgRecord.decode(key, value)

    def row(self, key: RowKey) -> Row | None:
        value = self._rows.get(key.encode())
        return None if value is None else Row.decode(key.encode(), value)

    def rows(self, mailbox: str | None = None, folder: str | None = None) -> Iterator[Row]:
        if mailbox is None:
            prefix = b""
        else:
            prefix = folder_prefix(mailbox, folder)
        for key, value in bdb.cursor_items(self._rows, prefix=prefix):
            yield Row.decode(key, value)

    def read(self, msgid: str) -> bytes:
        """The bytes of a stored message."""
        try:
            return self.files.path(msgid).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"message file of {msgid} is missing") from exc

    def message_path(self, msgid: str) -> Path:
        return self.files.path(msgid)

    # -- lifecycle -------------------------------------------------------------------------

    def checkpoint(self) -> None:
        self.msgid_env.checkpoint()
        self.mbox_env.checkpoint()

    def close(self) -> None:
        self.mbox_env.close()
        self.msgid_env.close()

    def __enter__(self) -> MessageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.checkpoint()
        self.close()
