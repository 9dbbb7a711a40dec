"""Lossless, atomic reading and writing of InterMail `config.db`.

Each entry is `/<host|*>/<program>/<key>: [<value>]`. The value runs from the `[` to a
closing `]` that ends a line: if the text after `[` does not end with `]`, the value continues
on the following lines (newlines included) up to the first line that ends with `]`. A line
ends at `\\n` (or `\\r\\n`); nothing, not even a space, may follow the closing `]`. Lines that
are blank or whose first non-blank character is `#` are kept verbatim; anything else is a
syntax error, as is a repeated (host, program, key).

Limitation: a value with a line other than its last ending in `]` cannot be written, since
that `]` would close it early; `ConfigDB.set` refuses such values.

`ConfigDB.parse(text).render() == text` for every valid `text`; files are read and written
as UTF-8 with `surrogateescape`, so `load` then `save` is byte-for-byte lossless.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigSyntaxError, FiredrillError, NotAnInstallation

__all__ = ["ConfigDB", "ConfigKey", "load", "save"]

_HOST = r"\*|[A-Za-z0-9_.-]+"
_NAME = r"[A-Za-z0-9_.-]+"
_KEY_RE = re.compile(rf"/(?P<host>{_HOST})/(?P<program>{_NAME})/(?P<key>{_NAME})")
_ENTRY_RE = re.compile(rf"{_KEY_RE.pattern}:[ \t]*\[")
_HOST_RE = re.compile(_HOST)
_NAME_RE = re.compile(_NAME)

_EXPECTED = "expected '/<host|*>/<program>/<key>: [<value>]'"
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One entry's address: host name or `*`, program (`common`, `mss`, ...) and key."""

    host: str
    program: str
    key: str

    def __post_init__(self) -> None:
        if not (
            _HOST_RE.fullmatch(self.host)
            and _NAME_RE.fullmatch(self.program)
            and _NAME_RE.fullmatch(self.key)
        ):
            raise FiredrillError(
                f"invalid config key {self.host!r}/{self.program!r}/{self.key!r}: "
                "host must be '*' or a name, program and key names of letters, digits, '_-.'"
            )

    def __str__(self) -> str:
        return f"/{self.host}/{self.program}/{self.key}"

    @classmethod
    def parse(cls, text: str) -> ConfigKey:
        """Parse `/host/program/key`; raise FiredrillError if malformed."""
        match = _KEY_RE.fullmatch(text)
        if match is None:
            raise FiredrillError(
                f"invalid config key {text!r}: expected '/<host|*>/<program>/<key>'"
            )
        return cls(match["host"], match["program"], match["key"])


@dataclass(slots=True)
class _Entry:
    key: ConfigKey
    value: str
    raw: str  # the entry's exact text, including its final line terminator (if any)


_Line = _Entry | str  # a str is a comment or blank line, verbatim with its terminator


