"""Invariant 10, first half: what clients are served equals what the store holds.

For the accounts a drill *followed* — those its history's operations touched (the accepted
recipients of deliveries, the addresses of reads, flag changes and deletions, and the accounts
with `seen` records) that still exist, active, in the directory — each folder of the account's
mailbox is read twice: as IMAP serves it (EXAMINE, then UID FETCH of UID, FLAGS and the
Message-ID header; harness.checker.served_clients) and as the store holds it (folders.db and
rows.db of a recovered private copy of db/mbox, Message-IDs from db/msgid). Both must have the
same UIDVALIDITY and UIDNEXT, the same UIDs, and per UID the same Message-ID and system flags.
For a few of them the POP3 UIDL listing must equal the unique-ids the POP3 server gives the
store's INBOX (`harness.servers.pop3.maildrop.unique_ids`, the server's own function).

At tier M and above a seeded sample of at most `SAMPLE` followed accounts is compared, and
`POP3_SAMPLE` of those over POP3, drawn with the drill's seed (the same sample every time for
the same history). Each difference is one `ServedStateDiffers` whose subject is
`ADDRESS/FOLDER/UID` (a message), `ADDRESS/FOLDER` (UIDVALIDITY or UIDNEXT, or a folder that
cannot be read), `ADDRESS/imap` (no IMAP session), `ADDRESS/pop3` (the UIDL listing) or
`ADDRESS/store` (the mailbox's records cannot be read), and whose detail says what was served
and what is stored. Nothing here raises: an account or a
folder that cannot be read is a finding, a store that cannot be read is a skip (the offline
check reports it), and a crash of the comparison itself is recorded as `error` (the invariant
is then unknown, not passed).
"""

from __future__ import annotations

import dataclasses
import random
import time
import traceback
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.accounts import lab_accounts
from harness.checker.databases import ScratchStores, scratch_copy
from harness.checker.findings import Finding, ServedStateDiffers
from harness.checker.served_clients import (
    FolderState,
    Login,
    Message,
    Unreadable,
    imap_folder,
    imap_session,
    pop3_listing,
)
from harness.errors import FiredrillError
from harness.history import (
    Delete,
    Deliver,
    Operation,
    Provision,
    Read,
    Seen,
    SetFlag,
    read_history,
)
from harness.layout import Layout
from harness.servers.pop3.maildrop import INBOX, unique_ids
from harness.store.bdb import cursor_items
from harness.store.records import Flag, FolderMeta, MsgRecord, Row, folder_prefix
from harness.workload.clients import Endpoints

SAMPLE = 40
"""Followed accounts compared at most, at the sampled tiers."""
POP3_SAMPLE = 3
"""Compared accounts whose POP3 UIDL listing is compared too."""
SAMPLED_TIERS = frozenset({"M", "L"})
"""Population tiers at which the followed accounts are sampled (all compared below)."""
WORKERS = 4
"""Accounts compared at a time (each its own IMAP and POP3 sessions)."""
SHOWN = 3
"""Unique-ids a POP3 listing difference quotes, on each side."""

FLAG_NAMES = {
    Flag.SEEN: "\\Seen",
    Flag.ANSWERED: "\\Answered",
    Flag.FLAGGED: "\\Flagged",
    Flag.DELETED: "\\Deleted",
}
"""The store's flag codes as IMAP system flags (RFC 3501 §2.3.2)."""


@dataclass(frozen=True, slots=True)
class Access:
    """How the comparison reaches the servers: where they listen, and the passwords known
    for accounts whose password the installation no longer keeps (address, lower case ->
    password; e.g. what the lab held before a disaster destroyed its credentials file)."""

    endpoints: Endpoints
    passwords: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServedReport:
    """The comparison of what clients are served with what the store holds.

    findings: one ServedStateDiffers per difference (or unreadable account or folder).
    followed: accounts the history touched that exist and are active. without_password:
    those of them no password is known for (not compared). accounts: accounts compared over
    IMAP (all followed ones with a password, or a seeded sample of at most SAMPLE at tier M
    and above); folders, messages: folders and UIDs compared; pop3: accounts whose UIDL
    listing was compared. seconds: wall time. skipped: why nothing was compared ("" when it
    ran). error: the comparison itself crashed (a harness bug; the invariant is unknown).
    """

    findings: tuple[Finding, ...] = ()
    followed: int = 0
    without_password: int = 0
    accounts: int = 0
    folders: int = 0
    messages: int = 0
    pop3: int = 0
    seconds: float = 0.0
    skipped: str = ""
    error: str = ""


