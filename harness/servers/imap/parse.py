"""IMAP4rev1 command syntax (RFC 3501 §9): commands, sequence sets, fetch attributes and
dates, on top of the tokens of `harness.servers.imap.tokens`.

The parser works on one complete command as it came off the wire (the line, with every
synchronizing literal `{n}` CRLF followed by its n octets inline, without the final CRLF).
Nothing here does I/O; `harness.servers.imap.session` feeds it and the command handlers
interpret it. Search keys are parsed (and evaluated) in `harness.servers.imap.search`.
Every syntax error is a `ParseError`, which the session answers with a tagged BAD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from harness.servers.imap.tokens import Atom, Group, ParseError, Token, tokenize

__all__ = [
    "Command",
    "FetchAtt",
    "Section",
    "SeqSet",
    "format_internal_date",
    "is_seqset",
    "parse_command",
    "parse_date",
    "parse_fetch_atts",
    "parse_seqset",
    "split_tag",
]

_TAG = re.compile(r"[\x21-\x7e]+")
_BAD_TAG_CHARS = set('(){%*"\\+')


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed command: its tag, upper-cased name (`UID FETCH` for UID commands), args."""

    tag: str
    name: str
    args: list[Token] = field(default_factory=list)


def split_tag(data: bytes) -> tuple[str, bytes]:
    """The tag of a raw command and the rest; ParseError when there is no usable tag.

    A tag is ASTRING-CHARs without `+` (RFC 3501 §9 `tag`).
    """
    if not data.strip():
        raise ParseError("empty command")
    head, sep, rest = data.partition(b" ")
    try:
        tag = head.decode("ascii")
    except UnicodeDecodeError as e:
        raise ParseError("bad tag") from e
    if not _TAG.fullmatch(tag) or _BAD_TAG_CHARS & set(tag):
        raise ParseError("bad tag")
    return tag, rest if sep else b""


def parse_command(data: bytes) -> Command:
    """Parse `tag SP command [SP args]` (RFC 3501 §9); ParseError names the problem.

    `UID FETCH` and the other UID commands (§6.4.8) come back as one two-word name.
    """
    tag, rest = split_tag(data)
    if not rest:
        raise ParseError("missing command")
    toks = tokenize(rest)
    if not toks or not isinstance(toks[0], Atom):
        raise ParseError("missing command")
    name = toks[0].upper()
    args = toks[1:]
    if name == "UID":
        if not args or not isinstance(args[0], Atom):
            raise ParseError("missing UID command")
        name = "UID " + args[0].upper()
        args = args[1:]
    return Command(tag, name, args)


# --- sequence sets -----------------------------------------------------------------------

_SEQ_RANGE = re.compile(r"(\d+|\*)(?::(\d+|\*))?")


@dataclass(frozen=True, slots=True)
class SeqSet:
    """A sequence set (RFC 3501 §9 `sequence-set`): inclusive (low, high) ranges as written;
    None stands for `*`, the largest number in use (§6.4.8 for UIDs)."""

    ranges: tuple[tuple[int | None, int | None], ...]

    def contains(self, n: int, largest: int) -> bool:
        """Whether n is in the set, where `*` means `largest`."""
        for lo, hi in self.ranges:
            a = largest if lo is None else lo
            b = largest if hi is None else hi
            if min(a, b) <= n <= max(a, b):
                return True
        return False

    def within(self, largest: int) -> bool:
        """Whether every number named is between 1 and `largest` (`*` being `largest`)."""
        return all(
            1 <= (largest if n is None else n) <= largest for pair in self.ranges for n in pair
        )

    def select(self, numbers: Iterable[int]) -> list[int]:
        """The members of `numbers` (ascending, largest last) that the set names."""
        nums = list(numbers)
        largest = nums[-1] if nums else 0
        return [n for n in nums if self.contains(n, largest)]


def parse_seqset(text: str) -> SeqSet:
    """`1`, `2:4`, `*`, `5:*`, `1,3:5,9`; zero is not a valid number (§9 `nz-number`).

    ParseError for anything else.
    """
    ranges: list[tuple[int | None, int | None]] = []
    for part in text.split(","):
        m = _SEQ_RANGE.fullmatch(part)
        if m is None:
            raise ParseError(f"bad sequence set {text!r}")
        lo = None if m.group(1) == "*" else int(m.group(1))
        hi_s = m.group(2)
        hi = lo if hi_s is None else (None if hi_s == "*" else int(hi_s))
        if lo == 0 or hi == 0:
            raise ParseError("sequence number zero")
        ranges.append((lo, hi))
    return SeqSet(tuple(ranges))


def is_seqset(text: str) -> bool:
    """Whether `text` parses as a sequence set."""
    try:
        parse_seqset(text)
    except ParseError:
        return False
    return True


# --- fetch attributes (RFC 3501 §6.4.5) --------------------------------------------------

