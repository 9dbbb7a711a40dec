"""IMAP4rev1 command syntax: a tokenizer, sequence sets, fetch attributes and search keys.

The parser works on one complete command as it came off the wire (the line, with every
synchronizing literal `{n}` CRLF followed by its n octets inline, without the final CRLF).
Nothing here does I/O; the session in `harness.servers.imap` feeds it and interprets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

__all__ = [
    "Atom",
    "Command",
    "FetchAtt",
    "Group",
    "ParseError",
    "SearchKey",
    "SeqSet",
    "Str",
    "Token",
    "parse_command",
    "parse_date",
    "parse_fetch_atts",
    "parse_search",
    "parse_seqset",
    "tokenize",
]

LITERAL_END = re.compile(rb"\{(\d{1,10})(\+?)\}\r?\n?\Z")
"""A line that ends with a literal announcement (`{n}` or the non-synchronizing `{n+}`)."""

_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}\r?\n")
_ATOM_STOP = b' ()"{\r\n'
_TAG = re.compile(r"[\x21-\x7e]+")
_BAD_TAG_CHARS = set('(){%*"\\+')


class ParseError(ValueError):
    """The command is syntactically wrong (answer with BAD)."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A bare word: an atom, number, flag, sequence set or fetch attribute (brackets included)."""

    value: str

    def upper(self) -> str:
        return self.value.upper()


@dataclass(frozen=True, slots=True)
class Str:
    """A quoted string or a literal."""

    value: bytes

    def text(self) -> str:
        return self.value.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Group:
    """A parenthesised list."""

    items: tuple[Token, ...]


Token = Atom | Str | Group


def as_text(tok: Token) -> str:
    """An astring argument (atom or string) as text."""
    if isinstance(tok, Atom):
        return tok.value
    if isinstance(tok, Str):
        return tok.text()
    raise ParseError("expected a string, not a list")


# --- tokenizer ---------------------------------------------------------------------------


