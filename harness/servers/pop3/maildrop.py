"""The POP3 maildrop (RFC 1939): its messages, their wire form, sizes and unique-ids.

Stored messages have LF (or CRLF) line endings; on the wire every line ends in CRLF and a
final CRLF is added when the message lacks one. Sizes are counted on that form before
byte-stuffing (RFC 1939 §3), which is what a client counts after unstuffing.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.store.records import Row
from harness.store.uids import uidl

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


def unique_ids(rows: list[Row], uidvalidity: int) -> list[str]:
    """UIDL ids, one per row in order, for a folder whose UIDVALIDITY is `uidvalidity`:
    `harness.store.uids.uidl` of each row's UID (Dovecot's `%08Xu%08Xv`, RFC 1939 §7-safe).
    Unique because UIDs are; all new once the folder gets a new UIDVALIDITY."""
    return [uidl(row.key.uid, uidvalidity) for row in rows]


@dataclass(slots=True)
class Message:
    """One message of the maildrop: its row, its unique-id (UIDL), whether it was DELEted in
    this session, and its wire size in octets once known."""

    row: Row
    unique_id: str
    deleted: bool = False
    size: int | None = None
