"""The POP3 listener: one asyncio server, one task per connection.

`start_pop3_server` listens and runs `serve_pop3` for each connection; whoever started it
cancels the session tasks at shutdown, and each cancelled session answers
`-ERR [SYS/TEMP] server shutting down` (RFC 3206) before its connection is closed.
"""

from __future__ import annotations

import asyncio
import logging

from harness.servers.backend import MailBackend
from harness.servers.pop3.commands import COMMANDS
from harness.servers.pop3.session import ClientGone, Session

__all__ = ["READER_LIMIT", "serve_pop3", "start_pop3_server"]

log = logging.getLogger("firedrill.pop3")

READER_LIMIT = 8192
"""StreamReader buffer limit used by `start_pop3_server` (longer lines are skipped in parts)."""


async def serve_pop3(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    backend: MailBackend,
    *,
    hostname: str,
    idle_timeout: float = 600.0,
) -> None:
    """Serve one POP3 connection until QUIT, end of input, idle timeout or cancellation.

    `idle_timeout` is in seconds: a client that sends no command, or does not read our
    output, for that long is disconnected without a response and without UPDATE (RFC 1939
    §3). Cancellation sends `-ERR [SYS/TEMP] server shutting down` and is re-raised; the
    writer is always closed.
    """
    session = Session(reader, writer, backend, hostname, idle_timeout, commands=COMMANDS)
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
    except (ClientGone, ConnectionError) as exc:
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
