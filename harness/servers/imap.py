"""An IMAP4rev1 front end (the RFC 3501 subset real clients use) over asyncio streams.

One `serve_imap` call runs one connection against a `MailBackend`; `start_imap_server`
listens and `stop_imap_server` closes the listener and cancels live sessions (each says
`* BYE server shutting down`). Messages are stored with LF line endings and sent as CRLF;
every size and literal length is a CRLF octet count. A message another session expunged (or
that was purged) is left out of FETCH and STORE, which then end `NO [EXPUNGEISSUED]` (RFC 2180
§4.1.2, RFC 5530); the next NOOP reports its EXPUNGE.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import enum
import io
import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_tz

from harness.servers.backend import BackendUnavailable, MailBackend
from harness.servers.imap_parse import (
    LITERAL_END,
    SEARCH_CHARSETS,
    Atom,
    Command,
    FetchAtt,
    Group,
    ParseError,
    SearchKey,
    SeqSet,
    Token,
    as_text,
    format_internal_date,
    parse_command,
    parse_fetch_atts,
    parse_search,
    parse_seqset,
    split_tag,
)
from harness.store.records import Account, Flag, FolderMeta, MailboxStatus, Row

__all__ = ["CAPABILITIES", "serve_imap", "start_imap_server", "stop_imap_server"]

log = logging.getLogger("firedrill.imap")

MAX_LINE = 64 * 1024
"""The longest command, not counting literal data."""
MAX_LITERAL = 16 * 1024 * 1024
"""The most literal data one command may carry once authenticated."""
MAX_PREAUTH_LITERAL = 8 * 1024
"""The most literal data one command may carry before authentication."""
MAX_LOGIN_FAILURES = 5
CAPABILITIES = "IMAP4rev1 SASL-IR AUTH=PLAIN UNSELECT"
DELIMITER = "/"

FLAG_NAMES: dict[Flag, str] = {
    Flag.ANSWERED: "\\Answered",
    Flag.FLAGGED: "\\Flagged",
    Flag.DELETED: "\\Deleted",
    Flag.SEEN: "\\Seen",
}
_FLAG_BY_NAME = {name.upper(): flag for flag, name in FLAG_NAMES.items()}
_STORABLE = frozenset(_FLAG_BY_NAME) | {"\\DRAFT"}
_EOL = re.compile(rb"\r?\n")


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY_STATE = frozenset(State)
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTHED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


class Fail(Exception):
    """End the current command with a tagged NO or BAD."""

    def __init__(self, status: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class LineTooLong(Exception):
    """A command line exceeded MAX_LINE; it was read and thrown away."""


class LiteralTooLarge(Exception):
    """A command announced a literal over the limit; `command` is what was read so far."""

    def __init__(self, command: bytes, synchronizing: bool) -> None:
        super().__init__("literal too large")
        self.command = command
        self.synchronizing = synchronizing


# --- wire formatting and message text ------------------------------------------------------


def to_crlf(data: bytes) -> bytes:
    """Normalise line endings to CRLF (how messages go on the wire)."""
    return _EOL.sub(b"\r\n", data)


def strip_eol(data: bytes) -> bytes:
    """Drop one trailing line ending (a literal's own CRLF must survive)."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def istring(value: str | bytes | None) -> bytes:
    """NIL, a quoted string, or a literal when the value cannot be quoted."""
    if value is None:
        return b"NIL"
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if len(data) > 1024 or any(c < 0x20 or c > 0x7E for c in data):
        return literal(data)
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def quote_mailbox(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_flags(flags: Iterable[Flag]) -> str:
    names = {FLAG_NAMES[f] for f in flags}
    return "(" + " ".join(n for n in FLAG_NAMES.values() if n in names) + ")"


def split_message(data: bytes) -> tuple[bytes, bytes]:
    """(header including the blank line, body) of a CRLF message."""
    if data.startswith(b"\r\n"):
        return b"\r\n", data[2:]
    idx = data.find(b"\r\n\r\n")
    if idx < 0:
        return data, b""
    return data[: idx + 4], data[idx + 4 :]


def header_blocks(header: bytes) -> list[bytes]:
    """The header fields of a CRLF header, each with its continuation lines, without CRLF."""
    blocks: list[bytes] = []
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and blocks:
            blocks[-1] += b"\r\n" + line
        else:
            blocks.append(line)
    return blocks


def header_fields(header: bytes, fields: Iterable[str], negate: bool) -> bytes:
    """HEADER.FIELDS / HEADER.FIELDS.NOT: the selected fields plus the blank line."""
    wanted = {f.upper().encode() for f in fields}
    kept = [
        b + b"\r\n"
        for b in header_blocks(header)
        if (b.split(b":", 1)[0].strip().upper() in wanted) != negate
    ]
    return b"".join(kept) + b"\r\n"


def serialize(msg: Message) -> bytes:
    buf = io.BytesIO()
    BytesGenerator(buf, mangle_from_=False, maxheaderlen=0).flatten(msg)
    return to_crlf(buf.getvalue())


def unfold(value: object) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", str(value))


def subparts(msg: Message) -> list[Message]:
    """The sub-parts of a multipart (or the message inside a message/rfc822) part."""
    payload = msg.get_payload()
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def find_part(msg: Message, path: tuple[int, ...]) -> Message | None:
    """The body part a section's part number names (1 is a single-part message's body)."""
    cur = msg
    for depth, n in enumerate(path):
        if depth and cur.get_content_type() == "message/rfc822":
            cur = next(iter(subparts(cur)), cur)
        if cur.is_multipart():
            parts = subparts(cur)
            if n > len(parts):
                return None
            cur = parts[n - 1]
        elif n != 1:
            return None
    return cur


def section_bytes(data: bytes, att: FetchAtt) -> bytes:
    """The octets of BODY[section] (before any partial range) of a CRLF message."""
    sec = att.section
    assert sec is not None
    target = data
    if sec.part:
        msg = message_from_bytes(data)
        part = find_part(msg, sec.part)
        if part is None:
            return b""
        raw = data if part is msg else serialize(part)
        if sec.spec == "":
            return split_message(raw)[1]
        if sec.spec == "MIME":
            return split_message(raw)[0]
        if part is not msg and part.get_content_type() == "message/rfc822":
            raw = split_message(raw)[1]
        target = raw
    header, body = split_message(target)
    if sec.spec == "":
        return target
    if sec.spec == "HEADER":
        return header
    if sec.spec == "TEXT":
        return body
    return header_fields(header, sec.fields, sec.spec.endswith(".NOT"))


def envelope(msg: Message) -> bytes:
    """The ENVELOPE structure of a parsed message."""

    def text(name: str) -> bytes:
        value = msg.get(name)
        return istring(None if value is None else unfold(value))

    def addrs(name: str, fallback: str | None = None) -> bytes:
        values = msg.get_all(name) or (msg.get_all(fallback) if fallback else None)
        if not values:
            return b"NIL"
        items = []
        for display, addr in getaddresses([unfold(v) for v in values]):
            if not addr:
                continue
            mbox, at, host = addr.rpartition("@")
            if not at:
                mbox, host = addr, ""
            items.append(
                b"(%s NIL %s %s)" % (istring(display or None), istring(mbox), istring(host or None))
            )
        return b"(" + b"".join(items) + b")" if items else b"NIL"

    fields = [
        text("Date"),
        text("Subject"),
        addrs("From"),
        addrs("Sender", "From"),
        addrs("Reply-To", "From"),
        addrs("To"),
        addrs("Cc"),
        addrs("Bcc"),
        text("In-Reply-To"),
        text("Message-ID"),
    ]
    return b"(" + b" ".join(fields) + b")"


def _leaf_body(part: Message) -> bytes:
    payload = part.get_payload(decode=False)
    if isinstance(payload, str):
        return to_crlf(payload.encode("utf-8", "surrogateescape"))
    return split_message(serialize(part))[1]


def body_structure(part: Message) -> bytes:
    """BODY / BODYSTRUCTURE (without extension data) of a parsed message or part."""
    ctype = part.get_content_type()
    if part.is_multipart() and ctype != "message/rfc822":
        inner = (
            b"".join(body_structure(p) for p in subparts(part))
            or b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)'
        )
        return b"(" + inner + b" " + istring(part.get_content_subtype().upper()) + b")"
    maintype, _, subtype = ctype.upper().partition("/")
    params = [(k, v) for k, v in (part.get_params() or [])[1:] if isinstance(v, str)]
    if not params and maintype == "TEXT":
        params = [("charset", "us-ascii")]
    plist = (
        b"(" + b" ".join(istring(k.upper()) + b" " + istring(v) for k, v in params) + b")"
        if params
        else b"NIL"
    )
    body = _leaf_body(part)
    cte = part.get("Content-Transfer-Encoding")
    out = [
        istring(maintype),
        istring(subtype),
        plist,
        istring(None if part.get("Content-ID") is None else unfold(part["Content-ID"])),
        istring(
            None if part.get("Content-Description") is None else unfold(part["Content-Description"])
        ),
        istring(unfold(cte).strip().upper() if cte else "7BIT"),
        str(len(body)).encode(),
    ]
    lines = str(body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)).encode()
    if ctype == "message/rfc822":
        embedded = next(iter(subparts(part)), Message())
        out += [envelope(embedded), body_structure(embedded), lines]
    elif maintype == "TEXT":
        out.append(lines)
    return b"(" + b" ".join(out) + b")"


