"""One IMAP4rev1 connection (RFC 3501): its state, reading commands, dispatching them.

A `Session` reads one command at a time (line plus literals), parses it, checks that the
command is valid in the current state (RFC 3501 §3: not authenticated, authenticated,
selected, logout), runs its handler from the command table it was given
(`harness.servers.imap.commands.DISPATCH`) and sends the tagged completion: OK with the
handler's text, NO or BAD from a `Fail`, BAD for a `ParseError`, NO with an RFC 5530 response
code when the backend fails. The handlers live in the `commands_*` modules and work on the
session through its attributes and the helpers here.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from harness.servers.backend import BackendUnavailable, MailBackend
from harness.servers.imap.framing import (
    MAX_LITERAL,
    MAX_PREAUTH_LITERAL,
    LineTooLong,
    LiteralTooLarge,
    read_command,
)
from harness.servers.imap.parse import Command, parse_command, split_tag
from harness.servers.imap.render import to_crlf
from harness.servers.imap.tokens import ParseError
from harness.store.records import Account, Row

log = logging.getLogger("firedrill.imap")

CAPABILITIES = "IMAP4rev1 SASL-IR AUTH=PLAIN UNSELECT"
"""The CAPABILITY list (RFC 3501 §6.1.1; SASL-IR is RFC 4959, UNSELECT RFC 3691)."""


class State(enum.Enum):
    """The connection states of RFC 3501 §3."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY_STATE = frozenset(State)
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTHED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


class Fail(Exception):
    """End the current command with a tagged NO or BAD (`status`) and `text`."""

    def __init__(self, status: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(slots=True)
class Selection:
    """The selected folder: a snapshot of its rows (sequence number = index + 1), with the
    UIDVALIDITY and UIDNEXT announced at SELECT (RFC 3501 §2.3.1.1)."""

    folder: str
    readonly: bool
    rows: list[Row]
    uidvalidity: int
    uidnext: int

    def largest_uid(self) -> int:
        """The UID of the last message, what `*` means in a UID set; 0 when empty."""
        return self.rows[-1].key.uid if self.rows else 0

    def index_of(self, uid: int) -> int | None:
        """The index (sequence number - 1) of the message with this UID, if it is here."""
        for i, row in enumerate(self.rows):
            if row.key.uid == uid:
                return i
        return None


Handler = Callable[["Session", Command], Awaitable[str]]
"""A command handler: runs one command, returns the text of the tagged OK, or raises `Fail`,
`ParseError`, `BackendUnavailable` or `LookupError` (each becomes a tagged NO or BAD)."""
CommandTable = Mapping[str, tuple[Handler, frozenset[State]]]
"""Command name (`UID FETCH` for UID commands) → handler and the states it is valid in."""


@dataclass(eq=False)
class Session:
    """One IMAP connection: reads commands, dispatches them through `commands`, writes
    responses. `idle_timeout` is in seconds (RFC 3501 §5.4 autologout)."""

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
    commands: CommandTable = field(kw_only=True)
    _cache: OrderedDict[str, bytes] = field(default_factory=OrderedDict)

    # -- I/O ---------------------------------------------------------------------------------

    def send(self, text: str | bytes) -> None:
        """Queue one response line (CRLF is added)."""
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        self.writer.write(data + b"\r\n")

    async def flush(self) -> None:
        """Wait until the queued responses are written (the transport's flow control)."""
        await self.writer.drain()

    # -- main loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Greet, then serve commands until LOGOUT, EOF, idle timeout or a BYE.

        A line over MAX_LINE is answered `* BAD` and skipped; a synchronizing literal over
        the limit gets a tagged `BAD [TOOBIG]`, a non-synchronizing one (RFC 7888) `* BYE`.
        """
        self.send(f"* OK [CAPABILITY {CAPABILITIES}] {self.hostname} IMAP4rev1 ready")
        await self.flush()
        while self.state is not State.LOGOUT:
            cap = MAX_LITERAL if self.state in AUTHED else MAX_PREAUTH_LITERAL
            try:
                reading = read_command(self.reader, self.writer, cap)
                raw = await asyncio.wait_for(reading, self.idle_timeout)
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
        entry = self.commands.get(cmd.name)
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

    # -- helpers for the handlers ------------------------------------------------------------

    def sel(self) -> Selection:
        """The selected folder (only called in the selected state)."""
        assert self.selected is not None
        return self.selected

    def mailbox(self) -> str:
        """The logged-in account's mailbox (only called once authenticated)."""
        assert self.account is not None
        return self.account.mailbox

    async def message(self, row: Row) -> bytes:
        """The CRLF octets of a message (the last 8 are cached); LookupError when it is gone."""
        data = self._cache.get(row.msgid)
        if data is None:
            data = to_crlf(await self.backend.fetch(row.msgid))
            self._cache[row.msgid] = data
            while len(self._cache) > 8:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(row.msgid)
        return data
