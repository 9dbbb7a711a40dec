"""Invariants 6 and 7 from the history: every acknowledged operation's effect is there.

After a crash and the spool drained: each message acknowledged with `250` is in the mailbox of
each accepted recipient exactly once, unless an acknowledged deletion removed it or the
account was deleted; `unknown` deliveries may be present or absent; duplicates (of either) are
counted and reported apart (at-least-once delivery). Acknowledged provisioning, deletions of
accounts and configuration changes are in the directory and config.db.

Deletions are counted: each (POP3 DELE, IMAP STORE+EXPUNGE) removes one copy. A copy still
there after an acknowledged deletion is either that deletion undone (a violation) or a
duplicate a redelivery stored (a warning); the tree alone cannot tell them apart, so the
checker reports a deletion undone only when no duplicate can explain the copy:

- a copy that arrived after the last acknowledged deletion was invoked is a redelivery;
- a duplicate can have been there for a deletion to remove only if a redelivery happened
  between the delivery and the deletion, which takes a crash: a `fault` event in the history
  between them, or more than one acknowledged deletion (the client saw several copies).

A history written without fault events (a workload crashed by hand) is taken to have had none.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
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
    RedeliveredAfterRestore,
)
from harness.errors import ConfigSyntaxError
from harness.history import (
    ConfigChange,
    Delete,
    Deliver,
    Deprovision,
    Event,
    Operation,
    Outcome,
    Provision,
    read_history,
)
from harness.manifest import QueuedCopies
from harness.store import config as configdb
from harness.store.records import Account, MsgRecord, Row, address_key


@dataclass(frozen=True, slots=True)
class Placed:
    """An operation and its position in the history (events and invokes in file order)."""

    op: Operation
    position: int


@dataclass
class Expectations:
    """What the history says must (and may) be in the tree."""

    delivered: dict[tuple[str, str], Placed] = field(default_factory=dict)
    """(address, Message-ID) -> the acknowledged delivery."""
    maybe: dict[tuple[str, str], Placed] = field(default_factory=dict)
    """(address, Message-ID) -> a delivery of unknown outcome (present or absent)."""
    deleted: dict[tuple[str, str], list[Placed]] = field(default_factory=dict)
    """(address, Message-ID) -> its deletions that did not fail (acknowledged or unknown)."""
    faults: list[int] = field(default_factory=list)
    """Positions of the history's fault events, in order."""
    accounts_added: dict[str, Operation] = field(default_factory=dict)
    accounts_gone: dict[str, tuple[Outcome, int]] = field(default_factory=dict)
    config: dict[str, tuple[str, set[str], int]] = field(default_factory=dict)
    """key -> (last acknowledged value, values an unknown later change may have left)."""
    message_ids: set[str] = field(default_factory=set)
    queued: QueuedCopies = field(default_factory=QueuedCopies)
    """What the restored backup's spool held (see `check_history`)."""

    def duplicate(
        self, key: tuple[str, str], mailbox: str, copies: int, detail: str, op: int
    ) -> Finding:
        """A second copy: delivered again by the restore (more copies than the backup held in
        the mailbox and its spool together), or a crash's at-least-once copy."""
        address, message_id = key
        subject = f"{mailbox}:{message_id}"
        allowed = self.queued.allowed(address, mailbox, message_id)
        if allowed is not None and copies > allowed:
            return RedeliveredAfterRestore(
                subject,
                f"{detail}; the backup's spool held it, the restore delivered it again",
                op=op,
            )
        return DuplicateDelivery(subject, detail, op=op)

    def fault_between(self, first: int, last: int) -> bool:
        """Is there a fault event after history position `first` and before `last`?"""
        at = bisect.bisect_right(self.faults, first)
        return at < len(self.faults) and self.faults[at] < last


def expectations(history: Path) -> Expectations:
    exp = Expectations()
    deleted: defaultdict[tuple[str, str], list[Placed]] = defaultdict(list)
    for position, item in enumerate(read_history(history)):
        if isinstance(item, Event):
            if item.kind == "fault":
                exp.faults.append(position)
            continue
        if not isinstance(item, Operation):
            continue  # what a client saw: the client-visible checks read it
        op, target, done = item, item.target, item.result
        if isinstance(target, Deliver):
            exp.message_ids.add(target.message_id)
            if op.outcome is Outcome.OK and isinstance(done, Deliver):
                for address in done.accepted:
                    exp.delivered[(address.lower(), target.message_id)] = Placed(op, position)
            elif op.outcome is Outcome.UNKNOWN:
                for address in target.recipients:
                    exp.maybe[(address.lower(), target.message_id)] = Placed(op, position)
        elif isinstance(target, Delete) and op.outcome is not Outcome.FAIL:
            for message_id in target.message_ids:
                deleted[(target.address.lower(), message_id)].append(Placed(op, position))
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
    exp.deleted = dict(deleted)
    return exp