def decode_text(value: str) -> str:
    """A header value with RFC 2047 encoded words decoded (as well as possible)."""
    try:
        return str(make_header(decode_header(unfold(value))))
    except (ValueError, LookupError, UnicodeError):
        return unfold(value)


# --- search ---------------------------------------------------------------------------------


@dataclass(slots=True)
class MessageView:
    """One message as a search sees it; the text is loaded only when a key needs it."""

    seq: int
    row: Row
    data: bytes = b""
    _headers: Message | None = None

    def headers(self) -> Message:
        if self._headers is None:
            self._headers = BytesHeaderParser().parsebytes(split_message(self.data)[0])
        return self._headers

    def header_text(self, name: str) -> str:
        return "\n".join(decode_text(v) for v in self.headers().get_all(name) or ())

    def sent_date(self) -> date | None:
        value = self.headers().get("Date")
        parsed = parsedate_tz(unfold(value)) if value else None
        if parsed is None:
            return None
        try:
            return date(parsed[0], parsed[1], parsed[2])
        except ValueError:
            return None


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def matches(key: SearchKey, msg: MessageView, largest_seq: int, largest_uid: int) -> bool:
    """Whether one message satisfies a search program."""
    op, arg, flags = key.op, key.arg, msg.row.flags
    simple = {
        "ALL": True,
        "ANSWERED": Flag.ANSWERED in flags,
        "UNANSWERED": Flag.ANSWERED not in flags,
        "DELETED": Flag.DELETED in flags,
        "UNDELETED": Flag.DELETED not in flags,
        "FLAGGED": Flag.FLAGGED in flags,
        "UNFLAGGED": Flag.FLAGGED not in flags,
        "SEEN": Flag.SEEN in flags,
        "UNSEEN": Flag.SEEN not in flags,
        "OLD": True,
        "NEW": False,
        "RECENT": False,
        "DRAFT": False,
        "UNDRAFT": True,
        "KEYWORD": False,
        "UNKEYWORD": True,
    }
    if op in simple:
        return simple[op]
    if op == "NOT":
        return not matches(key.subs[0], msg, largest_seq, largest_uid)
    if op == "OR":
        return any(matches(k, msg, largest_seq, largest_uid) for k in key.subs)
    if op == "AND":
        return all(matches(k, msg, largest_seq, largest_uid) for k in key.subs)
    if isinstance(arg, SeqSet):
        if op == "UID":
            return arg.contains(msg.row.key.uid, largest_uid)
        return arg.contains(msg.seq, largest_seq)
    if isinstance(arg, str):
        return _match_text(op, arg, msg)
    if isinstance(arg, tuple):
        name, needle = arg
        values = msg.headers().get_all(name)
        return values is not None and (not needle or _contains(msg.header_text(name), needle))
    if isinstance(arg, int):
        size = len(msg.data)
        return size > arg if op == "LARGER" else size < arg
    if isinstance(arg, date):
        return _match_date(op, arg, msg)
    raise ParseError(f"unsupported search key {op}")


