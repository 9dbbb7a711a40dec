"""Every kind of finding the checker makes has a case: the golden XS tree plus exactly one precise
change gives exactly one finding, of the expected kind, naming the expected id, and nothing else
(restic's `checker_test.go`).

The cases are tables: `STORE` (the store kinds `test_checker_damage.DAMAGES` has no case for),
`BACKUP` (the whole manifest family, invariant 7) and `HISTORY` (the history checker, on
`test_durability`'s synthetic histories); `test_client_promises.CASES` has the client-visible
kinds (invariant 8). `test_every_kind_of_the_checker_has_a_case` holds these tables and `DAMAGES`
to `KINDS`: a kind of `findings.store`, `.backup`, `.history` or `.clients` that no case expects
fails it. The only other thing a case may show is a check skipped because the damage
took what it reads (`StoreCase.skipped`). The kinds of `findings.drill` are the drill runner's,
not the checker's, and have no case here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

import pytest
from berkeleydb import db

from harness.checker import findings as F
from harness.checker.run import CheckReport, run_check
from harness.history import HistoryWriter
from harness.layout import Layout
from harness.manifest import write_manifest
from harness.store import bdb
from harness.store import config as configdb
from harness.store.directory import DIRCACHE_FILE, Directory, read_cache
from harness.store.messagestore import MessageStore
from harness.store.msgfiles import digest_file
from harness.store.passwords import hash_password
from harness.store.records import Account, Flag, MailboxMeta, MailboxStatus, Row, RowKey
from tests.integration import test_client_promises as client_promises
from tests.integration import test_durability as durability
from tests.integration import test_explained as explained
from tests.integration.test_checker_damage import DAMAGES

pytestmark = pytest.mark.integration

Change = Callable[[Layout], str]
"""Changes the tree in one precise way; returns the id the one finding must name."""


def _found(report: CheckReport) -> list[tuple[type[F.Finding], str]]:
    return [(type(f), f.subject) for f in report.findings]


# -- the stores as they are (invariants 1-5): kinds test_checker_damage.DAMAGES does not have --


@dataclass(frozen=True)
class StoreCase:
    change: Change
    kind: type[F.Finding]
    skipped: tuple[str, ...] = ()
    """Checks that cannot run because what they read is the damage (report.skipped)."""


def folder_record_lost(layout: Layout) -> str:
    """The folder record of a one-message folder is gone; its row stays."""
    with MessageStore(layout) as store:
        meta = next(m for m in store.folders() if m.count == 1)
        (row,) = store.rows(meta.mailbox, meta.folder)
        with store.mbox_env.transaction() as txn:
            store.mbox_env.db("folders.db").delete(meta.key(), txn=txn)
    return str(row.key)


def uidnext_set_back(layout: Layout) -> str:
    """A folder's UIDNEXT is set back to its highest uid: that row is at or above it."""
    with MessageStore(layout) as store:
        meta = next(m for m in store.folders() if m.count > 1)
        last = max(store.rows(meta.mailbox, meta.folder), key=lambda r: r.key.uid)
        rewound = replace(meta, uidnext=last.key.uid)
        with store.mbox_env.transaction() as txn:
            store.mbox_env.db("folders.db").put(rewound.key(), rewound.encode(), txn=txn)
    return str(last.key)


def _two_accounts(layout: Layout) -> tuple[Account, Account]:
    with Directory(layout) as directory:
        first, second = sorted(directory.accounts(), key=lambda a: a.entry_id)[:2]
    return first, second


def mailbox_owner_changed(layout: Layout) -> str:
    """A mailbox names another (existing) account as its owner."""
    first, second = _two_accounts(layout)
    with MessageStore(layout) as store:
        meta = store.mailbox(first.mailbox)
        assert meta is not None
        changed = MailboxMeta(meta.mailbox, second.entry_id, meta.created)
        with store.mbox_env.transaction() as txn:
            store.mbox_env.db("mailboxes.db").put(meta.mailbox.encode(), changed.encode(), txn=txn)
    return first.mailbox


def login_key_points_at_another_account(layout: Layout) -> str:
    """One account's login index key points at another existing account."""
    first, second = _two_accounts(layout)
    key = first.index_keys()[-1]
    assert key.startswith("login:")  # the dircache is keyed by address: it stays right
    with Directory(layout) as directory, directory.index_env.transaction() as txn:
        directory.index_env.db("index.db").put(key.encode(), second.entry_id.encode(), txn=txn)
    return key


def dircache_entry_stale(layout: Layout) -> str:
    """The disposable cache holds another account's entry for one address (a warning)."""
    path = layout.dircache / DIRCACHE_FILE
    cached = dict(read_cache(path))
    address, other = sorted(cached)[:2]
    cache = db.DB()
    cache.open(str(path), dbtype=db.DB_HASH)
    try:
        cache.put(address.encode(), cached[other])
    finally:
        cache.close()
    return address