def check_history(
    ctx: CheckContext, history: Path, *, queued: QueuedCopies | None = None
) -> Iterator[Finding]:
    """Findings for acknowledged operations whose effect is missing (or undone).

    `queued`: after a restore, what the backup's spool held (`harness.manifest.queued_copies`).
    More copies of a queued message than the backup held in the mailbox and the spool together
    is the restore delivering it again (`redelivered-after-restore`, a violation), not the
    at-least-once duplicate a crash may leave (`duplicate-delivery`, a warning).
    """
    exp = expectations(history)
    exp.queued = queued or QueuedCopies()
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
    for (address, message_id), delivery in sorted(exp.delivered.items()):
        mailbox = mailbox_of(address)
        if mailbox is None:
            ctx.stats["history_skipped_no_account"] += 1
            continue
        arrivals = found.get((mailbox, message_id), [])
        deletions = exp.deleted.get((address, message_id), [])
        ctx.stats["history_acknowledged"] += 1
        if not arrivals and not deletions:
            op = delivery.op
            yield AcknowledgedMessageLost(
                f"{mailbox}:{message_id}",
                f"to {address}, acknowledged at {op.completed.wall if op.completed else 0:.3f}",
                op=op.index,
            )
        else:
            yield from _copies(exp, (address, message_id), mailbox, arrivals, delivery)
    for (address, message_id), delivery in sorted(exp.maybe.items()):
        mailbox = mailbox_of(address)
        arrivals = found.get((mailbox, message_id), []) if mailbox is not None else []
        ctx.stats["history_unknown_present" if arrivals else "history_unknown_absent"] += 1
        if mailbox is not None and arrivals:
            yield from _copies(exp, (address, message_id), mailbox, arrivals, delivery)
    yield from _config(ctx, exp)


def _copies(
    exp: Expectations,
    key: tuple[str, str],
    mailbox: str,
    arrivals: list[int],
    delivery: Placed,
) -> Iterator[Finding]:
    """A duplicate or an undone deletion, judged from the copies there and the deletions.

    `key` is (address, Message-ID); `arrivals` the arrival time (whole seconds) of each copy
    of it in `mailbox`.
    """
    address, message_id = key
    subject = f"{mailbox}:{message_id}"
    acked = [d for d in exp.deleted.get(key, []) if d.op.acknowledged]
    if not acked:
        if len(arrivals) > 1:
            yield exp.duplicate(
                key,
                mailbox,
                len(arrivals),
                f"{len(arrivals)} copies for {address}",
                delivery.op.index,
            )
        return
    if not arrivals:
        return
    last = max(acked, key=lambda d: d.position)
    older = [a for a in arrivals if a < math.floor(last.op.invoked.wall)]
    deletions = ", ".join(str(d.op.index) for d in acked)
    if not older:  # every copy came after the deletions: delivered again
        yield exp.duplicate(
            key,
            mailbox,
            len(arrivals),
            f"{len(arrivals)} copies for {address} delivered again after the acknowledged "
            f"deletion(s) (op {deletions})",
            delivery.op.index,
        )
    elif len(acked) > 1 or exp.fault_between(delivery.position, last.position):
        yield exp.duplicate(
            key,
            mailbox,
            len(arrivals),
            f"{len(arrivals)} copies for {address} left after {len(acked)} acknowledged "
            f"deletion(s) (op {deletions}): a redelivery stored more than one, unless a "
            "deletion did not last",
            delivery.op.index,
        )
    else:
        yield AcknowledgedDeleteUndone(subject, f"mailbox of {address}", op=last.op.index)


def _found(ctx: CheckContext, message_ids: set[str]) -> dict[tuple[str, str], list[int]]:
    """(mailbox, Message-ID) -> arrival time of each row, for the history's messages only."""
    by_msgid: dict[str, str] = {}
    for key, value in items(ctx.stores.handle("msgid", "msgid.db")):
        record = MsgRecord.decode(key, value)
        if record.header_id in message_ids:
            by_msgid[record.msgid] = record.header_id
    found: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for key, value in items(ctx.stores.handle("mbox", "rows.db")):
        row = Row.decode(key, value)
        header_id = by_msgid.get(row.msgid)
        if header_id is not None:
            found[(row.key.mailbox, header_id)].append(row.arrival)
    return dict(found)


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
