"""IMAP responses (RFC 3501 §7): wire strings, message sections, ENVELOPE, BODYSTRUCTURE and
FETCH data items.

Messages are stored with LF line endings and sent as CRLF: every function here takes and
returns CRLF octets, and every size and literal length is a CRLF octet count. Nothing here
does I/O; the FETCH and STORE handlers load the message and send what these return.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from email import message_from_bytes
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

from harness.servers.imap.parse import FetchAtt, format_internal_date
from harness.store.records import Flag, Row

FLAG_NAMES: dict[Flag, str] = {
    Flag.ANSWERED: "\\Answered",
    Flag.FLAGGED: "\\Flagged",
    Flag.DELETED: "\\Deleted",
    Flag.SEEN: "\\Seen",
}
"""The system flags (RFC 3501 §2.3.2) the store keeps, in the order they are listed."""
_EOL = re.compile(rb"\r?\n")


# --- wire formatting ----------------------------------------------------------------------


def to_crlf(data: bytes) -> bytes:
    """Normalise line endings to CRLF (how messages go on the wire)."""
    return _EOL.sub(b"\r\n", data)


def literal(data: bytes) -> bytes:
    """A synchronizing literal (RFC 3501 §4.3): `{n}` CRLF and the n octets."""
    return b"{%d}\r\n" % len(data) + data


def istring(value: str | bytes | None) -> bytes:
    """NIL, a quoted string, or a literal when the value cannot be quoted (RFC 3501 §4.3,
    §4.5): over 1024 octets, or any octet outside printable US-ASCII."""
    if value is None:
        return b"NIL"
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if len(data) > 1024 or any(c < 0x20 or c > 0x7E for c in data):
        return literal(data)
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def quote_mailbox(name: str) -> str:
    """A mailbox name as a quoted string (RFC 3501 §4.3), backslash and quote escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_flags(flags: Iterable[Flag]) -> str:
    """A flag list (RFC 3501 §7.2.6 FLAGS), e.g. `(\\Answered \\Seen)`, in FLAG_NAMES order."""
    names = {FLAG_NAMES[f] for f in flags}
    return "(" + " ".join(n for n in FLAG_NAMES.values() if n in names) + ")"


# --- message text (RFC 3501 §6.4.5 sections) ----------------------------------------------


def split_message(data: bytes) -> tuple[bytes, bytes]:
    """(header including the blank line, body) of a CRLF message."""
    if data.startswith(b"\r\n"):
        return b"\r\n", data[2:]
    idx = data.find(b"\r\n\r\n")
    if idx < 0:
        return data, b""
    return data[: idx + 4], data[idx + 4 :]


def header_blocks(header: bytes) -> list[bytes]:
    """The header fields of a CRLF header, each with its continuation lines, without CRLF."""
    blocks: list[bytes] = []
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and blocks:
            blocks[-1] += b"\r\n" + line
        else:
            blocks.append(line)
    return blocks


def header_fields(header: bytes, fields: Iterable[str], negate: bool) -> bytes:
    """HEADER.FIELDS / HEADER.FIELDS.NOT: the selected fields plus the blank line."""
    wanted = {f.upper().encode() for f in fields}
    kept = [
        b + b"\r\n"
        for b in header_blocks(header)
        if (b.split(b":", 1)[0].strip().upper() in wanted) != negate
    ]
    return b"".join(kept) + b"\r\n"


def serialize(msg: Message) -> bytes:
    """A parsed message or part as CRLF octets (long header lines are not re-wrapped)."""
    buf = io.BytesIO()
    BytesGenerator(buf, mangle_from_=False, maxheaderlen=0).flatten(msg)
    return to_crlf(buf.getvalue())


def unfold(value: object) -> str:
    """A header value with its folding (CRLF before white space, RFC 5322 §2.2.3) removed."""
    return re.sub(r"\r?\n(?=[ \t])", "", str(value))


def subparts(msg: Message) -> list[Message]:
    """The sub-parts of a multipart (or the message inside a message/rfc822) part."""
    payload = msg.get_payload()
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def find_part(msg: Message, path: tuple[int, ...]) -> Message | None:
    """The body part a section's part number names (1 is a single-part message's body)."""
    cur = msg
    for depth, n in enumerate(path):
        if depth and cur.get_content_type() == "message/rfc822":
            cur = next(iter(subparts(cur)), cur)
        if cur.is_multipart():
            parts = subparts(cur)
            if n > len(parts):
                return None
            cur = parts[n - 1]
        elif n != 1:
            return None
    return cur


def section_bytes(data: bytes, att: FetchAtt) -> bytes:
    """The octets of BODY[section] (before any partial range) of a CRLF message."""
    sec = att.section
    assert sec is not None
    target = data
    if sec.part:
        msg = message_from_bytes(data)
        part = find_part(msg, sec.part)
        if part is None:
            return b""
        raw = data if part is msg else serialize(part)
        if sec.spec == "":
            return split_message(raw)[1]
        if sec.spec == "MIME":
            return split_message(raw)[0]
        if part is not msg and part.get_content_type() == "message/rfc822":
            raw = split_message(raw)[1]
        target = raw
    header, body = split_message(target)
    if sec.spec == "":
        return target
    if sec.spec == "HEADER":
        return header
    if sec.spec == "TEXT":
        return body
    return header_fields(header, sec.fields, sec.spec.endswith(".NOT"))


# --- ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2) -----------------------------------------


