"""A POP3 front end (RFC 1939, with CAPA and response codes from RFC 2449 / RFC 3206).

One coroutine, `serve_pop3`, runs one whole connection over asyncio streams and talks to the
rest of the system only through a `MailBackend`.

Behaviour worth knowing:

* The maildrop is the account's INBOX, snapshotted at PASS. Messages that are already flagged
  Deleted in the store are listed like any other; only messages DELEted in this session are
  removed at QUIT.
* Sizes (STAT, LIST) are exact wire sizes: CRLF line endings, a final CRLF added when the
  stored message lacks one, before dot-stuffing (what a client counts after unstuffing).
  They are computed by fetching the messages, lazily, and cached per session.
* Unique ids (UIDL) are the store msgids; when one msgid occurs more than once in the
  maildrop, the copies after the first (by uid) get ``<msgid>-<uid>``.
* QUIT in TRANSACTION state enters UPDATE: each DELEted message gets the Deleted flag (its
  other flags kept, re-read from the store) and the uids are expunged; only then ``+OK``.
  If the backend fails, ``-ERR [SYS/TEMP]`` and the messages stay (possibly flagged).
* RETR marks the message Seen, best effort (a backend failure there is only logged).
* A message another session removed, once the store has purged it, answers
  ``-ERR no such message`` (RETR, TOP, and the sizes of LIST and STAT).
* Lines longer than 512 octets are answered ``-ERR line too long`` and discarded without
  buffering them whole; bare LF line ends are accepted.
* No exclusive maildrop lock is taken (several sessions of one account may run at once).
* An idle client (no command, or not reading our output, for `idle_timeout` seconds) is
  disconnected without a response and without UPDATE (RFC 1939 §3).
* Cancelling the session task (server shutdown) sends ``-ERR [SYS/TEMP] server shutting
  down``, closes, and re-raises `asyncio.CancelledError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from harness.servers.backend import BackendUnavailable, MailBackend
from harness.store.records import Account, Flag, MailboxStatus, Row

log = logging.getLogger("firedrill.pop3")

MAX_LINE = 512
"""Longest accepted command line in octets, line terminator included."""
READER_LIMIT = 8192
"""StreamReader buffer limit used by `start_pop3_server` (longer lines are skipped in parts)."""
WRITE_CHUNK = 64 * 1024
INBOX = "INBOX"
CAPABILITIES = (
    "TOP",
    "UIDL",
    "USER",
    "RESP-CODES",
    "AUTH-RESP-CODE",
    "IMPLEMENTATION firedrill",
)

_NUMBER = re.compile(r"[0-9]{1,9}")
_UNIQUE_ID = re.compile(r"[\x21-\x7e]{1,70}")


class _LineTooLong(Exception):
    """The client sent a line longer than MAX_LINE (already discarded)."""


class _ClientGone(Exception):
    """Writing to the client failed or stalled for longer than the idle timeout."""


class _State(Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"


# -- message encoding ------------------------------------------------------------------------


def wire_lines(data: bytes) -> list[bytes]:
    """The lines of a stored message as sent (no terminators, not yet dot-stuffed)."""
    if not data:
        return []
    text = data.replace(b"\r\n", b"\n")
    if text.endswith(b"\n"):
        text = text[:-1]
    return text.split(b"\n")


def wire_size(data: bytes) -> int:
    """Octets of a message with CRLF line endings, before dot-stuffing (the LIST size)."""
    return sum(len(line) + 2 for line in wire_lines(data))


def dot_stuff(lines: list[bytes]) -> bytes:
    """A multi-line response body: CRLF line ends, dot-stuffed, terminated by '.' CRLF."""
    out = [b"." + line + b"\r\n" if line.startswith(b".") else line + b"\r\n" for line in lines]
    out.append(b".\r\n")
    return b"".join(out)


def top_lines(data: bytes, count: int) -> list[bytes]:
    """The header, the blank separator line and the first `count` body lines."""
    lines = wire_lines(data)
    try:
        blank = lines.index(b"")
    except ValueError:
        return lines
    return lines[: blank + 1 + count]


def unique_ids(rows: list[Row]) -> list[str]:
    """UIDL ids: the msgid, made unique and RFC 1939-safe (0x21-0x7E, at most 70 chars)."""
    seen: set[str] = set()
    ids: list[str] = []
    for row in rows:
        base = row.msgid
        if not _UNIQUE_ID.fullmatch(base) or len(base) > 58:
            base = hashlib.sha256(row.msgid.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        uid = base if base not in seen else f"{base}-{row.key.uid}"
        seen.add(base)
        ids.append(uid)
    return ids


# -- the session -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Message:
    row: Row
    unique_id: str
    deleted: bool = False
    size: int | None = None


class _Session:
    """State of one POP3 connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        backend: MailBackend,
        hostname: str,
        idle_timeout: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.backend = backend
        self.hostname = hostname
        self.idle_timeout = idle_timeout
        self.state = _State.AUTHORIZATION
        self.user: str | None = None
        self.account: Account | None = None
        self.messages: list[_Message] = []
        self._cached: tuple[str, bytes] | None = None
        self.done = False
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "CAPA": self.cmd_capa,
            "USER": self.cmd_user,
            "PASS": self.cmd_pass,
            "QUIT": self.cmd_quit,
            "STAT": self.cmd_stat,
            "LIST": self.cmd_list,
            "UIDL": self.cmd_uidl,
            "RETR": self.cmd_retr,
            "TOP": self.cmd_top,
            "DELE": self.cmd_dele,
            "RSET": self.cmd_rset,
            "NOOP": self.cmd_noop,
        }

    # -- I/O -------------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Write and drain; _ClientGone if the client went away or stopped reading."""
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                self.writer.write(data[start : start + WRITE_CHUNK])
                async with asyncio.timeout(self.idle_timeout):
                    await self.writer.drain()
        except (ConnectionError, TimeoutError) as exc:
            raise _ClientGone(str(exc) or type(exc).__name__) from exc

    async def reply(self, line: str) -> None:
        await self.send(line.encode("utf-8", "replace") + b"\r\n")

    async def read_line(self) -> bytes | None:
        """One line without its terminator; None at end of input; _LineTooLong if oversized."""
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
                raise _LineTooLong
            return line.rstrip(b"\n").removesuffix(b"\r")

    # -- main loop -------------------------------------------------------------------------

    async def run(self) -> None:
        await self.reply(f"+OK {self.hostname} POP3 server ready")
        while not self.done:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                async with asyncio.timeout(self.idle_timeout):
                    raw = await self.read_line()
            except _LineTooLong:
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
        keyword, _, args = line.partition(" ")
        handler = self.handlers.get(keyword.upper())
        if handler is None:
            await self.reply("-ERR unknown command")
            return
        try:
            await handler(args)
        except BackendUnavailable as exc:
            log.warning("%s: %s: backend unavailable: %s", self.peer, keyword.upper(), exc)
            await self.reply("-ERR [SYS/TEMP] backend unavailable, try again later")
        except LookupError as exc:  # removed by another session since PASS
            log.info("%s: %s: message gone: %s", self.peer, keyword.upper(), exc)
            await self.reply("-ERR no such message")
        except _ClientGone:
            raise
        except Exception:
            log.exception("%s: %s failed", self.peer, keyword.upper())
            await self.reply("-ERR [SYS/TEMP] internal server error")

    # -- helpers ---------------------------------------------------------------------------

    async def require_transaction(self) -> bool:
        if self.state is not _State.TRANSACTION:
            await self.reply("-ERR command not valid in this state")
            return False
        return True

    async def no_args(self, args: str) -> bool:
        if args.strip():
            await self.reply("-ERR no arguments expected")
            return False
        return True

    async def message_arg(self, arg: str) -> tuple[int, _Message] | None:
        """The live message numbered `arg` and its number, or None after replying -ERR."""
        if not _NUMBER.fullmatch(arg):
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

    async def content(self, message: _Message) -> bytes:
        """The stored bytes of a message (the last one fetched is cached)."""
        msgid = message.row.msgid
        if self._cached is not None and self._cached[0] == msgid:
            return self._cached[1]
        data = await self.backend.fetch(msgid)
        self._cached = (msgid, data)
        message.size = wire_size(data)
        return data

    async def size(self, message: _Message) -> int:
        if message.size is None:
            await self.content(message)
        assert message.size is not None
        return message.size

    def live(self) -> list[tuple[int, _Message]]:
        return [(n, m) for n, m in enumerate(self.messages, 1) if not m.deleted]

    # -- AUTHORIZATION ---------------------------------------------------------------------

    async def cmd_capa(self, args: str) -> None:
        if await self.no_args(args):
            await self.send(
                dot_stuff([b"+OK capability list follows", *map(str.encode, CAPABILITIES)])
            )

    async def cmd_user(self, args: str) -> None:
        if self.state is not _State.AUTHORIZATION:
            await self.reply("-ERR already authenticated")
            return
        name = args.strip()
        if not name:
            await self.reply("-ERR missing user name")
            return
        self.user = name
        await self.reply("+OK send PASS")

    async def cmd_pass(self, args: str) -> None:
        if self.state is not _State.AUTHORIZATION:
            await self.reply("-ERR already authenticated")
            return
        if self.user is None:
            await self.reply("-ERR USER first")
            return
        login, self.user = self.user, None
        account = await self.backend.authenticate(login, args)
        if account is None:
            log.info("%s: login failed for %r", self.peer, login)
            await self.reply("-ERR [AUTH] invalid credentials")
            return
        if account.status != MailboxStatus.ACTIVE:
            log.info("%s: login %r refused, mailbox %s", self.peer, login, account.status.value)
            await self.reply("-ERR [SYS/PERM] mailbox not available")
            return
        rows = await self.backend.rows(account.mailbox, INBOX)
        self.messages = [_Message(r, u) for r, u in zip(rows, unique_ids(rows), strict=True)]
        self.account = account
        self.state = _State.TRANSACTION
        log.info("%s: %r logged in, %d messages", self.peer, login, len(rows))
        await self.reply(f"+OK maildrop has {len(rows)} messages")

    async def cmd_quit(self, args: str) -> None:
        self.done = True
        if self.state is _State.AUTHORIZATION:
            await self.reply(f"+OK {self.hostname} POP3 server signing off")
            return
        try:
            removed = await self.update()
        except BackendUnavailable as exc:
            log.warning("%s: UPDATE failed, messages kept: %s", self.peer, exc)
            await self.reply("-ERR [SYS/TEMP] some deleted messages not removed, try again later")
            return
        await self.reply(f"+OK {self.hostname} POP3 server signing off ({removed} deleted)")

    async def update(self) -> int:
        """UPDATE state: flag the DELEted messages Deleted and expunge them; count removed."""
        assert self.account is not None
        mailbox = self.account.mailbox
        wanted = {m.row.key.uid for m in self.messages if m.deleted}
        if not wanted:
            return 0
        current = {r.key.uid: r for r in await self.backend.rows(mailbox, INBOX)}
        uids = sorted(wanted & current.keys())
        for uid in list(uids):
            row = current[uid]
            if Flag.DELETED in row.flags:
                continue
            try:
                await self.backend.set_flags(mailbox, INBOX, uid, row.flags | {Flag.DELETED})
            except LookupError:  # expunged by another session meanwhile
                uids.remove(uid)
        removed = await self.backend.expunge(mailbox, INBOX, uids) if uids else []
        if len(uids) < len(wanted):
            log.info("%s: uids %s already gone", self.peer, sorted(wanted - current.keys()))
        if kept := set(uids) - set(removed):
            log.warning("%s: uids %s were not removed", self.peer, sorted(kept))
        log.info("%s: UPDATE removed %d of %d messages", self.peer, len(removed), len(wanted))
        return len(removed)

    # -- TRANSACTION -----------------------------------------------------------------------

    async def cmd_stat(self, args: str) -> None:
        if not (await self.require_transaction() and await self.no_args(args)):
            return
        live = self.live()
        total = 0
        for _, message in live:
            total += await self.size(message)
        await self.reply(f"+OK {len(live)} {total}")

    async def cmd_list(self, args: str) -> None:
        await self._listing(args, self.size, "octets")

    async def cmd_uidl(self, args: str) -> None:
        async def uid(message: _Message) -> str:
            return message.unique_id

        await self._listing(args, uid, None)

    async def _listing(
        self,
        args: str,
        value: Callable[[_Message], Awaitable[int | str]],
        total_label: str | None,
    ) -> None:
        """LIST and UIDL: one message with an argument, else a multi-line listing."""
        if not await self.require_transaction():
            return
        arg = args.strip()
        if arg:
            found = await self.message_arg(arg)
            if found is not None:
                await self.reply(f"+OK {found[0]} {await value(found[1])}")
            return
        lines: list[bytes] = []
        total = 0
        for number, message in self.live():
            item = await value(message)
            total += item if isinstance(item, int) else 0
            lines.append(f"{number} {item}".encode())
        head = f"+OK {len(lines)} messages"
        if total_label:
            head += f" ({total} {total_label})"
        await self.send(dot_stuff([head.encode(), *lines]))

    async def cmd_retr(self, args: str) -> None:
        if not await self.require_transaction():
            return
        found = await self.message_arg(args.strip())
        if found is None:
            return
        message = found[1]
        data = await self.content(message)
        head = f"+OK {await self.size(message)} octets\r\n".encode()
        await self.send(head + dot_stuff(wire_lines(data)))
        await self.mark_seen(message)

    async def mark_seen(self, message: _Message) -> None:
        """Set the Seen flag after RETR; failures are logged, never reported."""
        if Flag.SEEN in message.row.flags:
            return
        assert self.account is not None
        key = message.row.key
        try:
            message.row = await self.backend.set_flags(
                self.account.mailbox, INBOX, key.uid, message.row.flags | {Flag.SEEN}
            )
        except Exception as exc:
            log.warning("%s: could not mark %s seen: %s", self.peer, key, exc)

    async def cmd_top(self, args: str) -> None:
        if not await self.require_transaction():
            return
        parts = args.split()
        if len(parts) != 2 or not _NUMBER.fullmatch(parts[1]):
            await self.reply("-ERR usage: TOP msg lines")
            return
        found = await self.message_arg(parts[0])
        if found is None:
            return
        data = await self.content(found[1])
        body = dot_stuff(top_lines(data, int(parts[1])))
        await self.send(b"+OK top of message follows\r\n" + body)

    async def cmd_dele(self, args: str) -> None:
        if not await self.require_transaction():
            return
        found = await self.message_arg(args.strip())
        if found is None:
            return
        found[1].deleted = True
        await self.reply(f"+OK message {found[0]} deleted")

    async def cmd_rset(self, args: str) -> None:
        if not (await self.require_transaction() and await self.no_args(args)):
            return
        for message in self.messages:
            message.deleted = False
        await self.reply(f"+OK maildrop has {len(self.messages)} messages")

    async def cmd_noop(self, args: str) -> None:
        if await self.require_transaction() and await self.no_args(args):
            await self.reply("+OK")