class _Lexer:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def skip_space(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] == 0x20:
            self.pos += 1

    def tokens(self, closing: bool = False) -> list[Token]:
        out: list[Token] = []
        while True:
            self.skip_space()
            if self.at_end():
                if closing:
                    raise ParseError("unbalanced parenthesis")
                return out
            c = self.data[self.pos : self.pos + 1]
            if c == b")":
                if not closing:
                    raise ParseError("unbalanced parenthesis")
                self.pos += 1
                return out
            out.append(self.token())

    def token(self) -> Token:
        c = self.data[self.pos : self.pos + 1]
        if c == b"(":
            self.pos += 1
            return Group(tuple(self.tokens(closing=True)))
        if c == b'"':
            return self.quoted()
        if c == b"{":
            return self.literal()
        return self.atom()

    def quoted(self) -> Str:
        self.pos += 1
        out = bytearray()
        data = self.data
        while self.pos < len(data):
            ch = data[self.pos]
            if ch == 0x22:
                self.pos += 1
                return Str(bytes(out))
            if ch in (0x0D, 0x0A):
                raise ParseError("newline in quoted string")
            if ch == 0x5C:
                self.pos += 1
                if self.pos >= len(data) or data[self.pos] not in (0x22, 0x5C):
                    raise ParseError("bad escape in quoted string")
                ch = data[self.pos]
            out.append(ch)
            self.pos += 1
        raise ParseError("unterminated quoted string")

    def literal(self) -> Str:
        m = _LITERAL.match(self.data, self.pos)
        if m is None:
            raise ParseError("bad literal")
        n = int(m.group(1))
        start = m.end()
        if start + n > len(self.data):
            raise ParseError("short literal")
        self.pos = start + n
        return Str(self.data[start : self.pos])

    def atom(self) -> Atom:
        """An atom; `[...]` sections (with spaces and parens inside) and `<...>` are kept whole."""
        data = self.data
        start = self.pos
        depth = 0
        while self.pos < len(data):
            ch = data[self.pos : self.pos + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth = max(0, depth - 1)
            elif (depth == 0 and ch in _ATOM_STOP) or (depth and ch in b"\r\n{"):
                break
            elif ch[0] < 0x20 or ch[0] == 0x7F:
                raise ParseError("control character in atom")
            self.pos += 1
        if self.pos == start or depth:
            raise ParseError("bad atom")
        return Atom(data[start : self.pos].decode("ascii", "replace"))


def tokenize(data: bytes) -> list[Token]:
    """All tokens of an argument string (literals inline as `{n}` CRLF octets)."""
    return _Lexer(data).tokens()


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed command: its tag, upper-cased name (`UID FETCH` for UID commands), args."""

    tag: str
    name: str
    args: list[Token] = field(default_factory=list)


def split_tag(data: bytes) -> tuple[str, bytes]:
    """The tag of a raw command and the rest; ParseError when there is no usable tag."""
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
    """Parse `tag SP command [SP args]`; ParseError names the problem."""
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
    """A sequence set; None stands for `*` (the largest number in use)."""

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
    """`1`, `2:4`, `*`, `5:*`, `1,3:5,9`; zero is not a valid number."""
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
    try:
        parse_seqset(text)
    except ParseError:
        return False
    return True


# --- fetch attributes --------------------------------------------------------------------

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
    """A body section: part path (empty for the whole message), specifier, header fields."""

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
    """One fetch attribute: a simple name, or a body section with optional partial range."""

    name: str
    section: Section | None = None
    peek: bool = False
    partial: tuple[int, int | None] | None = None

    def sets_seen(self) -> bool:
        return (self.section is not None and not self.peek) or self.name in (
            "RFC822",
            "RFC822.TEXT",
        )

    def needs_message(self) -> bool:
        return self.name not in ("FLAGS", "UID", "INTERNALDATE")


def parse_section(text: str) -> Section:
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
    """A macro, a single attribute, or a parenthesised list of attributes."""
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


# --- search keys -------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_date(text: str) -> date:
    """An IMAP date: `1-Feb-2026` or `01-Feb-2026`."""
    m = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})", text)
    if m is None or m.group(2).lower() not in _MONTHS:
        raise ParseError(f"bad date {text!r}")
    try:
        return date(int(m.group(3)), _MONTHS.index(m.group(2).lower()) + 1, int(m.group(1)))
    except ValueError as e:
        raise ParseError(f"bad date {text!r}") from e


@dataclass(frozen=True, slots=True)
class SearchKey:
    """One node of a search program.

    `op` is an upper-case key name (`SEEN`, `SUBJECT`, `UID`, `SEQ`, `NOT`, `OR`, `AND`, ...);
    `arg` its string/number/date/sequence-set argument; `subs` the operands of NOT/OR/AND.
    """

    op: str
    arg: str | int | date | SeqSet | tuple[str, str] | None = None
    subs: tuple[SearchKey, ...] = ()

    def needs_message(self) -> bool:
        """Whether evaluating this key reads the message text (headers or body)."""
        if self.op in _CONTENT_KEYS:
            return True
        return any(s.needs_message() for s in self.subs)


_FLAG_KEYS = frozenset(
    {
        "ALL",
        "ANSWERED",
        "DELETED",
        "DRAFT",
        "FLAGGED",
        "NEW",
        "OLD",
        "RECENT",
        "SEEN",
        "UNANSWERED",
        "UNDELETED",
        "UNDRAFT",
        "UNFLAGGED",
        "UNSEEN",
    }
)
_STRING_KEYS = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
_DATE_KEYS = frozenset({"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"})
_CONTENT_KEYS = _STRING_KEYS | {"HEADER", "LARGER", "SMALLER", "SENTBEFORE", "SENTON", "SENTSINCE"}
_NUMBER_KEYS = frozenset({"LARGER", "SMALLER"})


class _SearchParser:
    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.pos = 0

    def next(self) -> Token:
        if self.pos >= len(self.toks):
            raise ParseError("search key missing an argument")
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def string(self) -> str:
        return as_text(self.next())

    def key(self) -> SearchKey:
        tok = self.next()
        if isinstance(tok, Group):
            sub = _SearchParser(list(tok.items))
            return sub.program()
        if not isinstance(tok, Atom):
            raise ParseError("search key must be an atom")
        op = tok.upper()
        if op in _FLAG_KEYS:
            return SearchKey(op)
        if op in _STRING_KEYS:
            return SearchKey(op, self.string())
        if op == "HEADER":
            return SearchKey(op, (self.string(), self.string()))
        if op in ("KEYWORD", "UNKEYWORD"):
            return SearchKey(op, self.string())
        if op in _DATE_KEYS:
            return SearchKey(op, parse_date(self.string()))
        if op in _NUMBER_KEYS:
            arg = self.string()
            if not arg.isdigit():
                raise ParseError(f"{op} needs a number")
            return SearchKey(op, int(arg))
        if op == "UID":
            return SearchKey(op, parse_seqset(self.string()))
        if op == "NOT":
            return SearchKey(op, subs=(self.key(),))
        if op == "OR":
            return SearchKey(op, subs=(self.key(), self.key()))
        if is_seqset(tok.value):
            return SearchKey("SEQ", parse_seqset(tok.value))
        raise ParseError(f"unknown search key {tok.value!r}")

    def program(self) -> SearchKey:
        keys: list[SearchKey] = []
        while self.pos < len(self.toks):
            keys.append(self.key())
        if not keys:
            raise ParseError("empty search")
        return keys[0] if len(keys) == 1 else SearchKey("AND", subs=tuple(keys))


SEARCH_CHARSETS = ("US-ASCII", "UTF-8")


def parse_search(args: list[Token]) -> tuple[str | None, SearchKey]:
    """`[CHARSET name] key...` → (charset or None, the program with its keys ANDed)."""
    charset = None
    if len(args) >= 2 and isinstance(args[0], Atom) and args[0].upper() == "CHARSET":
        charset = as_text(args[1]).upper()
        args = args[2:]
    return charset, _SearchParser(args).program()


def format_internal_date(epoch: int) -> str:
    """`01-Jun-2026 00:00:00 +0000` for a Unix time (UTC)."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return f"{dt.day:02d}-{_MONTHS[dt.month - 1].title()}-{dt.year:04d} {dt:%H:%M:%S} +0000"