def envelope(msg: Message) -> bytes:
    """The ENVELOPE structure (RFC 3501 §7.4.2) of a parsed message: date, subject, from,
    sender, reply-to, to, cc, bcc, in-reply-to, message-id; sender and reply-to default to
    from."""

    def text(name: str) -> bytes:
        value = msg.get(name)
        return istring(None if value is None else unfold(value))

    def addrs(name: str, fallback: str | None = None) -> bytes:
        values = msg.get_all(name) or (msg.get_all(fallback) if fallback else None)
        if not values:
            return b"NIL"
        items = []
        for display, addr in getaddresses([unfold(v) for v in values]):
            if not addr:
                continue
            mbox, at, host = addr.rpartition("@")
            if not at:
                mbox, host = addr, ""
            items.append(
                b"(%s NIL %s %s)" % (istring(display or None), istring(mbox), istring(host or None))
            )
        return b"(" + b"".join(items) + b")" if items else b"NIL"

    fields = [
        text("Date"),
        text("Subject"),
        addrs("From"),
        addrs("Sender", "From"),
        addrs("Reply-To", "From"),
        addrs("To"),
        addrs("Cc"),
        addrs("Bcc"),
        text("In-Reply-To"),
        text("Message-ID"),
    ]
    return b"(" + b" ".join(fields) + b")"


def _leaf_body(part: Message) -> bytes:
    payload = part.get_payload(decode=False)
    if isinstance(payload, str):
        return to_crlf(payload.encode("utf-8", "surrogateescape"))
    return split_message(serialize(part))[1]


def body_structure(part: Message) -> bytes:
    """BODY / BODYSTRUCTURE (RFC 3501 §7.4.2, without extension data) of a parsed message
    or part; sizes are CRLF octets of the encoded body, TEXT parts also count lines."""
    ctype = part.get_content_type()
    if part.is_multipart() and ctype != "message/rfc822":
        inner = (
            b"".join(body_structure(p) for p in subparts(part))
            or b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)'
        )
        return b"(" + inner + b" " + istring(part.get_content_subtype().upper()) + b")"
    maintype, _, subtype = ctype.upper().partition("/")
    params = [(k, v) for k, v in (part.get_params() or [])[1:] if isinstance(v, str)]
    if not params and maintype == "TEXT":
        params = [("charset", "us-ascii")]
    plist = (
        b"(" + b" ".join(istring(k.upper()) + b" " + istring(v) for k, v in params) + b")"
        if params
        else b"NIL"
    )
    body = _leaf_body(part)
    cte = part.get("Content-Transfer-Encoding")
    out = [
        istring(maintype),
        istring(subtype),
        plist,
        istring(None if part.get("Content-ID") is None else unfold(part["Content-ID"])),
        istring(
            None if part.get("Content-Description") is None else unfold(part["Content-Description"])
        ),
        istring(unfold(cte).strip().upper() if cte else "7BIT"),
        str(len(body)).encode(),
    ]
    lines = str(body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)).encode()
    if ctype == "message/rfc822":
        embedded = next(iter(subparts(part)), Message())
        out += [envelope(embedded), body_structure(embedded), lines]
    elif maintype == "TEXT":
        out.append(lines)
    return b"(" + b" ".join(out) + b")"


def decode_text(value: str) -> str:
    """A header value with RFC 2047 encoded words decoded (as well as possible)."""
    try:
        return str(make_header(decode_header(unfold(value))))
    except (ValueError, LookupError, UnicodeError):
        return unfold(value)


# --- FETCH data items (RFC 3501 §7.4.2) ---------------------------------------------------


def render_att(att: FetchAtt, row: Row, data: bytes) -> bytes:
    """One `NAME value` pair of a FETCH response (everything but ENVELOPE/BODYSTRUCTURE).

    `data` is the CRLF message; RFC822.SIZE is its length in octets; a partial BODY[]<s.n>
    is octets s to s+n of the section, echoed as `BODY[section]<s>` (RFC 3501 §7.4.2).
    """
    name = att.name
    if name == "FLAGS":
        return b"FLAGS " + format_flags(row.flags).encode()
    if name == "UID":
        return b"UID %d" % row.key.uid
    if name == "INTERNALDATE":
        return b'INTERNALDATE "%s"' % format_internal_date(row.arrival).encode()
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % len(data)
    if name == "RFC822":
        return b"RFC822 " + literal(data)
    if name == "RFC822.HEADER":
        return b"RFC822.HEADER " + literal(split_message(data)[0])
    if name == "RFC822.TEXT":
        return b"RFC822.TEXT " + literal(split_message(data)[1])
    assert att.section is not None
    content = section_bytes(data, att)
    label = b"BODY[" + att.section.label().encode() + b"]"
    if att.partial is not None:
        start, length = att.partial
        content = content[start:] if length is None else content[start : start + length]
        label += b"<%d>" % start
    return label + b" " + literal(content)


def fetch_items(row: Row, atts: list[FetchAtt], data: bytes) -> bytes:
    """The parenthesised data of one `* n FETCH (...)` response, without the parentheses.

    `data` is the CRLF message (empty when no attribute needs it); items come in the order
    asked for.
    """
    parsed: Message | None = None
    out: list[bytes] = []
    for att in atts:
        if att.name in ("ENVELOPE", "BODY", "BODYSTRUCTURE") and att.section is None:
            if parsed is None:
                parsed = message_from_bytes(data)
            value = envelope(parsed) if att.name == "ENVELOPE" else body_structure(parsed)
            out.append(att.name.encode() + b" " + value)
        else:
            out.append(render_att(att, row, data))
    return b" ".join(out)
