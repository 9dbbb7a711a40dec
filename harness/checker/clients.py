"""Invariant 8 from the history: what clients were told stays true.

A client that saw a folder's UIDVALIDITY, UIDNEXT and (UID, Message-ID) pairs (the history's
`seen` records) relies on them: under one UIDVALIDITY a UID never names another message and
UIDNEXT never goes back (RFC 3501 §2.3.1.1); a server that cannot keep its UIDs, e.g. after
db/mbox was restored from a backup, must give the folder a new, greater UIDVALIDITY. POP3
unique-ids are never reused for another message (RFC 1939 §7). A flag a client set with an
acknowledged STORE stays set while the message is there.

Judged per folder against the store as it is now:

- its UIDVALIDITY below one a client saw: `uidvalidity-decreased`;
- equal to the newest a client saw: UIDNEXT below a UIDNEXT a client saw or at or below a UID
  it saw is `uidnext-rewound`; each UID seen there that now names another message is
  `uid-reused`;
- greater: the client resynchronises, nothing it cached can mislead it; after a recovery
  through the logs (no restore) that is needless, `uidvalidity-changed-needlessly`.

Flags: an acknowledged `SetFlag` whose message is still in the mailbox (in any copy) with
none of its copies carrying the flag is `acknowledged-flags-lost` (its `op` lets the verdict
allow it after a backup's consistency point, like a lost delivery).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.checker.context import CheckContext
from harness.checker.findings import (
    AcknowledgedFlagsLost,
    Finding,
    UidlReused,
    UidnextRewound,
    UidReused,
    UidvalidityChangedNeedlessly,
    UidvalidityDecreased,
)
from harness.checker.served import StoredMailbox, stored_mailbox
from harness.checker.served_clients import FolderState
from harness.history import Delete, Operation, Seen, SetFlag, read_history
from harness.servers.pop3.maildrop import INBOX
from harness.store.records import Account, address_key
from harness.store.uids import UID_MAX, parse_uidl, uidl

UNREADABLE = (ValueError, KeyError, TypeError, UnicodeDecodeError)
"""What decoding a damaged record raises (json, a missing field, a wrong type)."""
NEEDS = ("entry/entry.db", "index/index.db", "msgid/msgid.db", "mbox/folders.db", "mbox/rows.db")


@dataclass
class FolderPromises:
    """What clients saw of one folder: per UIDVALIDITY, the highest UIDNEXT (or UID + 1) and
    each UID's Message-ID (the last one seen)."""

    uidnext: dict[int, int] = field(default_factory=dict)
    uids: dict[int, dict[int, str]] = field(default_factory=dict)
    highest_uid: dict[int, int] = field(default_factory=dict)

    def add(self, seen: Seen) -> None:
        v = seen.uidvalidity
        self.uidnext[v] = max(self.uidnext.get(v, 0), seen.uidnext)
        named = self.uids.setdefault(v, {})
        for uid, message_id in seen.ids:
            if uid.isdecimal() and uid.isascii() and message_id:  # "" is no evidence
                named[int(uid)] = message_id
                self.saw_uid(v, int(uid))

    def saw_uid(self, uidvalidity: int, uid: int) -> None:
        """A client saw `uid` exist under `uidvalidity` (UIDNEXT is beyond it from then on)."""
        self.uidnext.setdefault(uidvalidity, 0)
        self.highest_uid[uidvalidity] = max(self.highest_uid.get(uidvalidity, 0), uid)


@dataclass
class Promises:
    """Everything clients were told, by (address, folder) and by address for POP3."""

    folders: dict[tuple[str, str], FolderPromises] = field(default_factory=dict)
    uidls: dict[str, dict[str, str]] = field(default_factory=dict)
    """address -> unique-id -> Message-ID."""
    flags: dict[tuple[str, str, str], Operation] = field(default_factory=dict)
    """(address, Message-ID, flag) -> the last acknowledged STORE of it."""
    deleted: set[tuple[str, str]] = field(default_factory=set)
    """(address, Message-ID) of deletions that did not fail: its flags may be gone with it."""


