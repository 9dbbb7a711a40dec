"""IMAP4rev1 tokens (RFC 3501 §4 data formats): atoms, strings and parenthesised lists.

`tokenize` turns the arguments of one command (literals inline, as `{n}` CRLF and n octets)
into `Atom`, `Str` and `Group` values; `harness.servers.imap.parse` gives them meaning.
Every syntax error is a `ParseError`, which the session answers with a tagged BAD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "LITERAL_END",
    "Atom",
    "Group",
    "ParseError",
    "Str",
    "Token",
    "as_text",
    "tokenize",
]

LITERAL_END = re.compile(rb"\{(\d{1,10})(\+?)\}\r?\n?\Z")
"""A line that ends with a literal announcement: `{n}` (RFC 3501 §4.3) or the
non-synchronizing `{n+}` (RFC 7888); group 1 is n in octets, group 2 `+` or empty."""

_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}\r?\n")
_ATOM_STOP = b' ()"{\r\n'


class ParseError(ValueError):
    """The command is syntactically wrong (answer with BAD)."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A bare word: an atom, number, flag, sequence set or fetch attribute (brackets included)."""

    value: str

    def upper(self) -> str:
        """The atom upper-cased (command names and keys are case-insensitive, §9)."""
        return self.value.upper()


@dataclass(frozen=True, slots=True)
class Str:
    """A quoted string or a literal (RFC 3501 §4.3), as octets."""

    value: bytes

    def text(self) -> str:
        """The octets as text: UTF-8, undecodable octets kept as surrogate escapes."""
        return self.value.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Group:
    """A parenthesised list (RFC 3501 §4.4) of tokens."""

    items: tuple[Token, ...]


Token = Atom | Str | Group


def as_text(tok: Token) -> str:
    """An astring argument (atom or string, RFC 3501 §9) as text; ParseError for a list."""
    if isinstance(tok, Atom):
        return tok.value
    if isinstance(tok, Str):
        return tok.text()
    raise ParseError("expected a string, not a list")


class _Lexer:
    """A cursor over the argument octets of one command."""

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
    """All tokens of an argument string (literals inline as `{n}` CRLF octets).

    ParseError for an unbalanced parenthesis, a bad quoted string, a short literal or a
    control character in an atom.
    """
    return _Lexer(data).tokens()
