"""What clients are served, read over the real protocols with the standard library's clients
(invariant 10): an account's folders over IMAP, its maildrop's UIDL listing over POP3.

Reading never changes what is read: folders are opened with EXAMINE (read-only, RFC 3501
§6.3.2), bodies are fetched with BODY.PEEK (no \\Seen), and the POP3 session deletes nothing
(its QUIT enters an UPDATE state with nothing marked, RFC 1939 §6). Every socket operation is
bounded by `TIMEOUT` seconds. A session that cannot be opened or read raises `Unreadable`
with one line saying what failed; the caller (harness.checker.served) turns it into a finding.
"""

from __future__ import annotations

import contextlib
import imaplib
import poplib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.store.messagestore import header_message_id
from harness.workload.clients import Endpoints

TIMEOUT = 5.0
"""Seconds each connection, command and answer may take."""
SYSTEM_FLAGS = frozenset({"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"})
"""The IMAP system flags compared (RFC 3501 §2.3.2); \\Recent and keywords are not stored."""
FETCH_ITEMS = "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
FETCH_FLAGS = "(UID FLAGS)"
"""Without the Message-IDs: the server reads no message file."""

_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_NUMBER = re.compile(rb"\d+")
_ATOM = re.compile(r"[A-Za-z0-9_.\-]+")


class Unreadable(Exception):
    """A session could not be opened or a folder or listing could not be read (one line)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a folder: its UID, its Message-ID ("" when it has none; None when it
    is unknown: the store's row names no message record, or it was not fetched) and its IMAP
    system flags."""

    uid: int
    message_id: str | None
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class FolderState:
    """One folder as served or as stored: UIDVALIDITY, UIDNEXT and the messages in UID
    order."""

    name: str
    uidvalidity: int
    uidnext: int
    messages: tuple[Message, ...] = ()


@dataclass(frozen=True, slots=True)
class Login:
    """A followed account: its address, its login and password, its mailbox id (the store's
    key of its folders)."""

    address: str
    login: str
    password: str
    mailbox: str


@contextlib.contextmanager
def imap_session(endpoints: Endpoints, who: Login) -> Iterator[imaplib.IMAP4]:
    """A logged-in IMAP session (Unreadable when it cannot be opened), logged out after."""
    try:
        imap = imaplib.IMAP4(*endpoints.imap, timeout=TIMEOUT)
    except OSError as exc:
        raise Unreadable(f"IMAP connect: {exc}") from None
    try:
        try:
            imap.login(who.login, who.password)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise Unreadable(f"IMAP LOGIN {who.login}: {_text(exc)}") from None
        yield imap
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()


def imap_folder(imap: imaplib.IMAP4, name: str, identities: bool = True) -> FolderState:
    """EXAMINE `name`, then UID FETCH every message's UID, flags and (with `identities`)
    Message-ID.

    Raises Unreadable when the folder cannot be opened or an answer cannot be parsed.
    """
    try:
        typ, data = imap.select(_quoted(name), readonly=True)
        if typ != "OK":
            raise Unreadable(f"EXAMINE {name}: {_text(data)}")
        exists = _number(data[0] if data else None)
        uidvalidity = _number(_untagged(imap, "UIDVALIDITY"))
        uidnext = _number(_untagged(imap, "UIDNEXT"))
        if exists is None or uidvalidity is None or uidnext is None:
            raise Unreadable(f"EXAMINE {name}: no EXISTS, UIDVALIDITY or UIDNEXT in the answer")
        messages: tuple[Message, ...] = ()
        if exists:
            typ, data = imap.uid("FETCH", "1:*", FETCH_ITEMS if identities else FETCH_FLAGS)
            if typ != "OK":
                raise Unreadable(f"UID FETCH 1:* in {name}: {_text(data)}")
            messages = parse_fetch(data)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise Unreadable(f"{name}: {_text(exc)}") from None
    return FolderState(name, uidvalidity, uidnext, messages)


def parse_fetch(data: Sequence[object]) -> tuple[Message, ...]:
    """The messages of a UID FETCH answer as imaplib returns it (a (head, literal) pair per
    message, closing `)` lines between them), in UID order; Unreadable when a message's UID or
    FLAGS is missing."""
    messages = []
    for part in data:
        if isinstance(part, bytes) and _UID.search(part):  # no literal: UID and FLAGS only
            head, literal = part, None
        elif isinstance(part, tuple) and len(part) == 2:
            head, literal = part
        else:
            continue
        uid, flags = _UID.search(head), _FLAGS.search(head)
        if uid is None or flags is None:
            raise Unreadable(f"a FETCH answer without UID or FLAGS: {head[:80]!r}")
        names = frozenset(f for f in flags.group(1).decode("ascii", "replace").split())
        messages.append(
            Message(
                int(uid.group(1)),
                None if literal is None else header_message_id(bytes(literal)),
                names & SYSTEM_FLAGS,
            )
        )
    return tuple(sorted(messages, key=lambda m: m.uid))


def pop3_listing(endpoints: Endpoints, who: Login) -> tuple[str, ...]:
    """The unique-ids UIDL lists for the maildrop, in message-number order (Unreadable when
    the session cannot be opened or the listing read)."""
    try:
        pop = poplib.POP3(*endpoints.pop3, timeout=TIMEOUT)
    except OSError as exc:
        raise Unreadable(f"POP3 connect: {exc}") from None
    try:
        pop.user(who.login)
        pop.pass_(who.password)
        _, lines, _ = pop.uidl()
        listing = []
        for line in lines:
            fields = line.split()
            if len(fields) != 2:
                raise Unreadable(f"POP3 UIDL: not `n unique-id`: {line[:80]!r}")
            listing.append(fields[1].decode("ascii", "replace"))
        pop.quit()
        return tuple(listing)
    except (poplib.error_proto, OSError) as exc:
        raise Unreadable(f"POP3 {who.login}: {_text(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            pop.close()


def _untagged(imap: imaplib.IMAP4, code: str) -> object:
    """The value of a response code the last command returned (e.g. [UIDVALIDITY n])."""
    _, values = imap.response(code)
    return values[-1] if values else None


def _number(value: object) -> int | None:
    if isinstance(value, bytes) and (match := _NUMBER.search(value)):
        return int(match.group())
    return None


def _quoted(name: str) -> str:
    """A mailbox name as an IMAP atom, or quoted (RFC 3501 §4.3)."""
    if _ATOM.fullmatch(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(what: object) -> str:
    """One line of an error or an answer's data, at most 200 characters."""
    if isinstance(what, list):
        what = b" ".join(x for x in what if isinstance(x, bytes))
    if isinstance(what, bytes):
        what = what.decode("utf-8", "replace")
    line = " ".join(str(what).split())
    return line[:200] or "no answer"