def promises(history: Path) -> Promises:
    """Read what clients were told from a history."""
    out = Promises()
    for item in read_history(history):
        if isinstance(item, Seen):
            address = item.address.lower()
            if item.protocol == "pop3":
                out.uidls.setdefault(address, {}).update((u, m) for u, m in item.ids if m)
                _pop3_uids(out, address, item)
            elif item.uidvalidity:
                key = (address, item.folder)
                out.folders.setdefault(key, FolderPromises()).add(item)
        elif isinstance(item, Operation):
            target = item.target
            if isinstance(target, SetFlag) and item.acknowledged and target.message_id:
                out.flags[(target.address.lower(), target.message_id, target.flag)] = item
            elif isinstance(target, Delete) and item.outcome.value != "fail":
                out.deleted.update((target.address.lower(), m) for m in target.message_ids)
    return out


def _pop3_uids(out: Promises, address: str, seen: Seen) -> None:
    """A POP3 unique-id names a UID of the INBOX under a UIDVALIDITY (`harness.store.uids`):
    the maildrop's UIDNEXT is beyond it, like for an IMAP client that saw the UID."""
    for unique_id, message_id in seen.ids:
        named = parse_uidl(unique_id)
        if named is not None and message_id:
            uid, uidvalidity = named
            out.folders.setdefault((address, INBOX), FolderPromises()).saw_uid(uidvalidity, uid)


def check_clients(ctx: CheckContext, history: Path, *, restored: bool) -> Iterator[Finding]:
    """Findings for promises to clients the store no longer keeps (see the module doc).

    `restored`: the installation was restored from a backup (a new UIDVALIDITY is then the
    right answer, not a needless one).
    """
    told = promises(history)
    if not (told.folders or told.uidls or told.flags):
        return
    if not ctx.require("clients", *NEEDS):
        return
    mailbox_of = _resolver(ctx)
    addresses = {a for a, _ in told.folders} | set(told.uidls) | {a for a, _, _ in told.flags}
    followed = {m for m in map(mailbox_of, addresses) if m is not None}
    store = _Store(ctx, followed)
    for (address, folder), promised in sorted(told.folders.items()):
        mailbox = mailbox_of(address)
        meta = store.folder(mailbox, folder) if mailbox else None
        if mailbox is None or meta is None:
            ctx.stats["clients_skipped_no_folder"] += 1
            continue
        ctx.stats["clients_folders"] += 1
        yield from _folder(address, promised, meta, store.uids(mailbox, folder), restored)
    for address, uidls in sorted(told.uidls.items()):
        mailbox = mailbox_of(address)
        if mailbox is not None:
            yield from _uidls(address, uidls, store.uidls(mailbox))
    yield from _flags(told, mailbox_of, store)


def _folder(
    address: str,
    promised: FolderPromises,
    meta: FolderState,
    now: dict[int, str],
    restored: bool,
) -> Iterator[Finding]:
    """The UID promises of one folder against its state (`now`: UID -> Message-ID)."""
    subject = f"{address}/{meta.name}"
    newest = max(promised.uidnext)
    if meta.uidvalidity < newest:
        yield UidvalidityDecreased(subject, f"UIDVALIDITY {meta.uidvalidity}, clients saw {newest}")
        return
    if meta.uidvalidity > newest:
        if not restored:
            yield UidvalidityChangedNeedlessly(
                subject, f"UIDVALIDITY {newest} became {meta.uidvalidity} without a restore"
            )
        return
    v = meta.uidvalidity
    seen_next = promised.uidnext.get(v, 0)
    highest = promised.highest_uid.get(v, 0)
    if meta.uidnext < max(seen_next, highest + 1):
        what = f"UIDNEXT {seen_next}" if seen_next > highest else f"UID {highest}"
        yield UidnextRewound(
            subject, f"UIDNEXT {meta.uidnext}, clients saw {what} under UIDVALIDITY {v}"
        )
    for uid, message_id in sorted(promised.uids.get(v, {}).items()):
        current = now.get(uid)
        if current and current != message_id:  # "": the store names no Message-ID there
            yield UidReused(
                f"{subject}/{v}/{uid}", f"clients saw {message_id}, it now names {current}"
            )


