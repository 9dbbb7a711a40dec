"""The POP3 commands (RFC 1939 §4-7, CAPA from RFC 2449) and their table.

Each handler takes the session and the argument text (everything after the keyword and
one space) and writes its own `+OK` / `-ERR` response. `COMMANDS` says in which states a
command is valid; `Session.dispatch` refuses it in the others before the handler runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from harness.servers.backend import BackendUnavailable
from harness.servers.pop3.maildrop import (
    INBOX,
    Message,
    dot_stuff,
    top_lines,
    unique_ids,
    wire_lines,
)
from harness.servers.pop3.session import NUMBER, CommandTable, Session, State
from harness.store.records import Flag, MailboxStatus

__all__ = ["CAPABILITIES", "COMMANDS"]

log = logging.getLogger("firedrill.pop3")

CAPABILITIES = (
    "TOP",
    "UIDL",
    "USER",
    "RESP-CODES",
    "AUTH-RESP-CODE",
    "IMPLEMENTATION firedrill",
)
"""The CAPA list (RFC 2449 §5; RESP-CODES §8, AUTH-RESP-CODE RFC 3206)."""

# -- any state -------------------------------------------------------------------------------


async def cmd_capa(session: Session, args: str) -> None:
    """CAPA (RFC 2449 §5): the capability list, multi-line."""
    if await session.no_args(args):
        await session.send(
            dot_stuff([b"+OK capability list follows", *map(str.encode, CAPABILITIES)])
        )


async def cmd_quit(session: Session, args: str) -> None:
    """QUIT: sign off (RFC 1939 §4), after the UPDATE state in TRANSACTION (§6).

    If the backend fails during UPDATE: `-ERR [SYS/TEMP]` (RFC 3206), messages kept.
    """
    session.done = True
    if session.state is State.AUTHORIZATION:
        await session.reply(f"+OK {session.hostname} POP3 server signing off")
        return
    try:
        removed = await update(session)
    except BackendUnavailable as exc:
        log.warning("%s: UPDATE failed, messages kept: %s", session.peer, exc)
        await session.reply("-ERR [SYS/TEMP] some deleted messages not removed, try again later")
        return
    await session.reply(f"+OK {session.hostname} POP3 server signing off ({removed} deleted)")


async def update(session: Session) -> int:
    """UPDATE state (RFC 1939 §6): flag the DELEted messages Deleted (their other flags
    re-read from the store) and expunge them; returns how many were removed.

    Messages another session removed meanwhile are skipped; BackendUnavailable propagates.
    """
    assert session.account is not None
    mailbox = session.account.mailbox
    wanted = {m.row.key.uid for m in session.messages if m.deleted}
    if not wanted:
        return 0
    current = {r.key.uid: r for r in await session.backend.rows(mailbox, INBOX)}
    uids = sorted(wanted & current.keys())
    for uid in list(uids):
        row = current[uid]
        if Flag.DELETED in row.flags:
            continue
        try:
            await session.backend.change_flags(mailbox, INBOX, uid, frozenset({Flag.DELETED}))
        except LookupError:  # expunged by another session meanwhile
            uids.remove(uid)
    removed = await session.backend.expunge(mailbox, INBOX, uids) if uids else []
    if len(uids) < len(wanted):
        log.info("%s: uids %s already gone", session.peer, sorted(wanted - current.keys()))
    if kept := set(uids) - set(removed):
        log.warning("%s: uids %s were not removed", session.peer, sorted(kept))
    log.info("%s: UPDATE removed %d of %d messages", session.peer, len(removed), len(wanted))
    return len(removed)


# -- AUTHORIZATION ---------------------------------------------------------------------------


async def cmd_user(session: Session, args: str) -> None:
    """USER name (RFC 1939 §7): remember the name for PASS."""
    name = args.strip()
    if not name:
        await session.reply("-ERR missing user name")
        return
    session.user = name
    await session.reply("+OK send PASS")


async def cmd_pass(session: Session, args: str) -> None:
    """PASS string (RFC 1939 §7): log in and snapshot the maildrop (the account's INBOX).

    The whole rest of the line is the password (it may contain spaces). `-ERR [AUTH]` for
    wrong credentials, `-ERR [SYS/PERM]` for an account that is not active (RFC 3206).
    """
    if session.user is None:
        await session.reply("-ERR USER first")
        return
    login, session.user = session.user, None
    account = await session.backend.authenticate(login, args)
    if account is None:
        log.info("%s: login failed for %r", session.peer, login)
        await session.reply("-ERR [AUTH] invalid credentials")
        return
    if account.status != MailboxStatus.ACTIVE:
        log.info("%s: login %r refused, mailbox %s", session.peer, login, account.status.value)
        await session.reply("-ERR [SYS/PERM] mailbox not available")
        return
    session.messages = await snapshot_maildrop(session, account.mailbox)
    session.account = account
    session.state = State.TRANSACTION
    count = len(session.messages)
    log.info("%s: %r logged in, %d messages", session.peer, login, count)
    await session.reply(f"+OK maildrop has {count} messages")


async def snapshot_maildrop(session: Session, mailbox: str) -> list[Message]:
    """The snapshot of the account's INBOX with its unique-ids, which depend on the INBOX's
    UIDVALIDITY (read first, like SELECT does); 0 stands for it when the mailbox or its INBOX
    record is missing (the rows, if any, are still served)."""
    try:
        folders = await session.backend.folders(mailbox)
    except LookupError:  # no mailbox: its INBOX is empty
        folders = []
    uidvalidity = next((f.uidvalidity for f in folders if f.folder == INBOX), 0)
    rows = await session.backend.rows(mailbox, INBOX)
    return [Message(r, u) for r, u in zip(rows, unique_ids(rows, uidvalidity), strict=True)]


# -- TRANSACTION -----------------------------------------------------------------------------


async def cmd_stat(session: Session, args: str) -> None:
    """STAT (RFC 1939 §5): `+OK count octets` of the messages not DELEted."""
    if not await session.no_args(args):
        return
    live = session.live()
    total = 0
    for _, message in live:
        total += await session.size(message)
    await session.reply(f"+OK {len(live)} {total}")


async def cmd_list(session: Session, args: str) -> None:
    """LIST [msg] (RFC 1939 §5): message numbers and sizes in octets."""
    await listing(session, args, session.size, "octets")


async def cmd_uidl(session: Session, args: str) -> None:
    """UIDL [msg] (RFC 1939 §7): message numbers and unique-ids."""

    async def uid(message: Message) -> str:
        return message.unique_id

    await listing(session, args, uid, None)


async def listing(
    session: Session,
    args: str,
    value: Callable[[Message], Awaitable[int | str]],
    total_label: str | None,
) -> None:
    """LIST and UIDL: one message with an argument, else a multi-line listing."""
    arg = args.strip()
    if arg:
        found = await session.message_arg(arg)
        if found is not None:
            await session.reply(f"+OK {found[0]} {await value(found[1])}")
        return
    lines: list[bytes] = []
    total = 0
    for number, message in session.live():
        item = await value(message)
        total += item if isinstance(item, int) else 0
        lines.append(f"{number} {item}".encode())
    head = f"+OK {len(lines)} messages"
    if total_label:
        head += f" ({total} {total_label})"
    await session.send(dot_stuff([head.encode(), *lines]))


async def cmd_retr(session: Session, args: str) -> None:
    """RETR msg (RFC 1939 §5): the message, byte-stuffed; then mark it Seen."""
    found = await session.message_arg(args.strip())
    if found is None:
        return
    message = found[1]
    data = await session.content(message)
    head = f"+OK {await session.size(message)} octets\r\n".encode()
    await session.send(head + dot_stuff(wire_lines(data)))
    await mark_seen(session, message)


async def mark_seen(session: Session, message: Message) -> None:
    """Set the Seen flag after RETR; failures are logged, never reported."""
    if Flag.SEEN in message.row.flags:
        return
    assert session.account is not None
    key = message.row.key
    try:
        message.row = await session.backend.change_flags(
            session.account.mailbox, INBOX, key.uid, frozenset({Flag.SEEN})
        )
    except Exception as exc:
        log.warning("%s: could not mark %s seen: %s", session.peer, key, exc)


async def cmd_top(session: Session, args: str) -> None:
    """TOP msg n (RFC 1939 §7): the header, the blank line and the first n body lines."""
    parts = args.split()
    if len(parts) != 2 or not NUMBER.fullmatch(parts[1]):
        await session.reply("-ERR usage: TOP msg lines")
        return
    found = await session.message_arg(parts[0])
    if found is None:
        return
    data = await session.content(found[1])
    body = dot_stuff(top_lines(data, int(parts[1])))
    await session.send(b"+OK top of message follows\r\n" + body)


async def cmd_dele(session: Session, args: str) -> None:
    """DELE msg (RFC 1939 §5): mark the message deleted; it is removed at QUIT."""
    found = await session.message_arg(args.strip())
    if found is None:
        return
    found[1].deleted = True
    await session.reply(f"+OK message {found[0]} deleted")


async def cmd_rset(session: Session, args: str) -> None:
    """RSET (RFC 1939 §5): unmark every message DELEted in this session."""
    if not await session.no_args(args):
        return
    for message in session.messages:
        message.deleted = False
    await session.reply(f"+OK maildrop has {len(session.messages)} messages")


async def cmd_noop(session: Session, args: str) -> None:
    """NOOP (RFC 1939 §5): `+OK`."""
    if await session.no_args(args):
        await session.reply("+OK")


_ANY = frozenset(State)
_AUTHORIZATION = frozenset({State.AUTHORIZATION})
_TRANSACTION = frozenset({State.TRANSACTION})

COMMANDS: CommandTable = {
    "CAPA": (cmd_capa, _ANY),
    "USER": (cmd_user, _AUTHORIZATION),
    "PASS": (cmd_pass, _AUTHORIZATION),
    "QUIT": (cmd_quit, _ANY),
    "STAT": (cmd_stat, _TRANSACTION),
    "LIST": (cmd_list, _TRANSACTION),
    "UIDL": (cmd_uidl, _TRANSACTION),
    "RETR": (cmd_retr, _TRANSACTION),
    "TOP": (cmd_top, _TRANSACTION),
    "DELE": (cmd_dele, _TRANSACTION),
    "RSET": (cmd_rset, _TRANSACTION),
    "NOOP": (cmd_noop, _TRANSACTION),
}
"""Keyword (upper case) → handler and the states it is valid in."""
