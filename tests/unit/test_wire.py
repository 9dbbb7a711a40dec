"""The internal wire client against small in-process servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from harness.servers.backend import BackendUnavailable
from harness.servers.remote import RemoteBackend
from harness.servers.wire import Reply, Request, WireClient, WireError, serve_wire

pytestmark = pytest.mark.timeout(10)

T = TypeVar("T")
HOST = "127.0.0.1"


class Echo:
    """A wire server answering each request with its op; can drop connections at will."""

    def __init__(self, *, hang_up_first: int = 0) -> None:
        self.requests: list[str] = []
        self.hang_up_first = hang_up_first
        """How many connections get their first request read and then closed, unanswered."""
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def handle(self, request: Request) -> Reply:
        self.requests.append(request.op)
        return Reply(request.op)

    async def connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        if self.hang_up_first:
            self.hang_up_first -= 1
            line = await reader.readline()
            self.requests.append(line.decode())
            writer.close()
            return
        await serve_wire(reader, writer, self.handle)

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self.connected, HOST, port, reuse_address=True)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and every connection, as a server that exits does."""
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()
        await asyncio.sleep(0.05)  # let the client's loop see the end of its connection


def run(test: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(test())


def test_every_request_after_a_server_restart_reconnects_instead_of_failing() -> None:
    async def scenario() -> None:
        first = Echo()
        port = await first.start()
        client = WireClient(HOST, port, timeout=5)
        assert (await client.call("rows")).result == "rows"
        await first.stop()
        second = Echo()
        await second.start(port)
        assert (await client.call("deliver")).result == "deliver"
        assert second.requests == ["deliver"]
        await client.close()
        await second.stop()

    run(scenario)


@pytest.mark.parametrize("op", ["auth", "lookup", "rows", "folders", "fetch", "stats"])
def test_a_read_is_sent_again_once_when_the_connection_ends_before_the_reply(op: str) -> None:
    async def scenario() -> None:
        server = Echo(hang_up_first=1)
        client = WireClient(HOST, await server.start(), timeout=5)
        assert (await client.call(op)).result == op
        assert len(server.requests) == 2
        await client.close()
        await server.stop()

    run(scenario)


def test_a_read_is_sent_at_most_twice() -> None:
    async def scenario() -> None:
        server = Echo(hang_up_first=3)
        client = WireClient(HOST, await server.start(), timeout=5)
        with pytest.raises(BackendUnavailable):
            await client.call("rows")
        assert len(server.requests) == 2
        await client.close()
        await server.stop()

    run(scenario)


@pytest.mark.parametrize("op", ["deliver", "expunge", "set_flags", "create", "modify"])
def test_a_write_is_never_sent_again_when_its_answer_is_lost(op: str) -> None:
    async def scenario() -> None:
        server = Echo(hang_up_first=1)
        client = WireClient(HOST, await server.start(), timeout=5)
        with pytest.raises(BackendUnavailable):
            await client.call(op)
        assert len(server.requests) == 1
        assert (await client.call(op)).result == op  # the next call has a new connection
        await client.close()
        await server.stop()

    run(scenario)


def test_remote_backend_turns_notfound_into_a_lookup_error_and_keeps_other_refusals() -> None:
    class Refusing(Echo):
        async def handle(self, request: Request) -> Reply:
            self.requests.append(request.op)
            code = "notfound" if request.args.get("msgid") == "gone" else "invalid"
            raise WireError(code, f"{request.op} refused")

    async def scenario() -> None:
        server = Refusing()
        port = await server.start()
        backend = RemoteBackend(WireClient(HOST, port), WireClient(HOST, port))
        with pytest.raises(LookupError):
            await backend.fetch("gone")
        with pytest.raises(WireError) as refused:
            await backend.fetch("bad")
        assert refused.value.code == "invalid"
        await backend.close()
        await server.stop()

    run(scenario)