# -- the pure part: served against stored ----------------------------------------------------


def diff_folder(address: str, served: FolderState, stored: FolderState) -> list[Finding]:
    """The differences between one folder as served and as stored: UIDVALIDITY and UIDNEXT
    (one finding `ADDRESS/FOLDER`), then each UID on one side only or whose Message-ID or
    flags differ (one finding `ADDRESS/FOLDER/UID` each), in UID order."""
    where = f"{address}/{stored.name}"
    found: list[Finding] = []
    values = [
        f"{name} served {a}, stored {b}"
        for name, a, b in (
            ("UIDVALIDITY", served.uidvalidity, stored.uidvalidity),
            ("UIDNEXT", served.uidnext, stored.uidnext),
        )
        if a != b
    ]
    if values:
        found.append(ServedStateDiffers(where, "; ".join(values)))
    by_uid = {m.uid: m for m in served.messages}
    kept = {m.uid: m for m in stored.messages}
    for uid in sorted(by_uid.keys() | kept.keys()):
        detail = _message_differs(by_uid.get(uid), kept.get(uid))
        if detail:
            found.append(ServedStateDiffers(f"{where}/{uid}", detail))
    return found


def _message_differs(served: Message | None, stored: Message | None) -> str:
    """What differs about one UID ("" when nothing does)."""
    if served is None and stored is not None:
        return f"stored ({_described(stored)}), not served"
    if stored is None and served is not None:
        return f"served ({_described(served)}), not stored"
    if served is None or stored is None:
        return ""
    parts = []
    known = stored.message_id is not None and served.message_id is not None
    if known and served.message_id != stored.message_id:
        parts.append(f"Message-ID served {served.message_id!r}, stored {stored.message_id!r}")
    if served.flags != stored.flags:
        parts.append(f"flags served {_flags(served.flags)}, stored {_flags(stored.flags)}")
    return "; ".join(parts)


def _described(message: Message) -> str:
    mid = "unknown Message-ID" if message.message_id is None else repr(message.message_id)
    return f"{mid}, flags {_flags(message.flags)}"


def _flags(flags: Collection[str]) -> str:
    return "(" + " ".join(sorted(flags)) + ")"


def diff_listing(address: str, served: Sequence[str], stored: Sequence[str]) -> list[Finding]:
    """The POP3 UIDL listing as served against the unique-ids of the stored INBOX: one finding
    `ADDRESS/pop3` when they differ (ids on one side only, or the same ids in another order)."""
    if list(served) == list(stored):
        return []
    missing = [u for u in stored if u not in set(served)]
    extra = [u for u in served if u not in set(stored)]
    detail = f"{len(served)} unique-ids served, {len(stored)} stored"
    if missing:
        detail += f"; stored, not served: {', '.join(missing[:SHOWN])}"
        detail += f" (+{len(missing) - SHOWN})" if len(missing) > SHOWN else ""
    if extra:
        detail += f"; served, not stored: {', '.join(extra[:SHOWN])}"
        detail += f" (+{len(extra) - SHOWN})" if len(extra) > SHOWN else ""
    if not missing and not extra:
        detail += "; the same unique-ids in another order"
    return [ServedStateDiffers(f"{address}/pop3", detail)]


# -- whom to follow ----------------------------------------------------------------------------


def followed(history: Path) -> set[str]:
    """Addresses (lower case) the history's operations touched: accepted recipients of
    deliveries, the accounts read, flagged or deleted from, and those with `seen` records.
    Raises FiredrillError for a history that is not one."""
    touched: set[str] = set()
    for item in read_history(history):
        if isinstance(item, Seen):
            touched.add(item.address.lower())
        elif isinstance(item, Operation):
            touched.update(a.lower() for a in _touched(item))
    return touched


def _touched(op: Operation) -> tuple[str, ...]:
    if isinstance(op.target, Deliver):
        return op.result.accepted if isinstance(op.result, Deliver) else ()
    if isinstance(op.target, Read | SetFlag | Delete):
        return (op.target.address,)
    return ()


