"""SEARCH (RFC 3501 §6.4.4): the search keys, parsed into a program and evaluated per message.

`parse_search` turns the arguments of SEARCH / UID SEARCH into a `SearchKey` tree (the keys
ANDed); `matches` tells whether one message, seen through a `MessageView`, satisfies it.
String keys match case-insensitively as substrings (after RFC 2047 decoding for header
keys). BEFORE, ON and SINCE compare the day of the internal date in UTC, SENTBEFORE, SENTON
and SENTSINCE the day written in the Date header. Keywords, \\Recent and \\Draft are not
stored, so KEYWORD, NEW, RECENT and DRAFT never match (and UNKEYWORD, OLD, UNDRAFT always do).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parsedate_tz

from harness.servers.imap.parse import SeqSet, is_seqset, parse_date, parse_seqset
from harness.servers.imap.render import decode_text, split_message, unfold
from harness.servers.imap.tokens import Atom, Group, ParseError, Token, as_text
from harness.store.records import Flag, Row

__all__ = ["SEARCH_CHARSETS", "MessageView", "SearchKey", "matches", "parse_search"]

SEARCH_CHARSETS = ("US-ASCII", "UTF-8")
"""The CHARSETs SEARCH accepts; any other is answered `NO [BADCHARSET (...)]` (§6.4.4)."""


# --- search keys --------------------------------------------------------------------------


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
    """A cursor over the argument tokens of SEARCH; each key consumes its arguments."""

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


def parse_search(args: list[Token]) -> tuple[str | None, SearchKey]:
    """`[CHARSET name] key...` → (charset or None, the program with its keys ANDed).

    ParseError for an empty search, an unknown key or a key missing its argument.
    """
    charset = None
    if len(args) >= 2 and isinstance(args[0], Atom) and args[0].upper() == "CHARSET":
        charset = as_text(args[1]).upper()
        args = args[2:]
    return charset, _SearchParser(args).program()


# --- evaluation ---------------------------------------------------------------------------


@dataclass(slots=True)
class MessageView:
    """One message as a search sees it: its sequence number, its row and its CRLF octets
    (left empty unless the program `needs_message`); the header is parsed on first use."""

    seq: int
    row: Row
    data: bytes = b""
    _headers: Message | None = None

    def headers(self) -> Message:
        """The parsed header (parsed once)."""
        if self._headers is None:
            self._headers = BytesHeaderParser().parsebytes(split_message(self.data)[0])
        return self._headers

    def header_text(self, name: str) -> str:
        """Every `name` field, RFC 2047-decoded, joined by newlines ("" when absent)."""
        return "\n".join(decode_text(v) for v in self.headers().get_all(name) or ())

    def sent_date(self) -> date | None:
        """The day of the Date header (RFC 5322 §3.3), or None when missing or unparsable."""
        value = self.headers().get("Date")
        parsed = parsedate_tz(unfold(value)) if value else None
        if parsed is None:
            return None
        try:
            return date(parsed[0], parsed[1], parsed[2])
        except ValueError:
            return None


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def matches(key: SearchKey, msg: MessageView, largest_seq: int, largest_uid: int) -> bool:
    """Whether one message satisfies a search program.

    `largest_seq` and `largest_uid` are what `*` stands for in sequence and UID sets.
    """
    op, arg, flags = key.op, key.arg, msg.row.flags
    simple = {
        "ALL": True,
        "ANSWERED": Flag.ANSWERED in flags,
        "UNANSWERED": Flag.ANSWERED not in flags,
        "DELETED": Flag.DELETED in flags,
        "UNDELETED": Flag.DELETED not in flags,
        "FLAGGED": Flag.FLAGGED in flags,
        "UNFLAGGED": Flag.FLAGGED not in flags,
        "SEEN": Flag.SEEN in flags,
        "UNSEEN": Flag.SEEN not in flags,
        "OLD": True,
        "NEW": False,
        "RECENT": False,
        "DRAFT": False,
        "UNDRAFT": True,
        "KEYWORD": False,
        "UNKEYWORD": True,
    }
    if op in simple:
        return simple[op]
    if op == "NOT":
        return not matches(key.subs[0], msg, largest_seq, largest_uid)
    if op == "OR":
        return any(matches(k, msg, largest_seq, largest_uid) for k in key.subs)
    if op == "AND":
        return all(matches(k, msg, largest_seq, largest_uid) for k in key.subs)
    if isinstance(arg, SeqSet):
        if op == "UID":
            return arg.contains(msg.row.key.uid, largest_uid)
        return arg.contains(msg.seq, largest_seq)
    if isinstance(arg, str):
        return _match_text(op, arg, msg)
    if isinstance(arg, tuple):
        name, needle = arg
        values = msg.headers().get_all(name)
        return values is not None and (not needle or _contains(msg.header_text(name), needle))
    if isinstance(arg, int):
        size = len(msg.data)
        return size > arg if op == "LARGER" else size < arg
    if isinstance(arg, date):
        return _match_date(op, arg, msg)
    raise ParseError(f"unsupported search key {op}")


def _match_text(op: str, needle: str, msg: MessageView) -> bool:
    if op in ("FROM", "TO", "CC", "BCC", "SUBJECT"):
        return _contains(msg.header_text(op.title()), needle)
    header, body = split_message(msg.data)
    text = body if op == "BODY" else header + body
    return _contains(text.decode("utf-8", "replace"), needle)


def _match_date(op: str, day: date, msg: MessageView) -> bool:
    if op.startswith("SENT"):
        have = msg.sent_date()
        if have is None:
            return False
        op = op[4:]
    else:
        have = datetime.fromtimestamp(msg.row.arrival, UTC).date()
    if op == "BEFORE":
        return have < day
    if op == "ON":
        return have == day
    return have >= day
