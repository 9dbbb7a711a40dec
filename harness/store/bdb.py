"""Berkeley DB transactional environments, opened the way the MSS and the directory open them.

Every environment is opened with recovery (`DB_RECOVER`), so a restart after a crash replays
the `log.NNNNNNNNNN` files; every database has page checksums on; a checkpoint is followed by
the removal of the log files recovery no longer needs, so logs appear and disappear as chapter 13
describes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from berkeleydb import db

from harness import failpoints
from harness.errors import StoreError
from harness.layout import Layout
from harness.locks import lock_held, lock_path

ENV_FLAGS = db.DB_CREATE | db.DB_INIT_TXN | db.DB_INIT_LOCK | db.DB_INIT_LOG | db.DB_INIT_MPOOL
LOG_FILE_MAX = 1024 * 1024
"""Small log files (1 MiB) so that even a tier S installation rotates through several."""
CACHE_BYTES = 32 * 1024 * 1024
MAX_LOCKS = 50_000

DATABASES: dict[str, tuple[str, ...]] = {
    "mbox": ("mailboxes.db", "folders.db", "rows.db"),
    "msgid": ("msgid.db",),
    "entry": ("entry.db",),
    "index": ("index.db",),
}
"""The database files of each environment under db/."""

OWNERS = {"mbox": "mss", "msgid": "mss", "entry": "dirserv", "index": "dirserv"}
"""The server that owns each environment while it runs."""

Txn = Any
"""A berkeleydb DBTxn (the binding ships no type information)."""


class Environment:
    """One open transactional environment and its databases, all B-trees with checksums."""

    def __init__(
        self, home: Path, name: str, *, durable: bool = True, as_server: bool = False
    ) -> None:
        if not as_server:
            refuse_if_served(home.parent.parent, name)
        self.home = home
        self.name = name
        self.durable = durable
        home.mkdir(parents=True, exist_ok=True)
        self._env = db.DBEnv()
        self._env.set_lg_max(LOG_FILE_MAX)
        self._env.set_cachesize(0, CACHE_BYTES, 1)
        self._env.set_lk_max_locks(MAX_LOCKS)  # a big mailbox deleted in one transaction
        self._env.set_lk_max_objects(MAX_LOCKS)
        if not durable:
            # Bulk loading: commits are flushed by commit_point() and checkpoint(). A commit may
            # still reach the disk any time after it was made (the OS writes the log back), so a
            # bulk loader makes what the commit points at durable before it commits (the
            # message store syncs each batch's files first); then a lost commit only leaves
            # files no record points to (a leak, never a loss).
            self._env.set_flags(db.DB_TXN_WRITE_NOSYNC, 1)
        try:
            self._env.open(str(home), ENV_FLAGS | db.DB_RECOVER)
            self._dbs = {name_: self._open_db(name_) for name_ in DATABASES[name]}
        except db.DBError as exc:
            with contextlib.suppress(db.DBError):
                self._env.close()
            raise StoreError(f"cannot open the {name} environment at {home}: {exc}") from exc

    def _open_db(self, filename: str) -> Any:
        handle = db.DB(self._env)
        handle.set_flags(db.DB_CHKSUM)
        handle.set_get_returns_none(2)  # misses and cursor ends give None, not exceptions
        handle.open(filename, dbtype=db.DB_BTREE, flags=db.DB_CREATE | db.DB_AUTO_COMMIT)
        return handle

    def db(self, filename: str) -> Any:
        """The open database `filename` of this environment."""
        return self._dbs[filename]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Txn]:
        """A transaction committed when the block ends, aborted when it raises."""
        txn = self._env.txn_begin()
        try:
            yield txn
        except BaseException:
            txn.abort()
            raise
        txn.commit()

    def commit_point(self) -> None:
        """Make every committed transaction durable before another environment depends on it.

        A no-op for durable environments (each commit is already flushed); bulk loaders call it
        at the boundaries of the cross-environment write ordering.
        """
        if not self.durable:
            self._env.log_flush()

    def checkpoint(self) -> None:
        """Flush, checkpoint and remove the log files recovery no longer needs."""
        self._env.log_flush()
        self._env.txn_checkpoint(0, 0, db.DB_FORCE)
        failpoints.hit("checkpoint.mid")
        self._env.txn_checkpoint(0, 0, db.DB_FORCE)
        failpoints.hit("checkpoint.before-log-removal")
        self._env.log_archive(db.DB_ARCH_REMOVE)

    def log_files(self) -> list[str]:
        """Names of the log files currently in the environment, oldest first."""
        return sorted(p.name for p in self.home.glob("log.*"))

    def close(self) -> None:
        for handle in self._dbs.values():
            handle.close()
        self._dbs = {}
        self._env.close()


def server_running(root: Path, program: str) -> bool:
    """True while `program` holds its lock in the installation at `root`."""
    return lock_held(lock_path(Layout(root), program))


def refuse_if_served(root: Path, env: str) -> None:
    """Opening an environment runs recovery, which must never happen under a live server."""
    owner = OWNERS.get(env)
    if owner and server_running(root, owner):
        raise StoreError(
            f"{owner} is running on {root}: db/{env} belongs to it "
            f"(stop it with imctrl stop {owner}, or read a copy)"
        )


def cursor_items(
    handle: Any, *, prefix: bytes = b"", txn: Txn = None
) -> Iterator[tuple[bytes, bytes]]:
    """Stream (key, value) pairs of a B-tree in key order, from `prefix` on while keys match."""
    cursor = handle.cursor(txn)
    try:
        item = cursor.set_range(prefix) if prefix else cursor.first()
        while item is not None:
            key, value = item
            if prefix and not key.startswith(prefix):
                break
            yield key, value
            item = cursor.next()
    finally:
        cursor.close()