def database_file_lost(layout: Layout) -> str:
    """db/mbox/mailboxes.db is gone; the environment's other files and logs are intact."""
    (layout.env("mbox") / "mailboxes.db").unlink()
    return "db/mbox/mailboxes.db"


def _roll_logs(layout: Layout, env: str, files: int) -> list[Path]:
    """Rewrite the environment's records unchanged until it has `files` log files.

    No checkpoint (which would remove the old logs): the data are the golden tree's, the log
    sequence is longer. Returns the log files, oldest first.
    """
    home = layout.env(env)
    environment = bdb.Environment(home, env, durable=False)
    try:
        (name,) = bdb.DATABASES[env]
        handle = environment.db(name)
        records = list(bdb.cursor_items(handle))
        while len(environment.log_files()) < files:
            with environment.transaction() as txn:
                for _ in range(50):
                    for key, value in records:
                        handle.put(key, value, txn=txn)
        environment.commit_point()
    finally:
        environment.close()
    return sorted(home.glob("log.*"))


def log_file_lost_between_two(layout: Layout) -> str:
    """Of the log files 1, 2, 3 of db/entry, number 2 is gone (a backup that skipped it)."""
    logs = _roll_logs(layout, "entry", 3)
    assert [p.name for p in logs] == [f"log.{n:010d}" for n in (1, 2, 3)]
    assert run_check(layout.root).findings == ()  # three logs, all there: still golden
    logs[1].unlink()
    return f"db/entry/{logs[1].name}"


def log_header_overwritten(layout: Layout) -> str:
    """The first bytes of db/entry's only log file (its header) are overwritten: recovery
    cannot read the log at all."""
    (log,) = layout.env("entry").glob("log.*")
    with log.open("r+b") as handle:
        handle.write(b"\xff" * 16)
    return "db/entry"


STORE: list[StoreCase] = [
    StoreCase(folder_record_lost, F.RowWithoutFolder),
    StoreCase(uidnext_set_back, F.UidAboveNext),
    StoreCase(mailbox_owner_changed, F.MailboxOwnerMismatch),
    StoreCase(login_key_points_at_another_account, F.IndexKeyMisdirected),
    StoreCase(dircache_entry_stale, F.DircacheStale),
    StoreCase(database_file_lost, F.DatabaseMissing, ("account mailboxes", "mailbox owners")),
    StoreCase(log_file_lost_between_two, F.LogGap),
    StoreCase(log_header_overwritten, F.RecoveryFailed),
]


@pytest.mark.parametrize("case", STORE, ids=[c.change.__name__ for c in STORE])
def test_one_damage_to_the_stores_is_exactly_one_finding(case: StoreCase, tree_xs: Layout) -> None:
    subject = case.change(tree_xs)
    report = run_check(tree_xs.root)
    assert report.errors == (), report.errors
    assert _found(report) == [(case.kind, subject)], [str(f) for f in report.findings]
    assert sorted(s.check for s in report.skipped) == sorted(case.skipped), report.skipped


@pytest.mark.parametrize("mailbox", ["0000000000", "9999999999"], ids=["first", "last"])
def test_a_row_outside_every_folder_without_a_record_is_both_findings(
    mailbox: str, tree_xs: Layout
) -> None:
    """A row with no folder record and no msgid record, whether it sorts before every folder
    or after the last one (a fixed blind spot: trailing rows were not looked up)."""
    row = Row(RowKey(mailbox, "INBOX", 1), "ffffffffffffffff", frozenset(), 0, 100)
    with MessageStore(tree_xs) as store, store.mbox_env.transaction() as txn:
        store.mbox_env.db("rows.db").put(row.key.encode(), row.encode(), txn=txn)
    report = run_check(tree_xs.root)
    subject = str(row.key)
    found = [(type(f), f.subject) for f in report.findings]
    assert found == [(F.RowWithoutFolder, subject), (F.DanglingRow, subject)], found


# -- the tree against the backup's manifest (invariant 7) -----------------------------------


class When(Enum):
    """Which of the two states, one change apart, the backup holds."""

    AFTER_BACKUP = "after_backup"
    """The manifest is the golden tree's; the change came after the backup and the changed
    tree is checked: what the tree lost, changed or gained since the backup."""
    BEFORE_BACKUP = "before_backup"
    """The manifest is the changed tree's; the golden tree is checked, as if the restore had
    brought back the state before the change (a deletion undone, an addition lost)."""


@dataclass(frozen=True)
class BackupCase:
    change: Change
    when: When
    kind: type[F.Finding]


