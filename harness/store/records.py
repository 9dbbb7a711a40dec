"""The records the stores keep, with their on-disk encodings.

Keys are bytes chosen so that B-tree order is the natural order (rows of a folder by uid);
values are compact JSON so `db_dump -p` stays readable for an operator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

SEP = "\x00"
FOLDERS = ("INBOX", "Sent", "Drafts", "Archive", "Trash")
"""The folders every mailbox is created with."""


class Flag(StrEnum):
    """IMAP system flags a message row carries, by their one-letter store code."""

    SEEN = "S"
    ANSWERED = "A"
    FLAGGED = "F"
    DELETED = "D"


def flags_code(flags: frozenset[Flag]) -> str:
    """The canonical store code of a flag set ('' or letters in a fixed order)."""
    return "".join(f.value for f in Flag if f in flags)


def parse_flags(code: str) -> frozenset[Flag]:
    return frozenset(Flag(c) for c in code)


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class MsgRecord:
    """db/msgid: one message file of the single-instance store and how many rows use it."""

    msgid: str
    path: str
    size: int
    digest: str
    refcount: int
    created: int
    header_id: str = ""

    def encode(self) -> bytes:
        return _dumps(
            {
                "p": self.path,
                "s": self.size,
                "d": self.digest,
                "r": self.refcount,
                "t": self.created,
                "h": self.header_id,
            }
        )

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> Self:
        v = json.loads(value)
        return cls(key.decode(), v["p"], v["s"], v["d"], v["r"], v["t"], v.get("h", ""))


@dataclass(frozen=True, slots=True)
class RowKey:
    """The address of one message in one folder of one mailbox."""

    mailbox: str
    folder: str
    uid: int

    def encode(self) -> bytes:
        return f"{self.mailbox}{SEP}{self.folder}{SEP}{self.uid:010d}".encode()

    @classmethod
    def decode(cls, key: bytes) -> Self:
        mailbox, folder, uid = key.decode().split(SEP)
        return cls(mailbox, folder, int(uid))

    def __str__(self) -> str:
        return f"{self.mailbox}/{self.folder}/{self.uid}"


def folder_prefix(mailbox: str, folder: str | None = None) -> bytes:
    """Key prefix of all rows (or folders) of a mailbox, or of one folder."""
    if folder is None:
        return f"{mailbox}{SEP}".encode()
    return f"{mailbox}{SEP}{folder}{SEP}".encode()


@dataclass(frozen=True, slots=True)
class Row:
    """db/mbox rows.db: a message in a folder: which message file, flags, arrival time, size."""

    key: RowKey
    msgid: str
    flags: frozenset[Flag]
    arrival: int
    size: int

    def encode(self) -> bytes:
        return _dumps(
            {"m": self.msgid, "f": flags_code(self.flags), "t": self.arrival, "s": self.size}
        )

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> Self:
        v = json.loads(value)
        return cls(RowKey.decode(key), v["m"], parse_flags(v["f"]), v["t"], v["s"])


@dataclass(frozen=True, slots=True)
class FolderMeta:
    """db/mbox folders.db: a folder's uid state and its cached counts."""

    mailbox: str
    folder: str
    uidvalidity: int
    uidnext: int
    count: int = 0
    size: int = 0
    unseen: int = 0

    def key(self) -> bytes:
        return f"{self.mailbox}{SEP}{self.folder}".encode()

    def encode(self) -> bytes:
        return _dumps(
            {
                "v": self.uidvalidity,
                "n": self.uidnext,
                "c": self.count,
                "b": self.size,
                "u": self.unseen,
            }
        )

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> Self:
        mailbox, folder = key.decode().split(SEP)
        v = json.loads(value)
        return cls(mailbox, folder, v["v"], v["n"], v["c"], v["b"], v["u"])


@dataclass(frozen=True, slots=True)
class MailboxMeta:
    """db/mbox mailboxes.db: a mailbox and the directory entry that owns it."""

    mailbox: str
    owner: str
    created: int

    def encode(self) -> bytes:
        return _dumps({"o": self.owner, "t": self.created})

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> Self:
        v = json.loads(value)
        return cls(key.decode(), v["o"], v["t"])


class MailboxStatus(StrEnum):
    """InterMail mailbox status of an account."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    LOCKED = "locked"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class Account:
    """db/entry: one directory entry, the authoritative account record."""

    entry_id: str
    address: str
    login: str
    password_hash: str
    mailbox: str
    status: MailboxStatus
    mss_host: str
    name: str = ""
    aliases: tuple[str, ...] = ()
    quota_messages: int = 0
    quota_bytes: int = 0
    cos: str = "default"
    created: int = 0
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def index_keys(self) -> tuple[str, ...]:
        """The db/index keys that must point at this entry."""
        return (
            address_key(self.address),
            *(address_key(a) for a in self.aliases),
            login_key(self.login),
        )

    def encode(self) -> bytes:
        return _dumps(
            {
                "address": self.address,
                "login": self.login,
                "password": self.password_hash,
                "mailboxid": self.mailbox,
                "status": self.status.value,
                "mss": self.mss_host,
                "name": self.name,
                "aliases": list(self.aliases),
                "quota": {"messages": self.quota_messages, "bytes": self.quota_bytes},
                "cos": self.cos,
                "created": self.created,
                "extra": self.extra,
            }
        )

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> Self:
        v = json.loads(value)
        return cls(
            key.decode(),
            v["address"],
            v["login"],
            v["password"],
            v["mailboxid"],
            MailboxStatus(v["status"]),
            v["mss"],
            v.get("name", ""),
            tuple(v.get("aliases", ())),
            v.get("quota", {}).get("messages", 0),
            v.get("quota", {}).get("bytes", 0),
            v.get("cos", "default"),
            v.get("created", 0),
            dict(v.get("extra", {})),
        )


def address_key(address: str) -> str:
    return "addr:" + address.lower()


def login_key(login: str) -> str:
    return "login:" + login.lower()