def _split_lines(text: str) -> list[str]:
    """Split on `\\n` only, keeping terminators (unlike str.splitlines)."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


def _content(line: str) -> str:
    """A line without its `\\n` or `\\r\\n` terminator."""
    if line.endswith("\r\n"):
        return line[:-2]
    return line.removesuffix("\n")


def _terminator(raw: str) -> str:
    return raw[len(_content(raw)) :]


def _check_value(key: ConfigKey, value: str) -> None:
    if not isinstance(value, str):
        raise FiredrillError(f"value for {key} must be a str, not {type(value).__name__}")
    for line in value.split("\n")[:-1]:
        if line.removesuffix("\r").endswith("]"):
            raise FiredrillError(
                f"value for {key} cannot be stored: a line other than the last ends with ']' "
                "(config.db would end the value there)"
            )


class ConfigDB:
    """The lines of one config.db, in order: entries plus verbatim comment and blank lines."""

    def __init__(self, path: str = "config.db") -> None:
        self.path = path
        self._lines: list[_Line] = []
        self._index: dict[ConfigKey, _Entry] = {}
        self._newline = "\n"

    @classmethod
    def parse(cls, text: str, path: str = "config.db") -> ConfigDB:
        """Parse `text`; raise ConfigSyntaxError naming `path` and the 1-based line."""
        db = cls(path)
        lines = _split_lines(text)
        first_lines: dict[ConfigKey, int] = {}
        for line in lines:
            if line.endswith("\n"):
                db._newline = _terminator(line)
                break
        i = 0
        while i < len(lines):
            start = i
            line = lines[i]
            i += 1
            stripped = _content(line).lstrip(" \t")
            if not stripped.strip() or stripped.startswith("#"):
                db._lines.append(line)
                continue
            match = _ENTRY_RE.match(line)
            if match is None:
                raise ConfigSyntaxError(path, start + 1, _EXPECTED)
            current = line
            while not _content(current).endswith("]"):
                if i >= len(lines):
                    raise ConfigSyntaxError(path, start + 1, "unterminated value (no closing ']')")
                current = lines[i]
                i += 1
            raw = "".join(lines[start:i])
            key = ConfigKey(match["host"], match["program"], match["key"])
            if key in first_lines:
                raise ConfigSyntaxError(
                    path, start + 1, f"duplicate key {key} (first at line {first_lines[key]})"
                )
            first_lines[key] = start + 1
            value = raw[match.end() : len(_content(raw)) - 1]
            entry = _Entry(key, value, raw)
            db._lines.append(entry)
            db._index[key] = entry
        return db

    def render(self) -> str:
        """The file text: unchanged lines exactly as parsed."""
        return "".join(line.raw if isinstance(line, _Entry) else line for line in self._lines)

    def get(self, key: ConfigKey) -> str | None:
        """The value of exactly `key`, or None."""
        entry = self._index.get(key)
        return None if entry is None else entry.value

    def set(self, key: ConfigKey, value: str) -> None:
        """Set `key` in place (rewriting only its entry), or append it at the end."""
        _check_value(key, value)
        text = f"{key}: [{value}]"
        entry = self._index.get(key)
        if entry is not None:
            entry.value = value
            entry.raw = text + _terminator(entry.raw)
            return
        if self._lines:
            last = self._lines[-1]
            last_raw = last.raw if isinstance(last, _Entry) else last
            if not last_raw.endswith("\n"):
                if isinstance(last, _Entry):
                    last.raw += self._newline
                else:
                    self._lines[-1] = last + self._newline
        entry = _Entry(key, value, text + self._newline)
        self._lines.append(entry)
        self._index[key] = entry

    def delete(self, key: ConfigKey) -> bool:
        """Remove `key`'s entry; False if it was absent."""
        entry = self._index.pop(key, None)
        if entry is None:
            return False
        self._lines = [line for line in self._lines if line is not entry]
        return True

    def entries(self) -> Iterator[tuple[ConfigKey, str]]:
        """(key, value) pairs in file order."""
        for line in self._lines:
            if isinstance(line, _Entry):
                yield line.key, line.value

    def lookup(self, host: str, program: str, key: str) -> str | None:
        """Resolve like InterMail: host+program, `*`+program, host+common, `*`+common."""
        for h, p in ((host, program), ("*", program), (host, "common"), ("*", "common")):
            entry = self._index.get(ConfigKey(h, p, key))
            if entry is not None:
                return entry.value
        return None

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"ConfigDB(path={self.path!r}, entries={len(self)})"


def load(path: Path) -> ConfigDB:
    """Read and parse `path`; NotAnInstallation if it does not exist."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise NotAnInstallation(f"config.db not found: {path}") from None
    return ConfigDB.parse(data.decode(_ENCODING, _ERRORS), path=str(path))


def save(config: ConfigDB, path: Path) -> None:
    """Write `config` to `path` atomically: temp file in the same directory, fsync, rename,
    fsync the directory. Keeps an existing file's permission bits (new files get 0644)."""
    data = config.render().encode(_ENCODING, _ERRORS)
    directory = path.parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
