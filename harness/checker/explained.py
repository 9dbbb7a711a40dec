"""Invariant 7 after a restore, judged by what was promised (DESIGN.md, "How a restore is
judged"): a difference between the restored tree and the backup's manifest that an operation
after the backup's consistency point explains is state newer than the backup that still
holds (`newer-than-backup`), not a violation. A selective restore (config.db alone, one
mailbox) keeps mail delivered, deleted and flagged since the backup; only what no operation
explains decides the verdict: a message an acknowledged deletion removed before the backup
that is back is still `message-resurrected`.

An operation explains a difference when it did not fail and was not over before the
consistency point: its effect may be in the tree and not in the backup. What each kind of
difference needs:

- `message-resurrected`, `row-resurrected`: a delivery of that Message-ID;
- `message-lost`: each row it had in the backup deleted by its owner, or its owner's
  account deleted (mail stored once for several recipients is lost only when all lost it);
- `row-lost`: a deletion of that Message-ID from that mailbox, or its account's deletion;
  for an INBOX row the backup held marked `\\Deleted`, an IMAP deletion in that mailbox
  (EXPUNGE removes every marked row, RFC 3501 §6.4.3; POP3's QUIT only its own);
- `row-changed` (flags added only): each flag by an operation that sets it: a flag set on
  it, a deletion (`\\Deleted`), a read (`\\Seen`, INBOX, one row for each message read);
- `account-resurrected`: its provisioning; `account-lost`: its deletion;
- `config-changed`, `config-key-added`: a change of that key to the value the tree has.

An operation over before the point (acknowledged or not) explains nothing, but for a
delivery of unknown outcome (it may still have been queued).

The consistency point is the last `consistency-point` event in the history (the backup the
restore used); without one nothing is explained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from harness.checker.findings import (
    AccountLost,
    AccountResurrected,
    ConfigChanged,
    ConfigKeyAdded,
    Finding,
    MessageLost,
    MessageResurrected,
    NewerThanBackup,
    RowChanged,
    RowLost,
    RowResurrected,
)
from harness.history import (
    ConfigChange,
    Delete,
    Deliver,
    Deprovision,
    Event,
    Operation,
    Outcome,
    Provision,
    Read,
    SetFlag,
    read_history,
)
from harness.store.records import Flag

K = TypeVar("K")
LETTERS = {f"\\{f.name.lower()}": f.value for f in Flag}
"""An IMAP system flag (lower case) -> its store letter: `\\seen` -> `S`."""
Key = tuple[str, str]
"""(address in lower case, Message-ID)."""


@dataclass
class Since:
    """What the history's operations may have done after the consistency point (each set
    maps what was touched to the index of the last operation that touched it)."""

    point: float
    """The consistency point (monotonic seconds)."""
    delivered: dict[str, int] = field(default_factory=dict)
    deleted: dict[Key, int] = field(default_factory=dict)
    expunged: dict[str, int] = field(default_factory=dict)
    """address -> its last IMAP deletion: EXPUNGE removes every INBOX row marked
    \\Deleted (POP3's QUIT only the messages that session marked)."""
    flagged: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(address, Message-ID, flag letter) -> the operation that set it."""
    read: dict[str, list[int]] = field(default_factory=dict)
    """address -> its reads, each good for as many INBOX rows \\Seen as it read."""
    provisioned: dict[str, int] = field(default_factory=dict)
    deprovisioned: dict[str, int] = field(default_factory=dict)
    config: dict[tuple[str, str], int] = field(default_factory=dict)
    """(key, value) -> the change that set it."""

    def add(self, op: Operation) -> None:
        target, i = op.target, op.index
        if isinstance(target, Deliver):
            self.delivered[target.message_id] = i
        elif isinstance(target, Delete):
            for message_id in target.message_ids:
                self.deleted[(target.address.lower(), message_id)] = i
            if target.protocol == "imap":
                self.expunged[target.address.lower()] = i
        elif isinstance(target, SetFlag):
            letter = LETTERS.get(target.flag.lower(), "")
            self.flagged[(target.address.lower(), target.message_id, letter)] = i
        elif isinstance(target, Read):
            done = op.result if isinstance(op.result, Read) else target
            reads = self.read.setdefault(target.address.lower(), [])
            reads += [i] * max(done.count, 1)
        elif isinstance(target, Provision):
            self.provisioned[target.address.lower()] = i
        elif isinstance(target, Deprovision):
            self.deprovisioned[target.address.lower()] = i
        elif isinstance(target, ConfigChange):
            self.config[(target.key, target.value)] = i


def since_point(history: Path) -> Since | None:
    """What the operations after the history's last consistency point may have done (None:
    the history has no consistency point). Raises FiredrillError for a malformed history
    (validated before any check runs)."""
    point: float | None = None
    ops: list[Operation] = []
    for item in read_history(history):
        if isinstance(item, Event) and item.name == "consistency-point":
            mono = item.detail.get("mono")
            point = float(mono) if isinstance(mono, int | float) else item.at.mono
        elif isinstance(item, Operation):
            ops.append(item)
    if point is None:
        return None
    since = Since(point)
    for op in ops:
        if op.outcome is Outcome.FAIL:
            continue
        over = op.completed is not None and op.completed.mono <= point
        # over before the point: the backup holds its effect, or it had none; but a
        # delivery of unknown outcome may still have been queued and arrive later
        if over and (op.acknowledged or not isinstance(op.target, Deliver)):
            continue
        since.add(op)
    return since


@dataclass
class Facts:
    """What a difference's subject stands for: a message's Message-ID, a mailbox's owner."""

    header_of: Callable[[str], str]
    """msgid -> its Message-ID ("" when unknown)."""
    owner_of: Callable[[str], str]
    """mailbox id -> its account's address in lower case ("" when unknown)."""
    address_of: Callable[[str], str]
    """entry id -> its account's address in lower case ("" when unknown)."""
    mailboxes_of: Callable[[str], list[str]]
    """msgid of a message the tree lost -> the mailboxes its rows were in, in the backup."""


