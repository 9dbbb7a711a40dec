"""An in-memory `MailBackend` for front-end (POP3/IMAP) tests.

It keeps accounts, folders, rows and message bytes in dicts and follows the semantics of
the real store: `set_flags` replaces one row's flags, `expunge` removes only the given uids
whose row carries `Flag.DELETED`, and folder counts (count/size/unseen) stay right.
Set `down = True` to make every call raise `BackendUnavailable`, or put method names in
`fail_on` to make only those calls fail. Every call is logged in `calls`.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from harness.servers.backend import BackendUnavailable
from harness.store.records import (
    FOLDERS,
    Account,
    Flag,
    FolderMeta,
    MailboxStatus,
    Row,
    RowKey,
)


class FakeBackend:
    """In-memory accounts, folders, rows and messages implementing `MailBackend`."""

    def __init__(self) -> None:
        self.accounts: dict[str, tuple[str, Account]] = {}
        """login -> (clear-text password, account)."""
        self.folder_meta: dict[tuple[str, str], FolderMeta] = {}
        """(mailbox, folder) -> folder metadata."""
        self.folder_rows: dict[tuple[str, str], dict[int, Row]] = {}
        """(mailbox, folder) -> {uid: row}, kept in uid order."""
        self.messages: dict[str, bytes] = {}
        """msgid -> raw message (LF line endings)."""
        self.down = False
        self.fail_on: set[str] = set()
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self._msgids = itertools.count(1)
        self._arrival = itertools.count(1_700_000_000)

    # -- set-up helpers (synchronous, for tests) --------------------------------------------

    def add_account(
        self,
        login: str,
        password: str,
        *,
        mailbox: str | None = None,
        status: MailboxStatus = MailboxStatus.ACTIVE,
        folders: tuple[str, ...] = FOLDERS,
        uidvalidity: int = 1,
    ) -> Account:
        """Create an account and its (empty) folders."""
        mailbox = mailbox or f"mbox-{login}"
        account = Account(
            entry_id=f"entry-{login}",
            address=f"{login}@example.com",
            login=login,
            password_hash="{PLAIN}" + password,
            mailbox=mailbox,
            status=status,
            mss_host="mss1",
        )
        self.accounts[login] = (password, account)
        for folder in folders:
            self.add_folder(mailbox, folder, uidvalidity=uidvalidity)
        return account

    def add_folder(self, mailbox: str, folder: str, *, uidvalidity: int = 1) -> FolderMeta:
        """Create an empty folder (no-op if it exists)."""
        key = (mailbox, folder)
        if key not in self.folder_meta:
            self.folder_meta[key] = FolderMeta(mailbox, folder, uidvalidity, 1)
            self.folder_rows[key] = {}
        return self.folder_meta[key]

    def deliver(
        self,
        mailbox: str,
        data: bytes,
        *,
        folder: str = "INBOX",
        flags: frozenset[Flag] = frozenset(),
        msgid: str | None = None,
    ) -> Row:
        """Append a message to a folder (reusing `msgid`'s bytes if given and known)."""
        meta = self.add_folder(mailbox, folder)
        if msgid is None:
            msgid = f"{next(self._msgids):016x}"
        self.messages.setdefault(msgid, data)
        size = len(self.messages[msgid])
        row = Row(RowKey(mailbox, folder, meta.uidnext), msgid, flags, next(self._arrival), size)
        self.folder_rows[(mailbox, folder)][row.key.uid] = row
        self.folder_meta[(mailbox, folder)] = replace(
            meta,
            uidnext=meta.uidnext + 1,
            count=meta.count + 1,
            size=meta.size + size,
            unseen=meta.unseen + (Flag.SEEN not in flags),
        )
        return row

    def rows_now(self, mailbox: str, folder: str = "INBOX") -> list[Row]:
        """The rows of a folder in uid order, without logging or failing."""
        return [r for _, r in sorted(self.folder_rows.get((mailbox, folder), {}).items())]

    # -- MailBackend -------------------------------------------------------------------------

    def _enter(self, method: str, *args: object) -> None:
        self.calls.append((method, args))
        if self.down or method in self.fail_on:
            raise BackendUnavailable(f"fake backend: {method} unavailable")

    def _folder(self, mailbox: str, folder: str) -> dict[int, Row]:
        try:
            return self.folder_rows[(mailbox, folder)]
        except KeyError:
            raise KeyError(f"no folder {mailbox}/{folder}") from None

    async def authenticate(self, login: str, password: str) -> Account | None:
        self._enter("authenticate", login)
        entry = self.accounts.get(login)
        if entry is None or entry[0] != password:
            return None
        return entry[1]

    async def folders(self, mailbox: str) -> list[FolderMeta]:
        self._enter("folders", mailbox)
        return [m for (mb, _), m in self.folder_meta.items() if mb == mailbox]

    async def rows(self, mailbox: str, folder: str) -> list[Row]:
        self._enter("rows", mailbox, folder)
        self._folder(mailbox, folder)
        return self.rows_now(mailbox, folder)

    async def fetch(self, msgid: str) -> bytes:
        self._enter("fetch", msgid)
        try:
            return self.messages[msgid]
        except KeyError:
            raise KeyError(f"no message {msgid}") from None

    async def set_flags(self, mailbox: str, folder: str, uid: int, flags: frozenset[Flag]) -> Row:
        self._enter("set_flags", mailbox, folder, uid, flags)
        rows = self._folder(mailbox, folder)
        if uid not in rows:
            raise KeyError(f"no message {mailbox}/{folder}/{uid}")
        old = rows[uid]
        new = replace(old, flags=frozenset(flags))
        rows[uid] = new
        meta = self.folder_meta[(mailbox, folder)]
        delta = (Flag.SEEN not in new.flags) - (Flag.SEEN not in old.flags)
        self.folder_meta[(mailbox, folder)] = replace(meta, unseen=meta.unseen + delta)
        return new

    async def change_flags(
        self,
        mailbox: str,
        folder: str,
        uid: int,
        add: frozenset[Flag] = frozenset(),
        remove: frozenset[Flag] = frozenset(),
    ) -> Row:
        rows = self._folder(mailbox, folder)
        if uid not in rows:
            raise KeyError(f"no message {mailbox}/{folder}/{uid}")
        return await self.set_flags(mailbox, folder, uid, (rows[uid].flags | add) - remove)

    async def expunge(self, mailbox: str, folder: str, uids: list[int]) -> list[int]:
        self._enter("expunge", mailbox, folder, tuple(uids))
        rows = self._folder(mailbox, folder)
        removed = [u for u in sorted(set(uids)) if u in rows and Flag.DELETED in rows[u].flags]
        gone = [rows.pop(u) for u in removed]
        meta = self.folder_meta[(mailbox, folder)]
        self.folder_meta[(mailbox, folder)] = replace(
            meta,
            count=meta.count - len(gone),
            size=meta.size - sum(r.size for r in gone),
            unseen=meta.unseen - sum(Flag.SEEN not in r.flags for r in gone),
        )
        return removed
