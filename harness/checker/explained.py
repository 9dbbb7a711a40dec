"""Invariant 7 after a restore, judged by what was promised (DESIGN.md, "How a restore is
judged"): a difference between the restored tree and the backup's manifest that an operation
after the backup's consistency point explains is state newer than the backup that still
holds (`newer-than-backup`), not a violation. A selective restore (config.db alone, one
mailbox) keeps mail delivered, deleted and flagged since the backup; only what no operation
explains decides the verdict: a message an acknowledged deletion removed before the backup
that is back is still `message-resurrected`.

An operation explains a difference when it did not fail and was not acknowledged before the
consistency point (acknowledged after it, or of unknown outcome): its effect may be in the
tree and not in the backup. What each kind of difference needs:

- `message-resurrected`, `row-resurrected`: a delivery of that Message-ID;
- `message-lost`: a deletion of that Message-ID, or the deletion of an account that held it;
- `row-lost`: a deletion of that Message-ID from that mailbox, or its account's deletion;
  for a row the backup held marked `\\Deleted`, any deletion in that mailbox (an IMAP
  EXPUNGE removes every marked row, RFC 3501 §6.4.3);
- `row-changed` (flags only): a flag set on it, a deletion (`\\Deleted`), a read of the
  mailbox (`\\Seen`);
- `account-resurrected`, `account-changed`: its provisioning; `account-lost`: its deletion;
- `config-changed`, `config-key-added`, `config-key-lost`: a change of that key.

The consistency point is the last `consistency-point` event in the history (the backup the
restore used); without one nothing is explained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from harness.checker.findings import (
    AccountChanged,
    AccountLost,
    AccountResurrected,
    ConfigChanged,
    ConfigKeyAdded,
    ConfigKeyLost,
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
    deleted_ids: dict[str, int] = field(default_factory=dict)
    expunged: dict[str, int] = field(default_factory=dict)
    """address -> its last deletion: an expunge removes every row marked \\Deleted."""
    flagged: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(address, Message-ID, flag letter) -> the operation that set it."""
    read: dict[str, int] = field(default_factory=dict)
    provisioned: dict[str, int] = field(default_factory=dict)
    deprovisioned: dict[str, int] = field(default_factory=dict)
    config: dict[str, int] = field(default_factory=dict)

    def add(self, op: Operation) -> None:
        target, i = op.target, op.index
        if isinstance(target, Deliver):
            self.delivered[target.message_id] = i
        elif isinstance(target, Delete):
            for message_id in target.message_ids:
                self.deleted[(target.address.lower(), message_id)] = i
                self.deleted_ids[message_id] = i
            self.expunged[target.address.lower()] = i
        elif isinstance(target, SetFlag):
            letter = LETTERS.get(target.flag.lower(), "")
            self.flagged[(target.address.lower(), target.message_id, letter)] = i
        elif isinstance(target, Read):
            self.read[target.address.lower()] = i
        elif isinstance(target, Provision):
            self.provisioned[target.address.lower()] = i
        elif isinstance(target, Deprovision):
            self.deprovisioned[target.address.lower()] = i
        elif isinstance(target, ConfigChange):
            self.config[target.key] = i


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
        if op.acknowledged and op.completed is not None and op.completed.mono <= point:
            continue  # acknowledged before the point: the backup must hold its effect
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


def explain(finding: Finding, since: Since, facts: Facts) -> Finding:
    """`finding` itself, or the `newer-than-backup` finding naming the operation that
    explains it."""
    op = _explaining(finding, since, facts)
    if op is None:
        return finding
    return NewerThanBackup(
        finding.subject,
        f"{finding.kind} ({finding.detail}) explained by operation {op[0]}: {op[1]}",
        op=op[0],
    )


def _explaining(finding: Finding, since: Since, facts: Facts) -> tuple[int, str] | None:
    subject = finding.subject
    if isinstance(finding, MessageResurrected):
        return _found(since.delivered, facts.header_of(subject), "delivered after the backup")
    if isinstance(finding, MessageLost):
        return _found(since.deleted_ids, facts.header_of(subject), "deleted after the backup")
    if isinstance(finding, RowResurrected | RowLost | RowChanged):
        return _row(finding, since, facts)
    if isinstance(finding, AccountResurrected | AccountChanged):
        address = facts.address_of(subject)
        return _found(since.provisioned, address, "provisioned after the backup")
    if isinstance(finding, AccountLost):
        return _found(since.deprovisioned, facts.address_of(subject), "deleted after the backup")
    if isinstance(finding, ConfigChanged | ConfigKeyAdded | ConfigKeyLost):
        return _found(since.config, subject, "changed after the backup")
    return None


def _row(finding: Finding, since: Since, facts: Facts) -> tuple[int, str] | None:
    """A mailbox row (`mailbox/folder/uid`, detail naming its message) against what its
    owner's operations did."""
    mailbox = finding.subject.split("/", 1)[0]
    owner = facts.owner_of(mailbox)
    msgid = _row_message(finding)
    header = facts.header_of(msgid) if msgid else ""
    if isinstance(finding, RowResurrected):
        return _found(since.delivered, header, "delivered after the backup")
    if owner and owner in since.deprovisioned:
        return since.deprovisioned[owner], "its account was deleted after the backup"
    if isinstance(finding, RowLost):
        marked = finding.detail.rsplit("[", 1)[-1].rstrip("]") if "[" in finding.detail else ""
        expunged = "marked \\Deleted in the backup, expunged after it"
        return _found(since.deleted, (owner, header), "deleted after the backup") or (
            _found(since.expunged, owner, expunged) if Flag.DELETED.value in marked else None
        )
    flags = _flag_change(finding)
    if flags is None or flags[0] or not flags[1]:
        return None  # another message, or a flag removed: no operation here removes one
    explained: list[tuple[int, str]] = []
    for letter in flags[1]:
        found = _found(since.flagged, (owner, header, letter), f"{letter} set after the backup")
        if found is None and letter == Flag.SEEN.value:
            found = _found(since.read, owner, "its mailbox was read (\\Seen) after the backup")
        if found is None and letter == Flag.DELETED.value:
            found = _found(since.deleted, (owner, header), "deleted (\\Deleted) after the backup")
        if found is None:
            return None
        explained.append(found)
    return max(explained)


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