def _single_row_message(store: MessageStore) -> Row:
    """The row of the first message (in msgid order) that exactly one row references."""
    record = next(r for r in store.records() if r.refcount == 1)
    return next(row for row in store.rows() if row.msgid == record.msgid)


def message_deleted_and_purged(layout: Layout) -> str:
    """A client deletes a message only one mailbox holds; the purge removes it."""
    with MessageStore(layout) as store:
        row = _single_row_message(store)
        store.expunge(row.key.mailbox, row.key.folder, uids=[row.key.uid])
        assert store.purge() == [row.msgid]
    return row.msgid


def one_copy_of_a_shared_message_deleted(layout: Layout) -> str:
    """One of several rows of a message is expunged; the message stays for the others."""
    with MessageStore(layout) as store:
        record = next(r for r in store.records() if r.refcount >= 2)
        row = next(row for row in store.rows() if row.msgid == record.msgid)
        store.expunge(row.key.mailbox, row.key.folder, uids=[row.key.uid])
    return str(row.key)


def row_flagged_seen(layout: Layout) -> str:
    """A client reads an unseen message (the folder's unseen count follows)."""
    with MessageStore(layout) as store:
        row = next(r for r in store.rows() if Flag.SEEN not in r.flags)
        store.set_flags(row.key, row.flags | {Flag.SEEN})
    return str(row.key)


def message_file_and_record_rewritten(layout: Layout) -> str:
    """A message's bytes are not the backup's, though its file and record agree (another
    copy restored under its id): the stores are consistent, only the manifest can tell."""
    with MessageStore(layout) as store:
        record = next(r for r in store.records() if r.size > 100)
        path = layout.root / record.path
        data = bytearray(path.read_bytes())
        data[-2] = ord("X") if data[-2] != ord("X") else ord("Y")
        path.write_bytes(bytes(data))
        size, digest = digest_file(path)
        assert size == record.size
        with store.msgid_env.transaction() as txn:
            store.msgid_env.db("msgid.db").put(
                record.msgid.encode(), replace(record, digest=digest).encode(), txn=txn
            )
    return record.msgid


NEW_ENTRY, NEW_MAILBOX = "199999", "1999999999"


def account_provisioned(layout: Layout) -> str:
    """A new account, as dirserv creates one: its (empty) mailbox, then its entry and keys."""
    account = Account(
        entry_id=NEW_ENTRY,
        address="new.person@example.com",
        login="new.person@example.com",
        password_hash=hash_password("pw"),
        mailbox=NEW_MAILBOX,
        status=MailboxStatus.ACTIVE,
        mss_host="ms1",
        created=int(time.time()),
    )
    with MessageStore(layout) as store:
        store.create_mailbox(NEW_MAILBOX, NEW_ENTRY)
    with Directory(layout) as directory:
        directory.add([account])
    return NEW_ENTRY


def account_renamed(layout: Layout) -> str:
    """An account's display name is changed, as dirserv modifies one (the cache follows)."""
    with Directory(layout) as directory:
        directory.open_cache()
        account = next(directory.accounts())
        directory.modify(replace(account, name=account.name + " Jr."))
    return account.entry_id


KEY = configdb.ConfigKey.parse("/*/mss/purgeSeconds")  # [60] in the golden tree


def _edit_config(layout: Layout, edit: Callable[[configdb.ConfigDB], object]) -> None:
    config = configdb.load(layout.config)
    edit(config)
    configdb.save(config, layout.config)


def config_key_removed(layout: Layout) -> str:
    _edit_config(layout, lambda c: c.delete(KEY))
    return str(KEY)


def config_value_changed(layout: Layout) -> str:
    _edit_config(layout, lambda c: c.set(KEY, "120"))
    return str(KEY)


BACKUP: list[BackupCase] = [
    BackupCase(message_deleted_and_purged, When.AFTER_BACKUP, F.MessageLost),
    BackupCase(message_deleted_and_purged, When.BEFORE_BACKUP, F.MessageResurrected),
    BackupCase(message_file_and_record_rewritten, When.AFTER_BACKUP, F.MessageChanged),
    BackupCase(one_copy_of_a_shared_message_deleted, When.AFTER_BACKUP, F.RowLost),
    BackupCase(one_copy_of_a_shared_message_deleted, When.BEFORE_BACKUP, F.RowResurrected),
    BackupCase(row_flagged_seen, When.AFTER_BACKUP, F.RowChanged),
    BackupCase(account_provisioned, When.BEFORE_BACKUP, F.AccountLost),
    BackupCase(account_provisioned, When.AFTER_BACKUP, F.AccountResurrected),
    BackupCase(account_renamed, When.AFTER_BACKUP, F.AccountChanged),
    BackupCase(config_key_removed, When.AFTER_BACKUP, F.ConfigKeyLost),
    BackupCase(config_key_removed, When.BEFORE_BACKUP, F.ConfigKeyAdded),
    BackupCase(config_value_changed, When.AFTER_BACKUP, F.ConfigChanged),
]
"""Each change used BEFORE_BACKUP is also used AFTER_BACKUP, where the store checks see the
changed tree: that proves the change leaves the stores consistent, only different."""


