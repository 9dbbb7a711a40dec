"""The directory (dirserv data): db/entry (authoritative), db/index (derived), db/dircache.

Write ordering: a new account's entry commits before its index keys; a deleted account loses
its index keys before its entry. A crash in between leaves an entry without index keys, which
`reconcile_index` (run by dirserv at start) rebuilds from the entries, never an index key that
points at nothing. The mailbox is created in the message store before the entry and removed
after it, so a crash leaves at worst a mailbox without owner (a leak).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from berkeleydb import db

from harness.errors import AlreadyExists, NotFound
from harness.layout import Layout
from harness.store import bdb
from harness.store.passwords import verify_password
from harness.store.records import Account, address_key, login_key

DIRCACHE_FILE = "dircache.db"


class Directory:
    """Accounts, their address/login index and the disposable lookup cache."""

    def __init__(self, layout: Layout, *, durable: bool = True, as_server: bool = False) -> None:
        self.layout = layout
        self.entry_env = bdb.Environment(
            layout.env("entry"), "entry", durable=durable, as_server=as_server
        )
        try:
            self.index_env = bdb.Environment(
                layout.env("index"), "index", durable=durable, as_server=as_server
            )
        except BaseException:
            self.entry_env.close()
            raise
        self._entries = self.entry_env.db("entry.db")
        self._index = self.index_env.db("index.db")
        self._cache: Any = None

    # -- provisioning ----------------------------------------------------------------------

    def add(self, accounts: Iterable[Account]) -> None:
        """Add accounts: entries in one transaction, then their index keys in another."""
        accounts = list(accounts)
        with self.entry_env.transaction() as txn:
            for account in accounts:
                if self._entries.get(account.entry_id.encode(), txn=txn) is not None:
                    raise AlreadyExists(f"account {account.entry_id} already exists")
                self._entries.put(account.entry_id.encode(), account.encode(), txn=txn)
        self.entry_env.commit_point()
        with self.index_env.transaction() as txn:
            for account in accounts:
                for key in account.index_keys():
                    owner = self._index.get(key.encode(), txn=txn)
                    if owner is not None and owner.decode() != account.entry_id:
                        raise AlreadyExists(f"{key} already belongs to account {owner.decode()}")
                    self._index.put(key.encode(), account.entry_id.encode(), txn=txn)

    def modify(self, account: Account) -> Account:
        """Replace an account's entry; index keys it lost go, new ones come."""
        old = self.get(account.entry_id)
        if old is None:
            raise NotFound(f"no account {account.entry_id}")
        with self.entry_env.transaction() as txn:
            self._entries.put(account.entry_id.encode(), account.encode(), txn=txn)
        with self.index_env.transaction() as txn:
            for key in set(old.index_keys()) - set(account.index_keys()):
                self._index.delete(key.encode(), txn=txn)
            for key in account.index_keys():
                self._index.put(key.encode(), account.entry_id.encode(), txn=txn)
        self._uncache(old)
        return account

    def delete(self, entry_id: str) -> Account:
        """Remove an account: index keys first, then the entry."""
        account = self.get(entry_id)
        if account is None:
            raise NotFound(f"no account {entry_id}")
        with self.index_env.transaction() as txn:
            for key in account.index_keys():
                with contextlib.suppress(db.DBNotFoundError):
                    self._index.delete(key.encode(), txn=txn)
        self.index_env.commit_point()
        with self.entry_env.transaction() as txn:
            self._entries.delete(entry_id.encode(), txn=txn)
        self._uncache(account)
        return account

    def reconcile_index(self) -> int:
        """Add index keys missing for existing entries and drop keys whose entry is gone."""
        changes = 0
        with self.index_env.transaction() as txn:
            for raw, owner in list(bdb.cursor_items(self._index, txn=txn)):
                if self._entries.get(owner) is None:
                    self._index.delete(raw, txn=txn)
                    changes += 1
            for account in self.accounts():
                for key in account.index_keys():
                    if self._index.get(key.encode(), txn=txn) is None:
                        self._index.put(key.encode(), account.entry_id.encode(), txn=txn)
                        changes += 1
        return changes

    # -- lookups ---------------------------------------------------------------------------

    def get(self, entry_id: str) -> Account | None:
        value = self._entries.get(entry_id.encode())
        return None if value is None else Account.decode(entry_id.encode(), value)

    def _via_index(self, key: str) -> Account | None:
        owner = self._index.get(key.encode())
        return None if owner is None else self.get(owner.decode())

    def resolve(self, address: str) -> Account | None:
        """The account an address or alias delivers to (through the cache when it is open)."""
        account = self._via_index(address_key(address))
        if account is not None and self._cache is not None:
            self._cache.put(address.lower().encode(), account.encode())
        return account

    def by_login(self, login: str) -> Account | None:
        return self._via_index(login_key(login))

    def authenticate(self, login: str, password: str) -> Account | None:
        account = self.by_login(login)
        if account is None or not verify_password(password, account.password_hash):
            return None
        return account

    def accounts(self) -> Iterator[Account]:
        for key, value in bdb.cursor_items(self._entries):
            yield Account.decode(key, value)

    def index_items(self) -> Iterator[tuple[str, str]]:
        for key, value in bdb.cursor_items(self._index):
            yield key.decode(), value.decode()

    # -- the cache -------------------------------------------------------------------------

    def open_cache(self) -> None:
        """Open (creating) db/dircache/dircache.db, a plain hash file nobody must back up.

        The cache is disposable: a deleted one is created empty and refilled by lookups, and one
        that cannot be opened (garbage, a torn write) is replaced, so that it never keeps
        dirserv from starting.
        """
        path: Path = self.layout.dircache / DIRCACHE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._cache = _open_hash(path)
        except db.DBError:
            path.unlink(missing_ok=True)
            self._cache = _open_hash(path)

    def _uncache(self, account: Account) -> None:
        if self._cache is None:
            return
        for address in (account.address, *account.aliases):
            with contextlib.suppress(db.DBNotFoundError):
                self._cache.delete(address.lower().encode())

    # -- lifecycle -------------------------------------------------------------------------

    def checkpoint(self) -> None:
        self.entry_env.checkpoint()
        self.index_env.checkpoint()
        if self._cache is not None:
            self._cache.sync()

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self.index_env.close()
        self.entry_env.close()

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.checkpoint()
        self.close()


def _open_hash(path: Path) -> Any:
    cache = db.DB()
    cache.set_get_returns_none(2)
    try:
        cache.open(str(path), dbtype=db.DB_HASH, flags=db.DB_CREATE)
    except db.DBError:
        with contextlib.suppress(db.DBError):
            cache.close()
        raise
    return cache


def read_cache(path: Path) -> Iterator[tuple[str, bytes]]:
    """Stream (address, cached entry bytes) from a dircache file."""
    cache = db.DB()
    cache.set_get_returns_none(2)
    cache.open(str(path), dbtype=db.DB_HASH, flags=db.DB_RDONLY)
    try:
        for key, value in bdb.cursor_items(cache):
            yield key.decode(), value
    finally:
        cache.close()
