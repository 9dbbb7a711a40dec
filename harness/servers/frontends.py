"""popserv and imapserv: the POP3 and IMAP sessions on top of a `RemoteBackend`."""

from __future__ import annotations

import asyncio

from harness.servers.imap import serve_imap
from harness.servers.pop3 import serve_pop3
from harness.servers.remote import RemoteBackend
from harness.servers.service import Service
from harness.servers.wire import WireClient
from harness.topology import endpoint, setting


class _FrontEnd(Service):
    async def open(self) -> None:
        directory, store = endpoint(self.config, "dirserv"), endpoint(self.config, "mss")
        self.backend = RemoteBackend(
            WireClient(directory.address, directory.port, timeout=5),
            WireClient(store.address, store.port, timeout=30),
        )
        self.idle_timeout = float(setting(self.config, self.program, "idleTimeoutSeconds", "600"))
        self.hostname = f"{self.endpoint.host}.example.com"

    async def close(self) -> None:
        if hasattr(self, "backend"):
            await self.backend.close()


class PopServer(_FrontEnd):
    program = "popserv"

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_pop3(
            reader, writer, self.backend, hostname=self.hostname, idle_timeout=self.idle_timeout
        )


class ImapServer(_FrontEnd):
    program = "imapserv"
    default_drain_policy = "stop"

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_imap(
            reader, writer, self.backend, hostname=self.hostname, idle_timeout=self.idle_timeout
        )