@pytest.fixture(scope="module")
def golden_xs_manifest(golden_xs: Layout, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifest") / "golden-xs.manifest"
    write_manifest(golden_xs.root, path)
    return path


@pytest.mark.parametrize(
    "case", BACKUP, ids=[f"{c.kind.kind}-{c.change.__name__}-{c.when.value}" for c in BACKUP]
)
def test_one_change_since_the_backup_is_exactly_one_manifest_finding(
    case: BackupCase,
    golden_xs: Layout,
    golden_xs_manifest: Path,
    tree_xs: Layout,
    tmp_path: Path,
) -> None:
    subject = case.change(tree_xs)
    if case.when is When.AFTER_BACKUP:
        manifest, checked = golden_xs_manifest, tree_xs.root
    else:
        manifest, checked = tmp_path / "changed.manifest", golden_xs.root
        write_manifest(tree_xs.root, manifest)
    report = run_check(checked, against=manifest)
    assert report.errors == () and report.skipped == (), report.to_json()
    assert _found(report) == [(case.kind, subject)], [str(f) for f in report.findings]


# -- the history (invariants 6 and 7): test_durability's synthetic histories ----------------

HISTORY: list[tuple[durability.Case, type[F.Finding]]] = [
    (durability.acknowledged_message_lost, F.AcknowledgedMessageLost),
    (durability.acknowledged_message_twice, F.DuplicateDelivery),
    (durability.acknowledged_deletion_undone, F.AcknowledgedDeleteUndone),
    (durability.acknowledged_account_lost, F.AcknowledgedAccountLost),
    (durability.acknowledged_account_deletion_undone, F.DeletedAccountPresent),
    (durability.acknowledged_config_change_lost, F.AcknowledgedConfigLost),
]


@pytest.mark.parametrize(("case", "kind"), HISTORY, ids=[c.__name__ for c, _ in HISTORY])
def test_one_broken_promise_of_the_history_is_exactly_one_finding(
    case: durability.Case, kind: type[F.Finding], tree_xs: Layout, tmp_path: Path
) -> None:
    alice, bob = _two_accounts(tree_xs)
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as history:
        expected = case(durability.Lab(tree_xs, history, alice, bob))
    assert expected is not None and expected[0] is kind
    report = run_check(tree_xs.root, history=path)
    assert report.errors == () and report.skipped == (), report.to_json()
    found = [(type(f), f.subject, f.op) for f in report.findings]
    assert found == [expected], [str(f) for f in report.findings]


# -- every kind of the checker has a case ----------------------------------------------------


def uncovered(tables: Iterable[Iterable[type[F.Finding]]]) -> set[str]:
    """The kinds of `store`, `backup`, `history` and `clients` that no table names."""
    checker = {
        k
        for k, cls in F.KINDS.items()
        if cls.__module__.rsplit(".", 1)[-1] in ("store", "backup", "history", "clients")
    }
    return checker - {kind.kind for table in tables for kind in table}


def _tables(without: type[F.Finding] | None = None) -> list[list[type[F.Finding]]]:
    """The kinds each table's cases expect (leaving out the cases of `without`)."""
    tables: list[list[type[F.Finding]]] = [
        [kind for _, kind in DAMAGES],
        [case.kind for case in STORE],
        [case.kind for case in BACKUP],
        [kind for _, kind in HISTORY],
        [kind for _, kind in client_promises.CASES if kind is not None],
        [F.NewerThanBackup] * len(explained.CHANGES),  # each change, after the point
    ]
    return [[kind for kind in table if kind is not without] for table in tables]


def test_every_kind_of_the_checker_has_a_case() -> None:
    missing = uncovered(_tables())
    assert not missing, f"no case produces {sorted(missing)}: add one to a table"


@pytest.mark.parametrize("kind", [F.LogGap, F.RowLost, F.DuplicateDelivery], ids=lambda k: k.kind)
def test_a_kind_whose_cases_are_removed_is_uncovered(kind: type[F.Finding]) -> None:
    assert uncovered(_tables(without=kind)) == {kind.kind}


def test_every_kind_is_in_the_readme_table() -> None:
    """Operators look a finding up in the README's table (kind, invariant, severity)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = "\n".join(line for line in readme.splitlines() if line.startswith("|"))
    missing = sorted(kind for kind in F.KINDS if f"`{kind}`" not in rows)
    assert not missing, f"add to the README's table of findings: {missing}"
