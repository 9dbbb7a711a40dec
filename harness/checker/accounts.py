"""Invariant 4: accounts have mailboxes, mailboxes owners, the index agrees, the cache is right."""

from __future__ import annotations

from collections.abc import Iterator

from harness.checker.context import CheckContext
from harness.checker.databases import items
from harness.checker.findings import (
    AccountWithoutMailbox,
    DircacheStale,
    Finding,
    IndexKeyDangling,
    IndexKeyMisdirected,
    IndexKeyMissing,
    MailboxOwnerMismatch,
    MailboxWithoutOwner,
)
from harness.store.directory import DIRCACHE_FILE, read_cache
from harness.store.records import Account, MailboxMeta, MailboxStatus, address_key


def check_accounts(ctx: CheckContext) -> Iterator[Finding]:
    """Every entry's index keys point back at it; every active account has its mailbox."""
    if not ctx.require("accounts", "entry/entry.db"):
        return
    index = (
        ctx.stores.handle("index", "index.db") if ctx.stores.readable("index/index.db") else None
    )
    mailboxes = (
        ctx.stores.handle("mbox", "mailboxes.db")
        if ctx.stores.readable("mbox/mailboxes.db")
        else None
    )
    if index is None:
        ctx.skip("index keys", "index/index.db cannot be read (reported above)")
    if mailboxes is None:
        ctx.skip("account mailboxes", "mbox/mailboxes.db cannot be read (reported above)")
    misdirected: set[str] = set()
    claimed: set[str] = set()
    for key, value in items(ctx.stores.handle("entry", "entry.db")):
        account = Account.decode(key, value)
        ctx.stats["accounts"] += 1
        if index is not None:
            for ikey in account.index_keys():
                claimed.add(ikey)
                owner = index.get(ikey.encode())
                if owner is None:
                    yield IndexKeyMissing(ikey, f"account {account.entry_id} has no index key")
                elif owner.decode() != account.entry_id:
                    misdirected.add(ikey)
                    yield IndexKeyMisdirected(
                        ikey, f"belongs to account {account.entry_id}, points at {owner.decode()}"
                    )
        if mailboxes is not None:
            raw = mailboxes.get(account.mailbox.encode())
            if raw is None:
                if account.status is MailboxStatus.ACTIVE:
                    yield AccountWithoutMailbox(
                        account.entry_id, f"mailbox {account.mailbox} does not exist"
                    )
            elif MailboxMeta.decode(account.mailbox.encode(), raw).owner != account.entry_id:
                yield MailboxOwnerMismatch(
                    account.mailbox, f"account {account.entry_id} names it, owner differs"
                )
    if index is not None:
        yield from _dangling_index_keys(ctx, claimed, misdirected)
    ctx.stats["index_keys_claimed"] = len(claimed)


def _dangling_index_keys(
    ctx: CheckContext,
    claimed: set[str],
    misdirected: set[str],
) -> Iterator[Finding]:
    entries = ctx.stores.handle("entry", "entry.db")
    for key, owner in items(ctx.stores.handle("index", "index.db")):
        ikey = key.decode()
        if ikey in misdirected:
            continue
        if entries.get(owner) is None:
            yield IndexKeyDangling(
                ikey, f"points at account {owner.decode()}, which does not exist"
            )
        elif ikey not in claimed:
            yield IndexKeyDangling(ikey, f"account {owner.decode()} does not have this address")


def check_mailbox_owners(ctx: CheckContext) -> Iterator[Finding]:
    """Every mailbox is owned by an existing account (else a leak)."""
    if not ctx.require("mailbox owners", "mbox/mailboxes.db", "entry/entry.db"):
        return
    entries = ctx.stores.handle("entry", "entry.db")
    for key, value in items(ctx.stores.handle("mbox", "mailboxes.db")):
        meta = MailboxMeta.decode(key, value)
        ctx.stats["mailboxes"] += 1
        if entries.get(meta.owner.encode()) is None:
            yield MailboxWithoutOwner(meta.mailbox, f"owner account {meta.owner} does not exist")


def check_dircache(ctx: CheckContext) -> Iterator[Finding]:
    """The disposable cache, when present, equals what the directory says."""
    path = ctx.layout.dircache / DIRCACHE_FILE
    if not path.exists():
        return
    if not ctx.require("dircache", "entry/entry.db", "index/index.db"):
        return
    entries = ctx.stores.handle("entry", "entry.db")
    index = ctx.stores.handle("index", "index.db")
    try:
        cached = list(read_cache(path))
    except Exception as exc:  # a damaged cache is only a warning: it is disposable
        yield DircacheStale(f"db/dircache/{DIRCACHE_FILE}", f"unreadable: {exc}")
        return
    for address, value in cached:
        owner = index.get(address_key(address).encode())
        current = None if owner is None else entries.get(owner)
        if current != value:
            yield DircacheStale(address, "cached entry differs from the directory")
