"""The internal protocol between servers (MSS, dirserv, confserv and their clients).

One request per line of JSON, `{"op": ..., "args": {...}, "size": n}`, followed by `n` bytes of
payload when `size` is given; the reply has the same shape: `{"ok": true, "result": ..., "size": n}`
or `{"ok": false, "code": ..., "error": ...}`. Simple enough to read in a packet capture.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from harness.errors import FiredrillError
from harness.servers.backend import BackendUnavailable

log = logging.getLogger("firedrill.wire")
MAX_HEADER = 1024 * 1024
MAX_PAYLOAD = 64 * 1024 * 1024


class WireError(FiredrillError):
    """A request the server refused: `code` is notfound, exists, invalid or internal."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Request:
    op: str
    args: dict[str, Any]
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Reply:
    result: Any = None
    payload: bytes = b""


Handler = Callable[[Request], Awaitable[Reply]]


async def _next_line_unless(reader: asyncio.StreamReader, quiet: asyncio.Event) -> bytes | None:
    """The next request line, or None once `quiet` is set while waiting for it."""
    if quiet.is_set():
        return None
    line = asyncio.ensure_future(reader.readline())
    stop = asyncio.ensure_future(quiet.wait())
    try:
        done, _ = await asyncio.wait({line, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if line in done:
        return line.result()
    line.cancel()
    return None


async def _read_message(
    reader: asyncio.StreamReader, line: bytes | None = None
) -> tuple[dict[str, Any], bytes] | None:
    if line is None:
        line = await reader.readline()
    if not line:
        return None
    if len(line) > MAX_HEADER:
        raise WireError("invalid", "header too long")
    header = json.loads(line)
    size = int(header.get("size", 0))
    if size < 0 or size > MAX_PAYLOAD:
        raise WireError("invalid", f"payload size {size} out of range")
    payload = await reader.readexactly(size) if size else b""
    return header, payload


def _encode(header: dict[str, Any], payload: bytes) -> bytes:
    if payload:
        header["size"] = len(payload)
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload


async def serve_wire(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handler: Handler,
    *,
    quiet: asyncio.Event | None = None,
) -> None:
    """Serve requests on one connection until the peer closes it.

    When `quiet` is set (a drain), the connection is closed as soon as no request is in
    progress: internal connections stay open between requests and must not hold a drain.
    """
    try:
        while True:
            first: bytes | None = None
            if quiet is not None:
                first = await _next_line_unless(reader, quiet)
                if first is None:
                    return
            try:
                message = await _read_message(reader, first)
            except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                writer.write(_encode({"ok": False, "code": "invalid", "error": str(exc)}, b""))
                await writer.drain()
                return
            except WireError as exc:
                writer.write(_encode({"ok": False, "code": exc.code, "error": str(exc)}, b""))
                await writer.drain()
                return
            if message is None:
                return
            header, payload = message
            try:
                reply = await handler(
                    Request(str(header.get("op")), dict(header.get("args") or {}), payload)
                )
                out = _encode({"ok": True, "result": reply.result}, reply.payload)
            except WireError as exc:
                out = _encode({"ok": False, "code": exc.code, "error": str(exc)}, b"")
            except Exception as exc:  # a bug must not kill the server: report and go on
                log.exception("request %s failed", header.get("op"))
                out = _encode({"ok": False, "code": "internal", "error": repr(exc)}, b"")
            writer.write(out)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


READ_ONLY_OPS = frozenset({"auth", "lookup", "list", "ping", "rows", "folders", "fetch", "stats"})
"""Requests that change nothing: safe to send again when the first answer never came."""


class WireClient:
    """A persistent connection to one internal server; reconnects after errors.

    A connection the server closed while idle (a restart, crash or drain) is replaced before
    the next request. When the connection ends before any reply, a read-only request
    (`READ_ONLY_OPS`) is sent once more on a new one; any other request is not, since the
    server may have carried it out. Connection failures raise BackendUnavailable; refusals
    raise WireError.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()

    async def call(self, op: str, payload: bytes = b"", **args: Any) -> Reply:
        async with self._lock:
            try:
                return await asyncio.wait_for(self._call(op, args, payload), self.timeout)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                self._drop()
                raise BackendUnavailable(f"{op} on {self.host}:{self.port}: {exc!r}") from exc

    async def _call(self, op: str, args: dict[str, Any], payload: bytes) -> Reply:
        request = _encode({"op": op, "args": args}, payload)
        retry = op in READ_ONLY_OPS
        while True:
            reader, writer = await self._connection()
            try:
                writer.write(request)
                await writer.drain()
                message = await _read_message(reader)
                if message is None:
                    raise ConnectionResetError("server closed the connection")
            except ConnectionError as exc:
                self._drop()
                if not retry:
                    raise
                retry = False
                log.info("%s on %s:%d: %s; sending it again", op, self.host, self.port, exc)
                continue
            header, body = message
            if not header.get("ok"):
                raise WireError(str(header.get("code")), str(header.get("error")))
            return Reply(header.get("result"), body)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The open connection, or a new one if the server has closed the last one."""
        if self._conn is not None:
            reader, writer = self._conn
            if reader.at_eof() or reader.exception() is not None or writer.is_closing():
                self._drop()
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.host, self.port, limit=MAX_HEADER + 1)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None

    async def close(self) -> None:
        self._drop()


class Indeterminate(BackendUnavailable):
    """The request was sent but no answer came back: it may or may not have happened."""


class SyncWireClient:
    """A blocking client for the same protocol (workload threads, tools). Not thread-safe."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self.address = (host, port)
        self.timeout = timeout

    def call(self, op: str, payload: bytes = b"", **args: Any) -> Reply:
        import socket

        where = f"{op} on {self.address[0]}:{self.address[1]}"
        try:
            sock = socket.create_connection(self.address, timeout=self.timeout)
        except OSError as exc:
            raise BackendUnavailable(f"{where}: {exc!r}") from exc
        with sock:
            try:
                sock.sendall(_encode({"op": op, "args": args}, payload))
            except OSError as exc:
                raise Indeterminate(f"{where}: {exc!r}") from exc
            try:
                stream = sock.makefile("rb")
                line = stream.readline(MAX_HEADER + 1)
                if not line:
                    raise ConnectionResetError("server closed the connection")
                header = json.loads(line)
                body = stream.read(int(header.get("size", 0))) if header.get("size") else b""
            except (OSError, ValueError) as exc:
                raise Indeterminate(f"{where}: no answer: {exc!r}") from exc
        if not header.get("ok"):
            raise WireError(str(header.get("code")), str(header.get("error")))
        return Reply(header.get("result"), body)
