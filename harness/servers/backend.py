"""What the front-end servers (POP3, IMAP) need from the rest of the system.

The real implementation talks to dirserv and the MSS over their internal protocol; tests use
an in-memory one. Both front ends depend only on this protocol.
"""

from __future__ import annotations

from typing import Protocol

from harness.errors import FiredrillError, NotFound
from harness.store.records import Account, Flag, FolderMeta, Row


class BackendUnavailable(FiredrillError):
    """The directory or the message store cannot be reached (answer with a temporary error)."""


class Vanished(NotFound, LookupError):
    """The message, row or mailbox is gone (another session expunged it, or it was purged).

    A LookupError, like the KeyError of an in-memory backend: front ends catch LookupError.
    """


class MailBackend(Protocol):
    async def authenticate(self, login: str, password: str) -> Account | None:
        """The account for these credentials, or None when they are wrong."""
        ...

    async def folders(self, mailbox: str) -> list[FolderMeta]:
        """Every folder of a mailbox (INBOX first is not guaranteed)."""
        ...

    async def rows(self, mailbox: str, folder: str) -> list[Row]:
        """The messages of one folder in uid order."""
        ...

    async def fetch(self, msgid: str) -> bytes:
        """The raw message (LF line endings as stored); LookupError once it is gone."""
        ...

    async def set_flags(self, mailbox: str, folder: str, uid: int, flags: frozenset[Flag]) -> Row:
        """Replace the flags of one message; returns the updated row; LookupError if gone."""
        ...

    async def change_flags(
        self,
        mailbox: str,
        folder: str,
        uid: int,
        add: frozenset[Flag] = frozenset(),
        remove: frozenset[Flag] = frozenset(),
    ) -> Row:
        """Add then remove flags of one message as the store has it now (not a session's
        copy: what other sessions changed meanwhile is kept); LookupError if gone."""
        ...

    async def expunge(self, mailbox: str, folder: str, uids: list[int]) -> list[int]:
        """Remove these uids (only those flagged deleted are removed); returns removed uids."""
        ...