def provisioned_passwords(history: Path) -> dict[str, str]:
    """Address (lower case) -> password of every account the history provisioned."""
    return {
        op.target.address.lower(): op.target.password
        for op in (i for i in read_history(history) if isinstance(i, Operation))
        if isinstance(op.target, Provision)
    }


def choose(addresses: Collection[str], tier: str, seed: int, limit: int = SAMPLE) -> list[str]:
    """All of `addresses` (sorted), or at the sampled tiers a sample of at most `limit` drawn
    with `seed` (the same addresses and seed always give the same sample)."""
    ordered = sorted(addresses)
    if tier.upper() not in SAMPLED_TIERS or len(ordered) <= limit:
        return ordered
    return sorted(random.Random(f"served:{seed}").sample(ordered, limit))


def pop3_sample(addresses: Sequence[str], seed: int, size: int = POP3_SAMPLE) -> set[str]:
    """A seeded sample of `size` of `addresses` whose POP3 listing is compared too."""
    ordered = sorted(addresses)
    return set(random.Random(f"served-pop3:{seed}").sample(ordered, min(size, len(ordered))))


# -- the store's side --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredMailbox:
    """One mailbox as the store holds it: its folders (with their folder record) in key
    order, and its INBOX rows in UID order (the POP3 maildrop)."""

    folders: tuple[FolderState, ...]
    inbox: tuple[Row, ...]


def stored_mailbox(stores: ScratchStores, mailbox: str) -> StoredMailbox:
    """Read one mailbox from recovered copies of db/mbox and db/msgid (db/mbox readable).

    A row of a folder without a folder record is left out and a row without a message
    record has an unknown Message-ID: the offline check reports both.
    """
    prefix = folder_prefix(mailbox)
    metas = [
        FolderMeta.decode(k, v)
        for k, v in cursor_items(stores.handle("mbox", "folders.db"), prefix=prefix)
    ]
    rows: dict[str, list[Row]] = {}
    for key, value in cursor_items(stores.handle("mbox", "rows.db"), prefix=prefix):
        row = Row.decode(key, value)
        rows.setdefault(row.key.folder, []).append(row)
    records = stores.handle("msgid", "msgid.db") if stores.readable("msgid/msgid.db") else None
    folders = tuple(
        FolderState(
            meta.folder,
            meta.uidvalidity,
            meta.uidnext,
            tuple(_stored_message(row, records) for row in rows.get(meta.folder, [])),
        )
        for meta in metas
    )
    return StoredMailbox(folders, tuple(rows.get(INBOX, [])))


def _stored_message(row: Row, records: Any) -> Message:
    flags = frozenset(FLAG_NAMES[f] for f in row.flags)
    value = records.get(row.msgid.encode()) if records is not None else None
    header_id = MsgRecord.decode(row.msgid.encode(), value).header_id if value else None
    return Message(row.key.uid, header_id, flags)


# -- the comparison ----------------------------------------------------------------------------


def served_state(
    layout: Layout,
    access: Access,
    history: Path,
    *,
    tier: str,
    seed: int,
    identities: bool = True,
) -> ServedReport:
    """Compare what the followed accounts are served with what the store holds (see the
    module's docstring); never raises. `tier` decides whether the followed accounts are
    sampled, `seed` which ones. Without `identities` the Message-ID of each UID is not
    fetched (the server reads no message file): UIDs, flags, UIDVALIDITY and UIDNEXT only."""
    started = time.monotonic()
    try:
        report = _served_state(layout, access, history, tier, seed, identities)
    except Exception as exc:  # checkers never raise: the invariant is then unknown
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(last.filename).name}:{last.lineno}"
        report = ServedReport(error=f"{type(exc).__name__}: {exc} (at {where})")
    return dataclasses.replace(report, seconds=round(time.monotonic() - started, 3))


def _served_state(
    layout: Layout, access: Access, history: Path, tier: str, seed: int, identities: bool
) -> ServedReport:
    try:
        touched = followed(history)
        known = {**provisioned_passwords(history), **access.passwords}
        directory = lab_accounts(layout.root)
    except FiredrillError as exc:  # the offline check reports an unreadable directory
        return ServedReport(skipped=str(exc))
    logins: dict[str, Login] = {}
    without = 0
    for account in directory:
        address = account.address.lower()
        if address not in touched or account.status != "active":
            continue
        password = account.password or known.get(address, "")
        if password:
            logins[address] = Login(address, account.login, password, account.mailboxid)
        else:
            without += 1
    chosen = choose(logins, tier, seed)
    selected = [logins[a] for a in chosen]
    pop3 = pop3_sample(chosen, seed)
    report = compare(layout, access.endpoints, selected, pop3, identities=identities)
    return dataclasses.replace(report, followed=len(logins) + without, without_password=without)


