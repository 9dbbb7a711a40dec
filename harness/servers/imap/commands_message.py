"""Message commands of the selected state: FETCH, STORE and SEARCH (RFC 3501 §6.4.4-6.4.6),
each also as a UID command (§6.4.8).

A message another session expunged (or that was purged) is left out of FETCH and STORE,
which then end `NO [EXPUNGEISSUED]` (RFC 2180 §4.1.2, RFC 5530); the next NOOP reports its
EXPUNGE.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from harness.servers.imap.parse import Command, FetchAtt, parse_fetch_atts, parse_seqset
from harness.servers.imap.render import FLAG_NAMES, fetch_items, format_flags
from harness.servers.imap.search import SEARCH_CHARSETS, MessageView, matches, parse_search
from harness.servers.imap.session import Fail, Session
from harness.servers.imap.tokens import Atom, Group, ParseError, Token
from harness.store.records import Flag, Row

log = logging.getLogger("firedrill.imap")

_FLAG_BY_NAME = {name.upper(): flag for flag, name in FLAG_NAMES.items()}
_STORABLE = frozenset(_FLAG_BY_NAME) | {"\\DRAFT"}


async def cmd_fetch(session: Session, cmd: Command) -> str:
    """FETCH / UID FETCH (RFC 3501 §6.4.5, §6.4.8): one `* n FETCH (...)` per message.

    UID FETCH always includes UID; fetching a non-PEEK body section sets \\Seen (unless the
    mailbox is read-only) and then includes FLAGS. Each response is written as it is made.
    """
    by_uid = cmd.name.startswith("UID ")
    if len(cmd.args) != 2:
        raise ParseError("FETCH needs a sequence set and attributes")
    atts = parse_fetch_atts(cmd.args[1])
    if by_uid and not any(a.name == "UID" for a in atts):
        atts.insert(0, FetchAtt("UID"))
    sets_seen = any(a.sets_seen() for a in atts) and not session.sel().readonly
    if sets_seen and not any(a.name == "FLAGS" for a in atts):
        atts.append(FetchAtt("FLAGS"))
    needs_message = any(a.needs_message() for a in atts)
    vanished = 0
    for seq, row in targets(session, cmd.args[0], by_uid):
        try:
            if sets_seen and Flag.SEEN not in row.flags:
                row = await update_flags(session, seq, row, add=frozenset({Flag.SEEN}))
            data = await session.message(row) if needs_message else b""
            items = fetch_items(row, atts, data)
        except LookupError as e:
            log_vanished(session, cmd, row, e)
            vanished += 1
            continue
        session.send(b"* %d FETCH (%s)" % (seq, items))
        await session.flush()
    return completed(cmd, vanished)


async def cmd_store(session: Session, cmd: Command) -> str:
    """STORE / UID STORE (RFC 3501 §6.4.6): replace, add (`+`) or remove (`-`) FLAGS.

    Untagged FETCH FLAGS for each message unless `.SILENT`; NO [READ-ONLY] after EXAMINE.
    """
    by_uid = cmd.name.startswith("UID ")
    if len(cmd.args) < 3 or not isinstance(cmd.args[1], Atom):
        raise ParseError("STORE needs a sequence set, an item and flags")
    m = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", cmd.args[1].upper())
    if m is None:
        raise ParseError("STORE item must be [+-]FLAGS[.SILENT]")
    mode, silent = m.group(1), bool(m.group(2))
    flags = parse_flag_list(cmd.args[2:])
    chosen = targets(session, cmd.args[0], by_uid)
    if session.sel().readonly:
        raise Fail("NO", "[READ-ONLY] mailbox is read-only")
    vanished = 0
    for seq, row in chosen:
        # against the store's row, not this session's copy: another session may have
        # changed the flags since this one selected the folder
        change = {"": {"flags": flags}, "+": {"add": flags}, "-": {"remove": flags}}[mode]
        try:
            row = await update_flags(session, seq, row, **change)
        except LookupError as e:
            log_vanished(session, cmd, row, e)
            vanished += 1
            continue
        if not silent:
            uid = f"UID {row.key.uid} " if by_uid else ""
            session.send(f"* {seq} FETCH ({uid}FLAGS {format_flags(row.flags)})")
    return completed(cmd, vanished)


async def cmd_search(session: Session, cmd: Command) -> str:
    """SEARCH / UID SEARCH (RFC 3501 §6.4.4): `* SEARCH` with the matching sequence numbers
    (UIDs for UID SEARCH), ascending; NO [BADCHARSET] for a CHARSET not in SEARCH_CHARSETS."""
    by_uid = cmd.name.startswith("UID ")
    charset, program = parse_search(cmd.args)
    if charset is not None and charset not in SEARCH_CHARSETS:
        raise Fail("NO", f"[BADCHARSET ({' '.join(SEARCH_CHARSETS)})] unsupported charset")
    sel = session.sel()
    largest_uid = sel.largest_uid()
    hits: list[int] = []
    for i, row in enumerate(list(sel.rows)):
        view = MessageView(i + 1, row)
        if program.needs_message():
            view.data = await session.message(row)
        if matches(program, view, len(sel.rows), largest_uid):
            hits.append(row.key.uid if by_uid else i + 1)
    session.send(" ".join(["* SEARCH", *map(str, hits)]))
    return f"{cmd.name} completed"


def targets(session: Session, setarg: Token, by_uid: bool) -> list[tuple[int, Row]]:
    """(sequence number, row) of the messages a sequence set (or UID set) names.

    ParseError when the argument is not a sequence set, or names a sequence number that
    does not exist (RFC 3501 §9); UIDs that do not exist are simply not matched (§6.4.8).
    """
    if not isinstance(setarg, Atom):
        raise ParseError("expected a sequence set")
    seqset = parse_seqset(setarg.value)
    rows = session.sel().rows
    if by_uid:
        largest = session.sel().largest_uid()
        return [(i + 1, r) for i, r in enumerate(rows) if seqset.contains(r.key.uid, largest)]
    if not seqset.within(len(rows)):  # RFC 3501 §9: an invalid sequence number is BAD
        raise ParseError(f"no message {setarg.value} ({len(rows)} in the mailbox)")
    return [(i + 1, r) for i, r in enumerate(rows) if seqset.contains(i + 1, len(rows))]


async def update_flags(
    session: Session,
    seq: int,
    row: Row,
    *,
    flags: frozenset[Flag] | None = None,
    add: frozenset[Flag] = frozenset(),
    remove: frozenset[Flag] = frozenset(),
) -> Row:
    """Replace a message's flags (`flags`) or add and remove some (applied by the store to
    the row as it is now, so another session's change to other flags is kept: RFC 3501
    §6.4.6 +FLAGS/-FLAGS), in the store and in the selection; LookupError when it is gone."""
    sel = session.sel()
    uid = row.key.uid
    if flags is not None:
        new = await session.backend.set_flags(session.mailbox(), sel.folder, uid, flags)
    else:
        new = await session.backend.change_flags(session.mailbox(), sel.folder, uid, add, remove)
    sel.rows[seq - 1] = new
    return new


def log_vanished(session: Session, cmd: Command, row: Row, error: LookupError) -> None:
    """A message another session expunged (or that was purged) under this command."""
    log.info("imap %s: %s: uid %d is gone: %s", session.peer, cmd.name, row.key.uid, error)


def completed(cmd: Command, vanished: int) -> str:
    """The OK text of FETCH or STORE, or NO [EXPUNGEISSUED] if messages were skipped.

    RFC 2180 §4.1.2 (and §4.2.1 for STORE): the messages still there are answered, the
    ones expunged by another session are left out and the command ends with a tagged NO;
    RFC 5530's EXPUNGEISSUED tells the client to NOOP, which reports the EXPUNGEs.
    """
    if vanished:
        raise Fail("NO", f"[EXPUNGEISSUED] {vanished} message(s) expunged by another session")
    return f"{cmd.name} completed"


def parse_flag_list(args: list[Token]) -> frozenset[Flag]:
    """The system flags of a STORE flag list (keywords and \\Draft are not kept).

    ParseError for a non-atom or an unknown system flag (RFC 3501 §2.3.2).
    """
    toks: Iterable[Token] = args[0].items if len(args) == 1 and isinstance(args[0], Group) else args
    flags: set[Flag] = set()
    for tok in toks:
        if not isinstance(tok, Atom):
            raise ParseError("flags must be atoms")
        name = tok.upper()
        if name.startswith("\\") and name not in _STORABLE:
            raise ParseError(f"invalid flag {tok.value}")
        if name in _FLAG_BY_NAME:
            flags.add(_FLAG_BY_NAME[name])
    return frozenset(flags)
