"""Invariants 6 and 7 from the history: every acknowledged operation's effect is there.

After a crash and the spool drained: each message acknowledged with `250` is in the mailbox of
each accepted recipient exactly once, unless an acknowledged deletion removed it or the
account was deleted; `unknown` deliveries may be present or absent; duplicates are counted and
reported apart (at-least-once delivery). Acknowledged provisioning, deletions of accounts and
configuration changes are in the directory and config.db.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.checker.context import CheckContext
from harness.checker.databases import items
from harness.checker.findings import (
    AcknowledgedAccountLost,
    AcknowledgedConfigLost,
    AcknowledgedDeleteUndone,
    AcknowledgedMessageLost,
    DeletedAccountPresent,
    DuplicateDelivery,
    Finding,
)
from harness.errors import ConfigSyntaxError
from harness.history import (
    ConfigChange,
    Delete,
    Deliver,
    Deprovision,
    Operation,
    Outcome,
    Provision,
    operations,
)
from harness.store import config as configdb
from harness.store.records import Account, MsgRecord, Row, address_key


@dataclass
class Expectations:
    """What the history says must (and may) be in the tree."""

    delivered: dict[tuple[str, str], Operation] = field(default_factory=dict)
    """(address, Message-ID) -> the acknowledged delivery."""
    maybe: set[tuple[str, str]] = field(default_factory=set)
    deleted: dict[tuple[str, str], tuple[Outcome, int]] = field(default_factory=dict)
    accounts_added: dict[str, Operation] = field(default_factory=dict)
    accounts_gone: dict[str, tuple[Outcome, int]] = field(default_factory=dict)
    config: dict[str, tuple[str, set[str], int]] = field(default_factory=dict)
    """key -> (last acknowledged value, values an unknown later change may have left)."""
    message_ids: set[str] = field(default_factory=set)


def expectations(history: Path) -> Expectations:
    exp = Expectations()
    for op in operations(history):
        target, done = op.target, op.result
        if isinstance(target, Deliver):
            exp.message_ids.add(target.message_id)
            if op.outcome is Outcome.OK and isinstance(done, Deliver):
                for address in done.accepted:
                    exp.delivered[(address.lower(), target.message_id)] = op
            elif op.outcome is Outcome.UNKNOWN:
                exp.maybe.update((a.lower(), target.message_id) for a in target.recipients)
        elif isinstance(target, Delete) and op.outcome is not Outcome.FAIL:
            for message_id in target.message_ids:
                exp.deleted[(target.address.lower(), message_id)] = (op.outcome, op.index)
        elif isinstance(target, Provision) and op.outcome is Outcome.OK:
            exp.accounts_added[target.address.lower()] = op
        elif isinstance(target, Deprovision) and op.outcome is not Outcome.FAIL:
            exp.accounts_gone[target.address.lower()] = (op.outcome, op.index)
        elif isinstance(target, ConfigChange) and op.outcome is not Outcome.FAIL:
            last, maybe, index = exp.config.get(target.key, ("", set(), -1))
            if op.outcome is Outcome.OK:
                exp.config[target.key] = (target.value, set(), op.index)
            else:
                exp.config[target.key] = (last, maybe | {target.value}, index)
    return exp


def check_history(ctx: CheckContext, history: Path) -> Iterator[Finding]:
    """Findings for acknowledged operations whose effect is missing (or undone)."""
    exp = expectations(history)
    needs = ("entry/entry.db", "index/index.db", "msgid/msgid.db", "mbox/rows.db")
    if not ctx.require("history", *needs):
        return
    index = ctx.stores.handle("index", "index.db")
    entries = ctx.stores.handle("entry", "entry.db")

    def mailbox_of(address: str) -> str | None:
        owner = index.get(address_key(address).encode())
        if owner is None or entries.get(owner) is None:
            return None
        return Account.decode(owner, entries.get(owner)).mailbox

    yield from _accounts(exp, mailbox_of)
    found = _found(ctx, exp.message_ids)
    for (address, message_id), op in sorted(exp.delivered.items()):
        mailbox = mailbox_of(address)
        if mailbox is None:
            ctx.stats["history_skipped_no_account"] += 1
            continue
        copies = found.get((mailbox, message_id), 0)
        deletion = exp.deleted.get((address, message_id))
        ctx.stats["history_acknowledged"] += 1
        if copies == 0 and deletion is None:
            yield AcknowledgedMessageLost(
                f"{mailbox}:{message_id}",
                f"to {address}, acknowledged at {op.completed.wall if op.completed else 0:.3f}",
                op=op.index,
            )
        elif copies > 0 and deletion is not None and deletion[0] is Outcome.OK:
            yield AcknowledgedDeleteUndone(
                f"{mailbox}:{message_id}", f"mailbox of {address}", op=deletion[1]
            )
        elif copies > 1:
            yield DuplicateDelivery(f"{mailbox}:{message_id}", f"{copies} copies for {address}")
    for address, message_id in sorted(exp.maybe):
        mailbox = mailbox_of(address)
        present = mailbox is not None and found.get((mailbox, message_id), 0) > 0
        ctx.stats["history_unknown_present" if present else "history_unknown_absent"] += 1
    yield from _config(ctx, exp)


def _found(ctx: CheckContext, message_ids: set[str]) -> Counter[tuple[str, str]]:
    """(mailbox, Message-ID) -> number of rows, for the history's messages only."""
    by_msgid: dict[str, str] = {}
    for key, value in items(ctx.stores.handle("msgid", "msgid.db")):
        record = MsgRecord.decode(key, value)
        if record.header_id in message_ids:
            by_msgid[record.msgid] = record.header_id
    found: Counter[tuple[str, str]] = Counter()
    for key, value in items(ctx.stores.handle("mbox", "rows.db")):
        row = Row.decode(key, value)
        header_id = by_msgid.get(row.msgid)
        if header_id is not None:
            found[(row.key.mailbox, header_id)] += 1
    return found


def _accounts(exp: Expectations, resolve: Callable[[str], str | None]) -> Iterator[Finding]:
    for address, op in sorted(exp.accounts_added.items()):
        if address in exp.accounts_gone:
            continue
        if resolve(address) is None:
            yield AcknowledgedAccountLost(address, "provisioning was acknowledged", op=op.index)
    for address, (outcome, index) in sorted(exp.accounts_gone.items()):
        if outcome is Outcome.OK and resolve(address) is not None:
            yield DeletedAccountPresent(address, "deletion was acknowledged", op=index)


def _config(ctx: CheckContext, exp: Expectations) -> Iterator[Finding]:
    if not exp.config:
        return
    try:
        config = configdb.ConfigDB.parse(
            ctx.layout.config.read_text(encoding="utf-8", errors="surrogateescape"),
            path="config/config.db",
        )
    except (OSError, ConfigSyntaxError):
        ctx.skip("history config", "config.db cannot be read (reported above)")
        return
    values = {str(k): v for k, v in config.entries()}
    for key, (acked, maybe, index) in sorted(exp.config.items()):
        current = values.get(key)
        allowed = maybe | ({acked} if acked else set())
        if acked and current not in allowed:
            yield AcknowledgedConfigLost(
                key, f"acknowledged [{acked}], config.db has [{current}]", op=index
            )