def compare(
    layout: Layout,
    endpoints: Endpoints,
    logins: Sequence[Login],
    pop3: Collection[str] = (),
    *,
    identities: bool = True,
) -> ServedReport:
    """Compare each of `logins` over IMAP (and those whose address is in `pop3` over POP3
    too) with a recovered copy of the store read first; `WORKERS` accounts at a time. Never
    raises for what the servers or the store do; a store whose db/mbox cannot be read is a
    skip."""
    with scratch_copy(layout, ("mbox", "msgid")) as stores:
        if not stores.readable("mbox/folders.db", "mbox/rows.db"):
            return ServedReport(skipped="db/mbox cannot be read (the offline check says why)")
        stored = [_stored_or_why(stores, who) for who in logins]
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="served") as pool:
        done = list(
            pool.map(
                lambda who, mine: _account(endpoints, who, mine, who.address in pop3, identities),
                logins,
                stored,
            )
        )
    return ServedReport(
        tuple(f for d in done for f in d.findings),
        accounts=len(logins),
        folders=sum(d.folders for d in done),
        messages=sum(d.messages for d in done),
        pop3=sum(d.pop3 for d in done),
    )


@dataclass(frozen=True, slots=True)
class _Compared:
    """One account compared: its differences, how many folders and UIDs were compared over
    IMAP, whether its POP3 listing was."""

    findings: tuple[Finding, ...]
    folders: int
    messages: int
    pop3: bool


def _stored_or_why(stores: ScratchStores, who: Login) -> StoredMailbox | Finding:
    """The account's mailbox as stored, or the finding saying it cannot be read."""
    try:
        return stored_mailbox(stores, who.mailbox)
    except Exception as exc:  # a damaged record: this account is not compared, the rest are
        detail = f"the store's records of mailbox {who.mailbox} cannot be read: {exc}"
        return ServedStateDiffers(f"{who.address}/store", detail[:300])


def _account(
    endpoints: Endpoints,
    who: Login,
    stored: StoredMailbox | Finding,
    pop3: bool,
    identities: bool = True,
) -> _Compared:
    if isinstance(stored, Finding):
        return _Compared((stored,), 0, 0, False)
    findings: list[Finding] = []
    folders = messages = 0
    for found, compared in _imap(endpoints, who, stored.folders, identities):
        findings += found
        folders, messages = folders + 1, messages + compared
    if pop3:
        inbox = next((f for f in stored.folders if f.name == INBOX), None)
        findings += _pop3(endpoints, who, stored.inbox, inbox.uidvalidity if inbox else 0)
    return _Compared(tuple(findings), folders, messages, pop3)


def _imap(
    endpoints: Endpoints, who: Login, stored: Sequence[FolderState], identities: bool = True
) -> Iterator[tuple[list[Finding], int]]:
    """Per folder: its differences and how many UIDs were compared (a session that cannot be
    opened is one finding, `ADDRESS/imap`)."""
    try:
        with imap_session(endpoints, who) as imap:
            for folder in stored:
                try:
                    served = imap_folder(imap, folder.name, identities)
                except Unreadable as exc:
                    subject = f"{who.address}/{folder.name}"
                    yield [ServedStateDiffers(subject, f"cannot be read: {exc}")], 0
                    continue
                uids = {m.uid for m in served.messages} | {m.uid for m in folder.messages}
                yield diff_folder(who.address, served, folder), len(uids)
    except Unreadable as exc:
        yield [ServedStateDiffers(f"{who.address}/imap", f"no session: {exc}")], 0


def _pop3(
    endpoints: Endpoints, who: Login, inbox: Sequence[Row], uidvalidity: int
) -> list[Finding]:
    """The POP3 listing against the store's INBOX (`uidvalidity` 0: no folder record, as the
    POP3 server serves it)."""
    try:
        served = pop3_listing(endpoints, who)
    except Unreadable as exc:
        return [ServedStateDiffers(f"{who.address}/pop3", f"no listing: {exc}")]
    return diff_listing(who.address, served, unique_ids(list(inbox), uidvalidity))
