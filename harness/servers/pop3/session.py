"""One POP3 connection (RFC 1939): its state, reading command lines, dispatching them.

A `Session` reads one line at a time, looks its keyword up in the command table it was given
(`harness.servers.pop3.commands.COMMANDS`), refuses a command that is not valid in the
current state (RFC 1939 §3: AUTHORIZATION, TRANSACTION) and otherwise runs its handler,
which writes its own response. A backend failure becomes `-ERR [SYS/TEMP]` (RFC 3206), a
message removed by another session `-ERR no such message`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum

from harness.servers.backend import BackendUnavailable, MailBackend
from harness.servers.pop3.maildrop import Message, wire_size
from harness.store.records import Account

log = logging.getLogger("firedrill.pop3")

MAX_LINE = 512
"""Longest accepted command line in octets, line terminator included."""
WRITE_CHUNK = 64 * 1024
"""Responses are written and drained in pieces of this many octets."""
NUMBER = re.compile(r"[0-9]{1,9}")
"""A message number or line count argument."""


class LineTooLong(Exception):
    """The client sent a line longer than MAX_LINE (already discarded)."""


class ClientGone(Exception):
    """Writing to the client failed or stalled for longer than the idle timeout."""


class State(Enum):
    """The session states of RFC 1939 §3 (UPDATE is entered and left within QUIT)."""

    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"


_REFUSAL = {
    State.AUTHORIZATION: "-ERR command not valid in this state",
    State.TRANSACTION: "-ERR already authenticated",
}
"""The answer to a command not valid in the current state: before PASS it is a TRANSACTION
command, after it USER or PASS."""

Handler = Callable[["Session", str], Awaitable[None]]
"""A command handler: gets the argument text, writes its own `+OK` / `-ERR` response."""
CommandTable = Mapping[str, tuple[Handler, frozenset[State]]]
"""Keyword (upper case) → handler and the states it is valid in."""


class Session:
    """State of one POP3 connection; `idle_timeout` is in seconds (RFC 1939 §3)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        backend: MailBackend,
        hostname: str,
        idle_timeout: float,
        *,
        commands: CommandTable,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.backend = backend
        self.hostname = hostname
        self.idle_timeout = idle_timeout
        self.commands = commands
        self.state = State.AUTHORIZATION
        self.user: str | None = None
        self.account: Account | None = None
        self.messages: list[Message] = []
        self._cached: tuple[str, bytes] | None = None
        self.done = False
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    # -- I/O -------------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Write and drain; ClientGone if the client went away or stopped reading."""
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                self.writer.write(data[start : start + WRITE_CHUNK])
                async with asyncio.timeout(self.idle_timeout):
                    await self.writer.drain()
        except (ConnectionError, TimeoutError) as exc:
            raise ClientGone(str(exc) or type(exc).__name__) from exc

    async def reply(self, line: str) -> None:
        """Send one response line (CRLF is added)."""
        await self.send(line.encode("utf-8", "replace") + b"\r\n")

    async def read_line(self) -> bytes | None:
        """One line without its terminator; None at end of input; LineTooLong if oversized."""
        too_long = False
        while True:
            try:
                line = await self.reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return None
            except asyncio.LimitOverrunError as exc:
                # Drop what the reader buffered so far and keep looking for the line end.
                await self.reader.readexactly(exc.consumed)
                too_long = True
                continue
            if too_long or len(line) > MAX_LINE:
                raise LineTooLong
            return line.rstrip(b"\n").removesuffix(b"\r")

    # -- main loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Greet, then serve command lines until QUIT, end of input or the idle timeout."""
        await self.reply(f"+OK {self.hostname} POP3 server ready")
        while not self.done:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                async with asyncio.timeout(self.idle_timeout):
                    raw = await self.read_line()
            except LineTooLong:
                await self.reply("-ERR line too long")
                continue
            except TimeoutError:
                log.info("%s: idle timeout, closing", self.peer)
                return
            if raw is None:
                log.debug("%s: client closed the connection", self.peer)
                return
            await self.dispatch(raw.decode("utf-8", "replace"))

    async def dispatch(self, line: str) -> None:
        """Run one command line: look the keyword up, check the state, run the handler."""
        keyword, _, args = line.partition(" ")
        entry = self.commands.get(keyword.upper())
        if entry is None:
            await self.reply("-ERR unknown command")
            return
        handler, states = entry
        try:
            if self.state not in states:
                await self.reply(_REFUSAL[self.state])
                return
            await handler(self, args)
        except BackendUnavailable as exc:
            log.warning("%s: %s: backend unavailable: %s", self.peer, keyword.upper(), exc)
            await self.reply("-ERR [SYS/TEMP] backend unavailable, try again later")
        except LookupError as exc:  # removed by another session since PASS
            log.info("%s: %s: message gone: %s", self.peer, keyword.upper(), exc)
            await self.reply("-ERR no such message")
        except ClientGone:
            raise
        except Exception:
            log.exception("%s: %s failed", self.peer, keyword.upper())
            await self.reply("-ERR [SYS/TEMP] internal server error")

    # -- helpers for the handlers ------------------------------------------------------------

    async def no_args(self, args: str) -> bool:
        """True when there are no arguments; else False after replying -ERR."""
        if args.strip():
            await self.reply("-ERR no arguments expected")
            return False
        return True

    async def message_arg(self, arg: str) -> tuple[int, Message] | None:
        """The live message numbered `arg` and its number, or None after replying -ERR."""
        if not NUMBER.fullmatch(arg):
            await self.reply("-ERR invalid message number")
            return None
        number = int(arg)
        if not 1 <= number <= len(self.messages):
            await self.reply("-ERR no such message")
            return None
        message = self.messages[number - 1]
        if message.deleted:
            await self.reply(f"-ERR message {number} already deleted")
            return None
        return number, message

    async def content(self, message: Message) -> bytes:
        """The stored bytes of a message (the last one fetched is cached); LookupError if gone."""
        msgid = message.row.msgid
        if self._cached is not None and self._cached[0] == msgid:
            return self._cached[1]
        data = await self.backend.fetch(msgid)
        self._cached = (msgid, data)
        message.size = wire_size(data)
        return data

    async def size(self, message: Message) -> int:
        """The wire size of a message in octets (fetching it the first time)."""
        if message.size is None:
            await self.content(message)
        assert message.size is not None
        return message.size

    def live(self) -> list[tuple[int, Message]]:
        """(number, message) of every message not DELEted in this session."""
        return [(n, m) for n, m in enumerate(self.messages, 1) if not m.deleted]