_SIMPLE_ATTS = frozenset(
    {
        "FLAGS",
        "UID",
        "RFC822",
        "RFC822.SIZE",
        "RFC822.HEADER",
        "RFC822.TEXT",
        "INTERNALDATE",
        "ENVELOPE",
        "BODYSTRUCTURE",
        "BODY",
    }
)
_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SECTION_ATT = re.compile(
    r"(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?\Z",
    re.IGNORECASE,
)
_SECTION_TEXT = re.compile(
    r"((?:[1-9]\d*)(?:\.[1-9]\d*)*)?(?:\.?(HEADER|TEXT|MIME|HEADER\.FIELDS(?:\.NOT)?))?"
    r"(?:\s*\(([^)]*)\))?\Z",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Section:
    """A body section (§6.4.5 `BODY[<section>]`): part path (empty for the whole message),
    specifier (`HEADER`, `HEADER.FIELDS`, `HEADER.FIELDS.NOT`, `TEXT`, `MIME` or empty) and
    the upper-cased header field names of HEADER.FIELDS[.NOT]."""

    part: tuple[int, ...] = ()
    spec: str = ""
    fields: tuple[str, ...] = ()

    def label(self) -> str:
        """The section as it is echoed in the response (`HEADER.FIELDS (FROM TO)`)."""
        parts = [".".join(str(p) for p in self.part)] if self.part else []
        if self.spec:
            parts.append(self.spec)
        text = ".".join(parts)
        if self.spec.startswith("HEADER.FIELDS"):
            text += " (" + " ".join(self.fields) + ")"
        return text


@dataclass(frozen=True, slots=True)
class FetchAtt:
    """One fetch attribute: a simple name, or `BODY` with a section, the PEEK flag and an
    optional partial range (start octet, length in octets or None for the rest)."""

    name: str
    section: Section | None = None
    peek: bool = False
    partial: tuple[int, int | None] | None = None

    def sets_seen(self) -> bool:
        """Whether fetching it sets \\Seen: BODY[...] but not BODY.PEEK, RFC822, RFC822.TEXT."""
        return (self.section is not None and not self.peek) or self.name in (
            "RFC822",
            "RFC822.TEXT",
        )

    def needs_message(self) -> bool:
        """Whether rendering it reads the message text (everything but FLAGS, UID, date)."""
        return self.name not in ("FLAGS", "UID", "INTERNALDATE")


def parse_section(text: str) -> Section:
    """The text between `BODY[` and `]`; ParseError for a malformed section."""
    m = _SECTION_TEXT.match(text.strip())
    if m is None:
        raise ParseError(f"bad section {text!r}")
    part_s, spec_s, fields_s = m.groups()
    spec = (spec_s or "").upper()
    part = tuple(int(p) for p in part_s.split(".")) if part_s else ()
    if spec.startswith("HEADER.FIELDS"):
        if fields_s is None:
            raise ParseError("HEADER.FIELDS needs a field list")
        fields = tuple(f.upper() for f in fields_s.replace('"', " ").split())
        if not fields:
            raise ParseError("empty header field list")
        return Section(part, spec, fields)
    if fields_s is not None:
        raise ParseError(f"bad section {text!r}")
    if spec == "MIME" and not part:
        raise ParseError("MIME needs a part number")
    return Section(part, spec)


def parse_fetch_att(text: str) -> FetchAtt:
    """One attribute (`FLAGS`, `BODY.PEEK[1.MIME]<0.100>`); ParseError when unknown."""
    up = text.upper()
    if up in _SIMPLE_ATTS:
        return FetchAtt(up)
    m = _SECTION_ATT.match(text)
    if m is None:
        raise ParseError(f"unknown fetch attribute {text!r}")
    name, section, start, length = m.groups()
    partial = None
    if start is not None:
        if length is not None and int(length) == 0:
            raise ParseError("zero-length partial")
        partial = (int(start), None if length is None else int(length))
    return FetchAtt("BODY", parse_section(section), name.upper() == "BODY.PEEK", partial)


def parse_fetch_atts(tok: Token) -> list[FetchAtt]:
    """A macro (ALL, FAST, FULL), a single attribute, or a parenthesised list of attributes.

    ParseError for an empty list, a non-atom or an unknown attribute.
    """
    if isinstance(tok, Atom) and tok.upper() in _MACROS:
        return [FetchAtt(n) for n in _MACROS[tok.upper()]]
    items: tuple[Token, ...] = tok.items if isinstance(tok, Group) else (tok,)
    if not items:
        raise ParseError("empty fetch attribute list")
    atts: list[FetchAtt] = []
    for item in items:
        if not isinstance(item, Atom):
            raise ParseError("fetch attributes must be atoms")
        atts.append(parse_fetch_att(item.value))
    return atts


# --- dates (RFC 3501 §9 `date`, `date-time`) -------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_date(text: str) -> date:
    """An IMAP date: `1-Feb-2026` or `01-Feb-2026`; ParseError for anything else."""
    m = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})", text)
    if m is None or m.group(2).lower() not in _MONTHS:
        raise ParseError(f"bad date {text!r}")
    try:
        return date(int(m.group(3)), _MONTHS.index(m.group(2).lower()) + 1, int(m.group(1)))
    except ValueError as e:
        raise ParseError(f"bad date {text!r}") from e


def format_internal_date(epoch: int) -> str:
    """The INTERNALDATE (§2.3.3) `01-Jun-2026 00:00:00 +0000` of a Unix time in seconds (UTC)."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return f"{dt.day:02d}-{_MONTHS[dt.month - 1].title()}-{dt.year:04d} {dt:%H:%M:%S} +0000"