def _match_text(op: str, needle: str, msg: MessageView) -> bool:
    if op in ("FROM", "TO", "CC", "BCC", "SUBJECT"):
        return _contains(msg.header_text(op.title()), needle)
    header, body = split_message(msg.data)
    text = body if op == "BODY" else header + body
    return _contains(text.decode("utf-8", "replace"), needle)


def _match_date(op: str, day: date, msg: MessageView) -> bool:
    if op.startswith("SENT"):
        have = msg.sent_date()
        if have is None:
            return False
        op = op[4:]
    else:
        have = datetime.fromtimestamp(msg.row.arrival, UTC).date()
    if op == "BEFORE":
        return have < day
    if op == "ON":
        return have == day
    return have >= day


# --- the session -------------------------------------------------------------------------


@dataclass(slots=True)
class Selection:
    """The selected folder: a snapshot of its rows (sequence number = index + 1)."""

    folder: str
    readonly: bool
    rows: list[Row]
    uidvalidity: int
    uidnext: int

    def largest_uid(self) -> int:
        return self.rows[-1].key.uid if self.rows else 0

    def index_of(self, uid: int) -> int | None:
        for i, row in enumerate(self.rows):
            if row.key.uid == uid:
                return i
        return None


Handler = Callable[["Session", Command], Awaitable[str]]