def _uidls(address: str, promised: dict[str, str], now: dict[str, str]) -> Iterator[Finding]:
    for unique_id, message_id in sorted(promised.items()):
        current = now.get(unique_id)
        if current and current != message_id:
            yield UidlReused(
                f"{address}/{unique_id}", f"clients saw {message_id}, it now names {current}"
            )


def _flags(
    told: Promises, mailbox_of: Callable[[str], str | None], store: _Store
) -> Iterator[Finding]:
    for (address, message_id, flag), op in sorted(told.flags.items()):
        if (address, message_id) in told.deleted:
            continue
        mailbox = mailbox_of(address)
        copies = store.flags_of(mailbox, message_id) if mailbox else []
        if copies and not any(flag in flags for flags in copies):
            yield AcknowledgedFlagsLost(
                f"{mailbox}:{message_id}",
                f"{flag} set by {address}, acknowledged; {len(copies)} copy(ies) without it",
                op=op.index,
            )


def _resolver(ctx: CheckContext) -> Callable[[str], str | None]:
    index = ctx.stores.handle("index", "index.db")
    entries = ctx.stores.handle("entry", "entry.db")

    def mailbox_of(address: str) -> str | None:
        """The address's mailbox; None when it has none or its records cannot be read (the
        account checks report those)."""
        owner = index.get(address_key(address).encode())
        entry = entries.get(owner) if owner is not None else None
        try:
            return Account.decode(owner, entry).mailbox if entry is not None else None
        except UNREADABLE:
            return None

    return mailbox_of


class _Store:
    """The followed mailboxes as the store holds them, read the way the served comparison
    reads them (`served.stored_mailbox`); only those mailboxes are held in memory."""

    def __init__(self, ctx: CheckContext, mailboxes: set[str]) -> None:
        self._boxes: dict[str, StoredMailbox] = {}
        for mailbox in sorted(mailboxes):
            try:
                self._boxes[mailbox] = stored_mailbox(ctx.stores, mailbox)
            except UNREADABLE:  # the row checks report it; the others are still judged
                ctx.stats["clients_unreadable_mailboxes"] += 1

    def folder(self, mailbox: str, folder: str) -> FolderState | None:
        box = self._boxes.get(mailbox)
        return next((f for f in box.folders if f.name == folder), None) if box else None

    def uids(self, mailbox: str, folder: str) -> dict[int, str]:
        """UID -> Message-ID ("" when the store names none) of one folder."""
        state = self.folder(mailbox, folder)
        return {m.uid: m.message_id or "" for m in state.messages} if state else {}

    def uidls(self, mailbox: str) -> dict[str, str]:
        """The POP3 unique-id of each INBOX message (`harness.store.uids.uidl`, the rule the
        POP3 server serves) -> its Message-ID."""
        inbox = self.folder(mailbox, INBOX)
        if inbox is None or not 0 <= inbox.uidvalidity <= UID_MAX:
            return {}
        return {
            uidl(m.uid, inbox.uidvalidity): m.message_id or ""
            for m in inbox.messages
            if 0 < m.uid <= UID_MAX
        }

    def flags_of(self, mailbox: str, message_id: str) -> list[frozenset[str]]:
        """The IMAP flags of each copy of `message_id` in the mailbox's INBOX."""
        inbox = self.folder(mailbox, INBOX)
        return [m.flags for m in inbox.messages if m.message_id == message_id] if inbox else []
