"""The life of one server process: listen, serve sessions, drain or stop, flush, exit.

Signals are the control channel `imctrl` uses:

- SIGTERM/SIGINT (stop): stop listening, cancel open sessions at once, flush, exit 0.
- SIGUSR1 (drain): stop listening at once (new connections are refused), let open sessions
  finish by themselves for up to `/*/common/drainTimeoutSeconds`, then cancel the rest, flush,
  exit 0. A server whose drain policy is `stop` (IMAP by default, as chapter 13.4 advises for
  long-lived IMAP connections) treats a drain as a stop.

Each server holds an exclusive lock on `run/<program>.lock` while it lives and writes
`run/<program>.pid`; a server killed with SIGKILL releases the lock with its death, so a stale
pid file never blocks the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from harness.errors import FiredrillError
from harness.layout import Layout
from harness.locks import lock_path, try_lock
from harness.servers.wire import Reply, Request, serve_wire
from harness.store.config import ConfigDB, load
from harness.topology import Endpoint, endpoint, setting
from harness.waiting import poll_last

log = logging.getLogger("firedrill.service")


LOCK_PATIENCE = 2.0
"""Seconds a starting server waits for its lock before saying another one runs."""


def pid_path(layout: Layout, program: str) -> Path:
    return layout.run / f"{program}.pid"


class Service:
    """Base of every server: subclasses provide `open`, `session` and `close`."""

    program = "service"
    default_drain_policy = "drain"

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.config: ConfigDB = load(layout.config)
        self.endpoint: Endpoint = endpoint(self.config, self.program)
        self.drain_timeout = float(setting(self.config, self.program, "drainTimeoutSeconds", "10"))
        self.drain_policy = setting(
            self.config, self.program, "drainPolicy", self.default_drain_policy
        )
        self._sessions: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._shutdown: asyncio.Future[str] | None = None
        self._periodic: list[asyncio.Task[None]] = []
        self._lock: IO[str] | None = None
        self.draining = asyncio.Event()
        """Set when a drain or stop begins (sessions between transactions may leave)."""

    # -- for subclasses ------------------------------------------------------------------------

    async def open(self) -> None:
        """Open stores and clients before the first connection is accepted."""

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def flush(self, how: str) -> None:
        """Make everything durable; `how` is "drain" or "stop" (both end here)."""

    async def goodbye(self) -> None:
        """Tell the sessions still open that the server is going away (before they are cut)."""

    async def close(self) -> None:
        """Release stores and clients."""

    def every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` every `seconds` while the server serves."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:
                    log.exception("%s: periodic job failed", self.program)

        self._periodic.append(asyncio.create_task(loop()))

    async def start_listening(self) -> asyncio.Server:
        return await asyncio.start_server(
            self._accept,
            self.endpoint.address,
            self.endpoint.port,
            reuse_address=True,
            limit=1024 * 1024,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        self.layout.run.mkdir(parents=True, exist_ok=True)
        handle = lock_path(self.layout, self.program).open("a+")
        # `imctrl status` and the start loop test the lock by taking it for an instant: a
        # server starting in that instant waits for it, a running server holds it for good.
        if not poll_last(lambda: try_lock(handle), LOCK_PATIENCE, 0.02):
            handle.close()
            raise FiredrillError(f"{self.program} is already running in {self.layout.root}")
        self._lock = handle
        record = {
            "pid": os.getpid(),
            "program": self.program,
            "root": str(self.layout.root),
            "started": time.time(),
            "address": self.endpoint.address,
            "port": self.endpoint.port,
        }
        tmp = pid_path(self.layout, self.program).with_suffix(".pid.tmp")
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, pid_path(self.layout, self.program))

    def _release_lock(self) -> None:
        pid_path(self.layout, self.program).unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    async def run(self) -> None:
        """Serve until told to drain or stop; always flush and release what was opened."""
        self._acquire_lock()
        loop = asyncio.get_running_loop()
        self._shutdown = loop.create_future()
        for sig, how in (
            (signal.SIGTERM, "stop"),
            (signal.SIGINT, "stop"),
            (signal.SIGUSR1, "drain"),
        ):
            loop.add_signal_handler(sig, self.request, how)
        try:
            await self.open()
            self._server = await self.start_listening()
            log.info(
                "%s listening on %s:%d", self.program, self.endpoint.address, self.endpoint.port
            )
            how = await self._shutdown
            await self._wind_down(how)
        finally:
            for task in self._periodic:
                task.cancel()
            try:
                await self.close()
            finally:
                self._release_lock()

    def request(self, how: str) -> None:
        """Ask the server to drain or stop (the first request wins; a stop overrides a drain)."""
        if self._shutdown is None:
            return
        if not self._shutdown.done():
            self._shutdown.set_result(how)
        elif how == "stop":
            for task in list(self._sessions):
                task.cancel()

    async def _wind_down(self, how: str) -> None:
        if how == "drain" and self.drain_policy == "stop":
            log.info("%s: drain policy is stop (long-lived sessions)", self.program)
            how = "stop"
        if self._server is not None:
            self._server.close()  # new connections are refused from here on
        self.draining.set()
        log.info("%s: %s with %d open session(s)", self.program, how, len(self._sessions))
        if how == "drain" and self._sessions:
            _, pending = await asyncio.wait(set(self._sessions), timeout=self.drain_timeout)
            if pending:
                log.info("%s: drain timeout, closing %d session(s)", self.program, len(pending))
        await self.goodbye()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(set(self._sessions), timeout=5)
        await self.flush(how)
        log.info("%s: %s complete", self.program, how)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self.session(reader, writer)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("%s: session failed", self.program)
        finally:
            self._sessions.discard(task)
            if not writer.is_closing():
                writer.close()


class WireService(Service):
    """A server of the internal wire protocol (mss, dirserv, confserv): every request of every
    session goes to `handle`; a draining server answers the requests of open sessions."""

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_wire(reader, writer, self.handle, quiet=self.draining)

    async def handle(self, request: Request) -> Reply:
        raise NotImplementedError