@dataclass(eq=False)
class Session:
    """One IMAP connection: reads commands, dispatches them, writes responses."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    backend: MailBackend
    hostname: str
    idle_timeout: float = 1800.0
    state: State = State.NOT_AUTHENTICATED
    account: Account | None = None
    selected: Selection | None = None
    failures: int = 0
    peer: str = "?"
    _cache: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    _sizes: dict[str, int] = field(default_factory=dict)

    # -- I/O ---------------------------------------------------------------------------------

    def send(self, text: str | bytes) -> None:
        """Queue one response line (CRLF is added)."""
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        self.writer.write(data + b"\r\n")

    async def flush(self) -> None:
        await self.writer.drain()

    async def read_line(self, budget: int) -> bytes:
        """One line with its line ending; LineTooLong (after discarding it) past `budget`."""
        parts: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = await self.reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as e:
                chunk = await self.reader.readexactly(e.consumed)
                total += len(chunk)
                if total <= budget:
                    parts.append(chunk)
                else:
                    parts.clear()
                continue
            total += len(chunk)
            if total > budget:
                raise LineTooLong
            parts.append(chunk)
            return b"".join(parts)

    async def read_command(self) -> bytes:
        """One command with its literals inline, without the final CRLF."""
        data = bytearray()
        line_total = 0
        literal_total = 0
        cap = MAX_LITERAL if self.state in AUTHED else MAX_PREAUTH_LITERAL
        while True:
            line = await self.read_line(MAX_LINE - line_total)
            line_total += len(line)
            data += line
            m = LITERAL_END.search(line)
            if m is None:
                return strip_eol(bytes(data))
            size, sync = int(m.group(1)), not m.group(2)
            literal_total += size
            if literal_total > cap:
                raise LiteralTooLarge(bytes(data), sync)
            if sync:
                self.send("+ Ready for literal data")
                await self.flush()
            data += await self.reader.readexactly(size)

    # -- main loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        self.send(f"* OK [CAPABILITY {CAPABILITIES}] {self.hostname} IMAP4rev1 ready")
        await self.flush()
        while self.state is not State.LOGOUT:
            try:
                raw = await asyncio.wait_for(self.read_command(), self.idle_timeout)
            except TimeoutError:
                log.info("imap %s: idle timeout", self.peer)
                self.send("* BYE autologout; idle for too long")
                await self.flush()
                return
            except LineTooLong:
                log.warning("imap %s: line too long", self.peer)
                self.send("* BAD line too long")
                await self.flush()
                continue
            except LiteralTooLarge as e:
                if not await self.refuse_literal(e):
                    return
                continue
            except asyncio.IncompleteReadError:
                log.info("imap %s: connection closed by client", self.peer)
                return
            await self.execute(raw)
            await self.flush()

    async def refuse_literal(self, e: LiteralTooLarge) -> bool:
        """Answer an oversized literal; False when the connection must end."""
        log.warning("imap %s: literal too large", self.peer)
        if not e.synchronizing:
            self.send("* BYE literal too large")
            await self.flush()
            return False
        try:
            tag, _ = split_tag(e.command)
        except ParseError:
            tag = "*"
        self.send(f"{tag} BAD [TOOBIG] literal too large")
        await self.flush()
        return True

    async def execute(self, raw: bytes) -> None:
        """Parse, check the state, run the handler and send the tagged completion."""
        try:
            cmd = parse_command(raw)
        except ParseError as e:
            try:
                tag, _ = split_tag(raw)
            except ParseError:
                tag = "*"
            self.send(f"{tag} BAD {str(e)[:200]}")
            return
        entry = DISPATCH.get(cmd.name)
        if entry is None:
            self.send(f"{cmd.tag} BAD unknown command")
            return
        handler, states = entry
        if self.state not in states:
            self.send(f"{cmd.tag} BAD {cmd.name} not allowed in {self.state.value} state")
            return
        try:
            text = await handler(self, cmd)
        except Fail as f:
            self.send(f"{cmd.tag} {f.status} {f.text}")
        except ParseError as e:
            self.send(f"{cmd.tag} BAD {str(e)[:200]}")
        except BackendUnavailable as e:
            log.warning("imap %s: %s: backend unavailable: %s", self.peer, cmd.name, e)
            self.send(f"{cmd.tag} NO [UNAVAILABLE] backend temporarily unavailable")
        except LookupError as e:
            log.warning("imap %s: %s: %s", self.peer, cmd.name, e)
            self.send(f"{cmd.tag} NO [NONEXISTENT] {cmd.name} failed: no such message or mailbox")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("imap %s: %s failed", self.peer, cmd.name)
            self.send(f"{cmd.tag} NO [SERVERBUG] internal error")
        else:
            self.send(f"{cmd.tag} OK {text}")

    # -- helpers -----------------------------------------------------------------------------

    def sel(self) -> Selection:
        assert self.selected is not None
        return self.selected

    def mailbox(self) -> str:
        assert self.account is not None
        return self.account.mailbox

    async def message(self, row: Row) -> bytes:
        """The CRLF octets of a message (a few are cached)."""
        data = self._cache.get(row.msgid)
        if data is None:
            data = to_crlf(await self.backend.fetch(row.msgid))
            self._cache[row.msgid] = data
            self._sizes[row.msgid] = len(data)
            while len(self._cache) > 8:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(row.msgid)
        return data

    async def size(self, row: Row) -> int:
        if row.msgid not in self._sizes:
            await self.message(row)
        return self._sizes[row.msgid]

    async def find_folder(self, name: str) -> FolderMeta | None:
        for meta in await self.backend.folders(self.mailbox()):
            if meta.folder == name or (name.upper() == "INBOX" == meta.folder.upper()):
                return meta
        return None

    def targets(self, setarg: Token, by_uid: bool) -> list[tuple[int, Row]]:
        """(sequence number, row) of the messages a sequence set (or UID set) names."""
        if not isinstance(setarg, Atom):
            raise ParseError("expected a sequence set")
        seqset = parse_seqset(setarg.value)
        rows = self.sel().rows
        if by_uid:
            largest = self.sel().largest_uid()
            return [(i + 1, r) for i, r in enumerate(rows) if seqset.contains(r.key.uid, largest)]
        if not seqset.within(len(rows)):  # RFC 3501 §9: an invalid sequence number is BAD
            raise ParseError(f"no message {setarg.value} ({len(rows)} in the mailbox)")
        return [(i + 1, r) for i, r in enumerate(rows) if seqset.contains(i + 1, len(rows))]

    async def update_flags(self, seq: int, row: Row, flags: frozenset[Flag]) -> Row:
        sel = self.sel()
        new = await self.backend.set_flags(self.mailbox(), sel.folder, row.key.uid, flags)
        sel.rows[seq - 1] = new
        return new

    async def refresh(self) -> None:
        """Re-read the selected folder; report expunges, flag changes and new messages."""
        sel = self.sel()
        fresh = await self.backend.rows(self.mailbox(), sel.folder)
        by_uid = {r.key.uid: r for r in fresh}
        kept: list[Row] = []
        changed: list[tuple[int, Row]] = []
        for row in sel.rows:
            now = by_uid.get(row.key.uid)
            if now is None:
                self.send(f"* {len(kept) + 1} EXPUNGE")
                continue
            kept.append(now)
            if now.flags != row.flags:
                changed.append((len(kept), now))
        known = {r.key.uid for r in sel.rows}
        added = [r for r in fresh if r.key.uid not in known]
        sel.rows = kept + added
        if added:
            sel.uidnext = max(sel.uidnext, added[-1].key.uid + 1)
            self.send(f"* {len(sel.rows)} EXISTS")
        for seq, row in changed:
            self.send(f"* {seq} FETCH (FLAGS {format_flags(row.flags)})")

    async def do_expunge(self, silent: bool) -> None:
        sel = self.sel()
        uids = [r.key.uid for r in sel.rows]
        removed = await self.backend.expunge(self.mailbox(), sel.folder, uids) if uids else []
        for uid in sorted(removed):
            idx = sel.index_of(uid)
            if idx is None:
                continue
            del sel.rows[idx]
            if not silent:
                self.send(f"* {idx + 1} EXPUNGE")

    async def login(self, login: str, password: str) -> str:
        account = await self.backend.authenticate(login, password)
        if account is None:
            self.failures += 1
            log.warning("imap %s: authentication failed for %r", self.peer, login)
            if self.failures >= MAX_LOGIN_FAILURES:
                self.send("* BYE too many authentication failures")
                self.state = State.LOGOUT
            raise Fail("NO", "[AUTHENTICATIONFAILED] invalid credentials")
        if account.status is not MailboxStatus.ACTIVE:
            log.warning("imap %s: login %r refused: %s", self.peer, login, account.status.value)
            code = "UNAVAILABLE" if account.status is MailboxStatus.MAINTENANCE else "CONTACTADMIN"
            raise Fail("NO", f"[{code}] account is {account.status.value}")
        self.account = account
        self.state = State.AUTHENTICATED
        log.info("imap %s: %r logged in (mailbox %s)", self.peer, login, account.mailbox)
        return f"[CAPABILITY {CAPABILITIES}] logged in"

    # -- any state ---------------------------------------------------------------------------

    async def cmd_capability(self, cmd: Command) -> str:
        self.send(f"* CAPABILITY {CAPABILITIES}")
        return "CAPABILITY completed"

    async def cmd_noop(self, cmd: Command) -> str:
        if self.state is State.SELECTED:
            await self.refresh()
        return f"{cmd.name} completed"

    async def cmd_logout(self, cmd: Command) -> str:
        self.send("* BYE logging out")
        self.state = State.LOGOUT
        return "LOGOUT completed"

    # -- not authenticated -------------------------------------------------------------------

    async def cmd_login(self, cmd: Command) -> str:
        if len(cmd.args) != 2:
            raise ParseError("LOGIN needs a user name and a password")
        return await self.login(as_text(cmd.args[0]), as_text(cmd.args[1]))

    async def cmd_authenticate(self, cmd: Command) -> str:
        if not cmd.args or len(cmd.args) > 2:
            raise ParseError("AUTHENTICATE needs a mechanism")
        if as_text(cmd.args[0]).upper() != "PLAIN":
            raise Fail("NO", "[CANNOT] unsupported mechanism")
        if len(cmd.args) == 2:
            response = as_text(cmd.args[1]).encode()
        else:
            self.send("+ ")
            await self.flush()
            try:
                response = strip_eol(await self.read_line(MAX_LINE))
            except LineTooLong:
                raise Fail("BAD", "line too long") from None
        if response == b"*":
            raise Fail("BAD", "authentication cancelled")
        try:
            decoded = base64.b64decode(b"" if response == b"=" else response, validate=True)
            authz, authc, password = decoded.decode("utf-8").split("\0")
        except (binascii.Error, UnicodeDecodeError, ValueError) as e:
            raise Fail("BAD", "malformed PLAIN response") from e
        if authz and authz != authc:
            raise Fail("NO", "[AUTHORIZATIONFAILED] cannot act as another user")
        return await self.login(authc, password)

    # -- authenticated -----------------------------------------------------------------------

    async def cmd_select(self, cmd: Command) -> str:
        if len(cmd.args) != 1:
            raise ParseError(f"{cmd.name} needs a mailbox name")
        readonly = cmd.name == "EXAMINE"
        self.selected = None
        self.state = State.AUTHENTICATED
        meta = await self.find_folder(as_text(cmd.args[0]))
        if meta is None:
            raise Fail("NO", "[NONEXISTENT] no such mailbox")
        rows = await self.backend.rows(self.mailbox(), meta.folder)
        uidnext = max(meta.uidnext, rows[-1].key.uid + 1 if rows else 1)
        sel = Selection(meta.folder, readonly, rows, meta.uidvalidity, uidnext)
        self.send(f"* FLAGS {format_flags(Flag)}")
        self.send(f"* {len(rows)} EXISTS")
        self.send("* 0 RECENT")
        unseen = next((i + 1 for i, r in enumerate(rows) if Flag.SEEN not in r.flags), None)
        if unseen is not None:
            self.send(f"* OK [UNSEEN {unseen}] first unseen message")
        self.send(f"* OK [UIDVALIDITY {sel.uidvalidity}] UIDs valid")
        self.send(f"* OK [UIDNEXT {sel.uidnext}] predicted next UID")
        permanent = "()" if readonly else format_flags(Flag)
        self.send(f"* OK [PERMANENTFLAGS {permanent}] limited")
        self.selected = sel
        self.state = State.SELECTED
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        return f"[{mode}] {cmd.name} completed"

    async def cmd_list(self, cmd: Command) -> str:
        if len(cmd.args) != 2:
            raise ParseError(f"{cmd.name} needs a reference and a pattern")
        reference, pattern = as_text(cmd.args[0]), as_text(cmd.args[1])
        if not pattern:
            self.send(f'* {cmd.name} (\\Noselect) "{DELIMITER}" ""')
            return f"{cmd.name} completed"
        names = [m.folder for m in await self.backend.folders(self.mailbox())]
        for name, attrs in list_entries(names, reference + pattern):
            self.send(f'* {cmd.name} ({" ".join(attrs)}) "{DELIMITER}" {quote_mailbox(name)}')
        return f"{cmd.name} completed"

    async def cmd_status(self, cmd: Command) -> str:
        if len(cmd.args) != 2 or not isinstance(cmd.args[1], Group):
            raise ParseError("STATUS needs a mailbox and a list of items")
        name = as_text(cmd.args[0])
        meta = await self.find_folder(name)
        if meta is None:
            raise Fail("NO", "[NONEXISTENT] no such mailbox")
        values = {
            "MESSAGES": meta.count,
            "RECENT": 0,
            "UIDNEXT": meta.uidnext,
            "UIDVALIDITY": meta.uidvalidity,
            "UNSEEN": meta.unseen,
        }
        items = []
        for tok in cmd.args[1].items:
            item = as_text(tok).upper()
            if item not in values:
                raise ParseError(f"unknown STATUS item {item}")
            items.append(f"{item} {values[item]}")
        self.send(f"* STATUS {quote_mailbox(name)} ({' '.join(items)})")
        return "STATUS completed"

    async def cmd_subscribe(self, cmd: Command) -> str:
        if len(cmd.args) != 1:
            raise ParseError(f"{cmd.name} needs a mailbox name")
        return f"{cmd.name} completed"

    async def cmd_unsupported(self, cmd: Command) -> str:
        raise Fail("NO", f"[CANNOT] {cmd.name} is not supported by this server")

    # -- selected ----------------------------------------------------------------------------

    async def cmd_close(self, cmd: Command) -> str:
        if cmd.name == "CLOSE" and not self.sel().readonly:
            await self.do_expunge(silent=True)
        self.selected = None
        self.state = State.AUTHENTICATED
        return f"{cmd.name} completed"

    async def cmd_expunge(self, cmd: Command) -> str:
        if self.sel().readonly:
            raise Fail("NO", "[READ-ONLY] mailbox is read-only")
        await self.do_expunge(silent=False)
        return "EXPUNGE completed"

    async def cmd_fetch(self, cmd: Command) -> str:
        by_uid = cmd.name.startswith("UID ")
        if len(cmd.args) != 2:
            raise ParseError("FETCH needs a sequence set and attributes")
        atts = parse_fetch_atts(cmd.args[1])
        if by_uid and not any(a.name == "UID" for a in atts):
            atts.insert(0, FetchAtt("UID"))
        sets_seen = any(a.sets_seen() for a in atts) and not self.sel().readonly
        if sets_seen and not any(a.name == "FLAGS" for a in atts):
            atts.append(FetchAtt("FLAGS"))
        vanished = 0
        for seq, row in self.targets(cmd.args[0], by_uid):
            try:
                if sets_seen and Flag.SEEN not in row.flags:
                    row = await self.update_flags(seq, row, row.flags | {Flag.SEEN})
                items = await self.fetch_items(row, atts)
            except LookupError as e:
                self.log_vanished(cmd, row, e)
                vanished += 1
                continue
            self.send(b"* %d FETCH (%s)" % (seq, items))
            await self.flush()
        return self.completed(cmd, vanished)

    def log_vanished(self, cmd: Command, row: Row, error: LookupError) -> None:
        """A message another session expunged (or that was purged) under this command."""
        log.info("imap %s: %s: uid %d is gone: %s", self.peer, cmd.name, row.key.uid, error)

    def completed(self, cmd: Command, vanished: int) -> str:
        """The OK text of FETCH or STORE, or NO [EXPUNGEISSUED] if messages were skipped.

        RFC 2180 §4.1.2 (and §4.2.1 for STORE): the messages still there are answered, the
        ones expunged by another session are left out and the command ends with a tagged NO;
        RFC 5530's EXPUNGEISSUED tells the client to NOOP, which reports the EXPUNGEs.
        """
        if vanished:
            raise Fail("NO", f"[EXPUNGEISSUED] {vanished} message(s) expunged by another session")
        return f"{cmd.name} completed"

    async def fetch_items(self, row: Row, atts: list[FetchAtt]) -> bytes:
        data = await self.message(row) if any(a.needs_message() for a in atts) else b""
        parsed: Message | None = None
        out: list[bytes] = []
        for att in atts:
            if att.name in ("ENVELOPE", "BODY", "BODYSTRUCTURE") and att.section is None:
                if parsed is None:
                    parsed = message_from_bytes(data)
                value = envelope(parsed) if att.name == "ENVELOPE" else body_structure(parsed)
                out.append(att.name.encode() + b" " + value)
            else:
                out.append(render_att(att, row, data))
        return b" ".join(out)

    async def cmd_store(self, cmd: Command) -> str:
        by_uid = cmd.name.startswith("UID ")
        if len(cmd.args) < 3 or not isinstance(cmd.args[1], Atom):
            raise ParseError("STORE needs a sequence set, an item and flags")
        m = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", cmd.args[1].upper())
        if m is None:
            raise ParseError("STORE item must be [+-]FLAGS[.SILENT]")
        mode, silent = m.group(1), bool(m.group(2))
        flags = parse_flag_list(cmd.args[2:])
        targets = self.targets(cmd.args[0], by_uid)
        if self.sel().readonly:
            raise Fail("NO", "[READ-ONLY] mailbox is read-only")
        vanished = 0
        for seq, row in targets:
            new = flags if mode == "" else row.flags | flags if mode == "+" else row.flags - flags
            if new != row.flags:
                try:
                    row = await self.update_flags(seq, row, frozenset(new))
                except LookupError as e:
                    self.log_vanished(cmd, row, e)
                    vanished += 1
                    continue
            if not silent:
                uid = f"UID {row.key.uid} " if by_uid else ""
                self.send(f"* {seq} FETCH ({uid}FLAGS {format_flags(row.flags)})")
        return self.completed(cmd, vanished)

    async def cmd_search(self, cmd: Command) -> str:
        by_uid = cmd.name.startswith("UID ")
        charset, program = parse_search(cmd.args)
        if charset is not None and charset not in SEARCH_CHARSETS:
            raise Fail("NO", f"[BADCHARSET ({' '.join(SEARCH_CHARSETS)})] unsupported charset")
        sel = self.sel()
        largest_uid = sel.largest_uid()
        hits: list[int] = []
        for i, row in enumerate(list(sel.rows)):
            view = MessageView(i + 1, row)
            if program.needs_message():
                view.data = await self.message(row)
            if matches(program, view, len(sel.rows), largest_uid):
                hits.append(row.key.uid if by_uid else i + 1)
        self.send(" ".join(["* SEARCH", *map(str, hits)]))
        return f"{cmd.name} completed"


def parse_flag_list(args: list[Token]) -> frozenset[Flag]:
    """The system flags of a STORE flag list (keywords and \\Draft are not kept)."""
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


def render_att(att: FetchAtt, row: Row, data: bytes) -> bytes:
    """One `NAME value` pair of a FETCH response (everything but ENVELOPE/BODYSTRUCTURE)."""
    name = att.name
    if name == "FLAGS":
        return b"FLAGS " + format_flags(row.flags).encode()
    if name == "UID":
        return b"UID %d" % row.key.uid
    if name == "INTERNALDATE":
        return b'INTERNALDATE "%s"' % format_internal_date(row.arrival).encode()
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % len(data)
    if name == "RFC822":
        return b"RFC822 " + literal(data)
    if name == "RFC822.HEADER":
        return b"RFC822.HEADER " + literal(split_message(data)[0])
    if name == "RFC822.TEXT":
        return b"RFC822.TEXT " + literal(split_message(data)[1])
    assert att.section is not None
    content = section_bytes(data, att)
    label = b"BODY[" + att.section.label().encode() + b"]"
    if att.partial is not None:
        start, length = att.partial
        content = content[start:] if length is None else content[start : start + length]
        label += b"<%d>" % start
    return label + b" " + literal(content)


def list_entries(names: Iterable[str], pattern: str) -> list[tuple[str, list[str]]]:
    """The folders (and implied parents) a LIST pattern matches, with their attributes."""
    regex = "".join(
        ".*" if c == "*" else f"[^{DELIMITER}]*" if c == "%" else re.escape(c) for c in pattern
    )
    real = set(names)
    every = set(real)
    for name in real:
        parts = name.split(DELIMITER)
        every.update(DELIMITER.join(parts[:i]) for i in range(1, len(parts)))
    out = []
    for name in sorted(every, key=lambda n: (n.upper() != "INBOX", n)):
        flags = re.IGNORECASE if name.upper() == "INBOX" else 0
        if not re.fullmatch(regex, name, flags):
            continue
        children = any(n.startswith(name + DELIMITER) for n in every)
        attrs = ["\\HasChildren" if children else "\\HasNoChildren"]
        if name not in real:
            attrs.insert(0, "\\Noselect")
        out.append((name, attrs))
    return out


DISPATCH: dict[str, tuple[Handler, frozenset[State]]] = {
    "CAPABILITY": (Session.cmd_capability, ANY_STATE),
    "NOOP": (Session.cmd_noop, ANY_STATE),
    "LOGOUT": (Session.cmd_logout, ANY_STATE),
    "LOGIN": (Session.cmd_login, NOT_AUTH),
    "AUTHENTICATE": (Session.cmd_authenticate, NOT_AUTH),
    "SELECT": (Session.cmd_select, AUTHED),
    "EXAMINE": (Session.cmd_select, AUTHED),
    "LIST": (Session.cmd_list, AUTHED),
    "LSUB": (Session.cmd_list, AUTHED),
    "STATUS": (Session.cmd_status, AUTHED),
    "SUBSCRIBE": (Session.cmd_subscribe, AUTHED),
    "UNSUBSCRIBE": (Session.cmd_subscribe, AUTHED),
    "CREATE": (Session.cmd_unsupported, AUTHED),
    "DELETE": (Session.cmd_unsupported, AUTHED),
    "RENAME": (Session.cmd_unsupported, AUTHED),
    "APPEND": (Session.cmd_unsupported, AUTHED),
    "CHECK": (Session.cmd_noop, SELECTED),
    "CLOSE": (Session.cmd_close, SELECTED),
    "UNSELECT": (Session.cmd_close, SELECTED),
    "EXPUNGE": (Session.cmd_expunge, SELECTED),
    "FETCH": (Session.cmd_fetch, SELECTED),
    "UID FETCH": (Session.cmd_fetch, SELECTED),
    "STORE": (Session.cmd_store, SELECTED),
    "UID STORE": (Session.cmd_store, SELECTED),
    "SEARCH": (Session.cmd_search, SELECTED),
    "UID SEARCH": (Session.cmd_search, SELECTED),
    "COPY": (Session.cmd_unsupported, SELECTED),
    "UID COPY": (Session.cmd_unsupported, SELECTED),
}
"""Command name (`UID FETCH` for UID commands) → handler and the states it is valid in."""


# --- connections and the listener ----------------------------------------------------------


async def _say_bye(writer: asyncio.StreamWriter, text: bytes) -> None:
    with contextlib.suppress(Exception):
        writer.write(text)
        await asyncio.wait_for(writer.drain(), 1.0)


async def serve_imap(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    backend: MailBackend,
    *,
    hostname: str,
    idle_timeout: float = 1800.0,
) -> None:
    """Serve one IMAP connection until LOGOUT, EOF, idle timeout or cancellation."""
    peer = writer.get_extra_info("peername")
    session = Session(reader, writer, backend, hostname, idle_timeout, peer=str(peer))
    log.info("imap connection from %s", peer)
    try:
        await session.run()
    except asyncio.CancelledError:
        log.info("imap %s: server shutting down", peer)
        await _say_bye(writer, b"* BYE server shutting down\r\n")
        raise
    except (ConnectionError, asyncio.IncompleteReadError) as e:
        log.info("imap %s: connection lost: %s", peer, e)
    except Exception:
        log.exception("imap %s: session failed", peer)
        await _say_bye(writer, b"* BYE internal server error\r\n")
    finally:
        writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


_SESSIONS: weakref.WeakKeyDictionary[asyncio.Server, set[asyncio.Task[None]]] = (
    weakref.WeakKeyDictionary()
)


async def start_imap_server(
    backend: MailBackend,
    host: str,
    port: int,
    *,
    hostname: str,
    idle_timeout: float = 1800.0,
) -> asyncio.Server:
    """Listen for IMAP connections (port 0 picks a free port); stop with stop_imap_server."""
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        try:
            await serve_imap(reader, writer, backend, hostname=hostname, idle_timeout=idle_timeout)
        except asyncio.CancelledError:
            # The top of a connection task: end quietly (3.11's stream callback would
            # otherwise log the cancellation as an error).
            pass
        finally:
            if task is not None:
                tasks.discard(task)

    server = await asyncio.start_server(handle, host, port)
    _SESSIONS[server] = tasks
    log.info("imap listening on %s", [s.getsockname() for s in server.sockets])
    return server


async def stop_imap_server(server: asyncio.Server, timeout: float = 5.0) -> None:
    """Stop listening and end every live session (each gets `* BYE server shutting down`)."""
    server.close()
    tasks = _SESSIONS.pop(server, set())
    for task in list(tasks):
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
    await server.wait_closed()