# -- entry points ----------------------------------------------------------------------------


async def serve_pop3(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    backend: MailBackend,
    *,
    hostname: str,
    idle_timeout: float = 600.0,
) -> None:
    """Serve one POP3 connection until QUIT, end of input, idle timeout or cancellation."""
    session = _Session(reader, writer, backend, hostname, idle_timeout)
    log.debug("%s: connected", session.peer)
    try:
        await session.run()
    except asyncio.CancelledError:
        log.info("%s: server shutting down, closing session", session.peer)
        try:
            if not writer.is_closing():
                writer.write(b"-ERR [SYS/TEMP] server shutting down\r\n")
        except Exception:
            pass
        raise
    except (_ClientGone, ConnectionError) as exc:
        log.info("%s: connection lost: %s", session.peer, exc or type(exc).__name__)
    except Exception:
        log.exception("%s: session failed", session.peer)
    finally:
        writer.close()
    log.debug("%s: closed", session.peer)


async def start_pop3_server(
    backend: MailBackend,
    host: str,
    port: int,
    *,
    hostname: str,
    idle_timeout: float = 600.0,
    sessions: set[asyncio.Task[None]] | None = None,
) -> asyncio.base_events.Server:
    """Listen on host:port and run `serve_pop3` for each connection in its own task.

    Live session tasks are kept in `sessions` (pass your own set to cancel them at shutdown).
    The tasks are created here rather than by asyncio's stream protocol, whose done-callback
    on Python 3.11 logs a spurious error for every cancelled session.
    """
    live: set[asyncio.Task[None]] = set() if sessions is None else sessions

    def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(
            serve_pop3(reader, writer, backend, hostname=hostname, idle_timeout=idle_timeout)
        )
        live.add(task)
        task.add_done_callback(live.discard)

    return await asyncio.start_server(connected, host, port, limit=READER_LIMIT)