class Explainer:
    """Explains the differences of one comparison in turn (a read is good for as many
    \\Seen rows as it read, so the reads are used up as they explain)."""

    def __init__(self, since: Since, facts: Facts) -> None:
        self.since = since
        self.facts = facts
        self.reads = {owner: list(reads) for owner, reads in since.read.items()}

    def __call__(self, finding: Finding) -> Finding:
        """`finding` itself, or the `newer-than-backup` finding naming the operation that
        explains it."""
        op = self._explaining(finding)
        if op is None:
            return finding
        return NewerThanBackup(
            finding.subject,
            f"{finding.kind} ({finding.detail}) explained by operation {op[0]}: {op[1]}",
            op=op[0],
        )

    def _explaining(self, finding: Finding) -> tuple[int, str] | None:
        since, facts, subject = self.since, self.facts, finding.subject
        if isinstance(finding, MessageResurrected):
            return _found(since.delivered, facts.header_of(subject), "delivered after the backup")
        if isinstance(finding, MessageLost):
            return self._message_lost(subject)
        if isinstance(finding, RowResurrected | RowLost | RowChanged):
            return self._row(finding)
        if isinstance(finding, AccountResurrected):
            address = facts.address_of(subject)
            return _found(since.provisioned, address, "provisioned after the backup")
        if isinstance(finding, AccountLost):
            address = facts.address_of(subject)
            return _found(since.deprovisioned, address, "deleted after the backup")
        if isinstance(finding, ConfigChanged | ConfigKeyAdded):
            value = _now_value(finding.detail)
            return _found(since.config, (subject, value), f"set to [{value}] after the backup")
        return None  # account-changed, config-key-lost: no operation here makes them

    def _message_lost(self, msgid: str) -> tuple[int, str] | None:
        """A message the tree lost: every row it had in the backup gone by its owner's
        deletion of it, or by the deletion of its owner's account."""
        header = self.facts.header_of(msgid)
        mailboxes = self.facts.mailboxes_of(msgid)
        if not header or not mailboxes:
            return None
        found: list[tuple[int, str]] = []
        for mailbox in mailboxes:
            owner = self.facts.owner_of(mailbox)
            why = _found(self.since.deleted, (owner, header), "deleted after the backup") or (
                _found(self.since.deprovisioned, owner, "its account was deleted after it")
            )
            if why is None:
                return None
            found.append(why)
        return max(found)

    def _row(self, finding: Finding) -> tuple[int, str] | None:
        """A mailbox row (`mailbox/folder/uid`, detail naming its message) against what its
        owner's operations did."""
        since = self.since
        mailbox, folder = [*finding.subject.split("/"), "", ""][:2]
        owner = self.facts.owner_of(mailbox)
        msgid = _row_message(finding)
        header = self.facts.header_of(msgid) if msgid else ""
        if isinstance(finding, RowResurrected):
            return _found(since.delivered, header, "delivered after the backup")
        if owner and owner in since.deprovisioned:
            return since.deprovisioned[owner], "its account was deleted after the backup"
        if isinstance(finding, RowLost):
            marked = finding.detail.rsplit("[", 1)[-1] if "[" in finding.detail else ""
            expunged = (
                _found(since.expunged, owner, "marked \\Deleted in the backup, expunged after it")
                if Flag.DELETED.value in marked and folder == "INBOX"
                else None
            )
            return _found(since.deleted, (owner, header), "deleted after the backup") or expunged
        return self._flags(finding, owner, folder, header)

    def _flags(
        self, finding: Finding, owner: str, folder: str, header: str
    ) -> tuple[int, str] | None:
        """Flags added (none removed: no operation here removes one), each by an operation
        that sets it: a flag set, a deletion (\\Deleted), a read (\\Seen, INBOX only)."""
        flags = _flag_change(finding)
        if flags is None or flags[0] or not flags[1]:
            return None
        found: list[tuple[int, str]] = []
        for letter in flags[1]:
            why = _found(
                self.since.flagged, (owner, header, letter), f"{letter} set after the backup"
            )
            if why is None and letter == Flag.DELETED.value:
                why = _found(self.since.deleted, (owner, header), "deleted after the backup")
            if why is None and letter == Flag.SEEN.value and folder == "INBOX":
                reads = self.reads.get(owner, [])
                why = (reads.pop(), "read (\\Seen) after the backup") if reads else None
            if why is None:
                return None
            found.append(why)
        return max(found)


def _now_value(detail: str) -> str:
    """The tree's value in `was [a], is [b]` or `is [b]`."""
    tail = detail.rsplit("is [", 1)[-1]
    return tail[:-1] if tail.endswith("]") else tail


def _found(made: Mapping[K, int], key: K, why: str) -> tuple[int, str] | None:
    """The operation in `made` that touched `key`, with why it explains the difference."""
    if not key or key == ("", "") or key not in made:
        return None
    return made[key], why


def _row_message(finding: Finding) -> str:
    """The message a row finding names: `message X` (lost, resurrected) or `was X [...]`."""
    words = finding.detail.split()
    if len(words) >= 2 and words[0] in ("message", "was"):
        return words[1]
    return ""


def _flag_change(finding: Finding) -> tuple[str, str] | None:
    """`was M [f], is M [g]` (the same message, other flags): (removed, added) letters; None
    for a row that names another message."""
    words = finding.detail.replace(",", "").split()
    if len(words) < 5 or words[0] != "was" or words[3] != "is" or words[1] != words[4]:
        return None
    old, new = set(words[2].strip("[]")), set(words[5].strip("[]")) if len(words) > 5 else set()
    return "".join(sorted(old - new)), "".join(sorted(new - old))
