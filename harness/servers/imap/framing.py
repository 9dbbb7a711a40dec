"""Reading one IMAP command off the wire: its lines and literals (RFC 3501 §2.2.1, §4.3).

A command is a line, or a line ending in a literal announcement `{n}` (or the
non-synchronizing `{n+}` of RFC 7888) followed by n octets and more of the line, and so on.
`read_command` returns it whole, literals inline, for `harness.servers.imap.parse`; the
limits here bound what one command may make the server buffer.
"""

from __future__ import annotations

import asyncio

from harness.servers.imap.tokens import LITERAL_END

__all__ = [
    "MAX_LINE",
    "MAX_LITERAL",
    "MAX_PREAUTH_LITERAL",
    "LineTooLong",
    "LiteralTooLarge",
    "read_command",
    "read_line",
    "strip_eol",
]

MAX_LINE = 64 * 1024
"""The longest command, not counting literal data."""
MAX_LITERAL = 16 * 1024 * 1024
"""The most literal data one command may carry once authenticated."""
MAX_PREAUTH_LITERAL = 8 * 1024
"""The most literal data one command may carry before authentication."""


class LineTooLong(Exception):
    """A command line exceeded MAX_LINE; it was read and thrown away."""


class LiteralTooLarge(Exception):
    """A command announced a literal over the limit; `command` is what was read so far."""

    def __init__(self, command: bytes, synchronizing: bool) -> None:
        super().__init__("literal too large")
        self.command = command
        self.synchronizing = synchronizing


def strip_eol(data: bytes) -> bytes:
    """Drop one trailing line ending (a literal's own CRLF must survive)."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


async def read_line(reader: asyncio.StreamReader, budget: int) -> bytes:
    """One line with its line ending; LineTooLong (after discarding it) past `budget`."""
    parts: list[bytes] = []
    total = 0
    while True:
        try:
            chunk = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as e:
            chunk = await reader.readexactly(e.consumed)
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


async def read_command(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, literal_cap: int
) -> bytes:
    """One command with its literals inline, without the final CRLF.

    Sends the `+` continuation for each synchronizing literal (RFC 3501 §7.5). The lines
    together may be MAX_LINE octets (else LineTooLong), the literals `literal_cap` octets
    (else LiteralTooLarge, nothing read past the announcement); IncompleteReadError at EOF.
    """
    data = bytearray()
    line_total = 0
    literal_total = 0
    while True:
        line = await read_line(reader, MAX_LINE - line_total)
        line_total += len(line)
        data += line
        m = LITERAL_END.search(line)
        if m is None:
            return strip_eol(bytes(data))
        size, sync = int(m.group(1)), not m.group(2)
        literal_total += size
        if literal_total > literal_cap:
            raise LiteralTooLarge(bytes(data), sync)
        if sync:
            writer.write(b"+ Ready for literal data\r\n")
            await writer.drain()
        data += await reader.readexactly(size)
