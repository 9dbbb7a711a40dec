"""The POP3 maildrop (RFC 1939): its messages, their wire form, sizes and unique-ids.

Stored messages have LF (or CRLF) line endings; on the wire every line ends in CRLF and a
final CRLF is added when the message lacks one. Sizes are counted on that form before
byte-stuffing (RFC 1939 §3), which is what a client counts after unstuffing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from harness.store.records import Row

__all__ = [
    "INBOX",
    "Message",
    "dot_stuff",
    "top_lines",
    "unique_ids",
    "wire_lines",
    "wire_size",
]

INBOX = "INBOX"
"""The folder that is the maildrop."""

_UNIQUE_ID = re.compile(r"[\x21-\x7e]{1,70}")


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
    """A multi-line response body: CRLF line ends, dot-stuffed, terminated by '.' CRLF
    (RFC 1939 §3)."""
    out = [b"." + line + b"\r\n" if line.startswith(b".") else line + b"\r\n" for line in lines]
    out.append(b".\r\n")
    return b"".join(out)


def top_lines(data: bytes, count: int) -> list[bytes]:
    """The header, the blank separator line and the first `count` body lines (TOP, RFC 1939
    §7); the whole message when it has no blank line."""
    lines = wire_lines(data)
    try:
        blank = lines.index(b"")
    except ValueError:
        return lines
    return lines[: blank + 1 + count]


def unique_ids(rows: list[Row]) -> list[str]:
    """UIDL ids, one per row in order: the msgid, made unique and RFC 1939-safe (§7: 0x21-0x7E,
    at most 70 chars); an unsafe or long msgid is replaced by 40 hex digits of its SHA-256."""
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


@dataclass(slots=True)
class Message:
    """One message of the maildrop: its row, its unique-id (UIDL), whether it was DELEted in
    this session, and its wire size in octets once known."""

    row: Row
    unique_id: str
    deleted: bool = False
    size: int | None = None
