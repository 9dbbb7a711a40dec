"""The IMAP listener: one asyncio server, one task per connection, and its shutdown.

`start_imap_server` listens and runs `serve_imap` for each connection; `stop_imap_server`
closes the listener and cancels the live sessions, each of which says
`* BYE server shutting down` (RFC 3501 §7.1.5) before its connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from harness.servers.backend import MailBackend
from harness.servers.imap.commands import DISPATCH
from harness.servers.imap.session import Session

__all__ = ["serve_imap", "start_imap_server", "stop_imap_server"]

log = logging.getLogger("firedrill.imap")


async def _say_bye(writer: asyncio.StreamWriter, text: bytes) -> None:
    """Best effort: write a last untagged response, waiting at most a second."""
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
    """Serve one IMAP connection until LOGOUT, EOF, idle timeout or cancellation.

    `idle_timeout` is in seconds (RFC 3501 §5.4 asks for at least 30 minutes). Cancellation
    sends `* BYE server shutting down` and is re-raised; a lost connection is logged; any
    other error is logged and answered `* BYE internal server error`. The writer is always
    closed.
    """
    peer = writer.get_extra_info("peername")
    session = Session(
        reader, writer, backend, hostname, idle_timeout, peer=str(peer), commands=DISPATCH
    )
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
    """Listen for IMAP connections (port 0 picks a free port); stop with stop_imap_server.

    Each connection runs `serve_imap` in its own task, remembered for `stop_imap_server`.
    """
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
    """Stop listening and end every live session (each gets `* BYE server shutting down`).

    Waits up to `timeout` seconds for the sessions to end, then for the listener to close.
    """
    server.close()
    tasks = _SESSIONS.pop(server, set())
    for task in list(tasks):
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
    await server.wait_closed()
