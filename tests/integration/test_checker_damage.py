"""restic-style: the golden tier S tree plus exactly one precise damage gives exactly one finding
of the expected kind naming the expected id."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.checker import findings as F
from harness.checker import tree_state
from harness.checker.run import check_environments, run_check
from harness.drill.evidence import check_again
from harness.layout import Layout
from harness.manifest import write_manifest
from harness.store.directory import Directory
from harness.store.messagestore import MessageStore
from harness.store.records import Flag, FolderMeta, MsgRecord, RowKey
from harness.store.spool import Spool

pytestmark = pytest.mark.integration

CLOCK_TICK = 0.05
"""Longer than a file system clock tick (4-10 ms): a change made after it moves ctime."""

Damage = Callable[[Layout, Path], tuple[str, Path | None]]
"""Damages the tree; returns the id the finding must name and an optional manifest to use."""


def _records(layout: Layout) -> list[MsgRecord]:
    with MessageStore(layout) as store:
        return list(store.records())


def _single_row_message(layout: Layout) -> tuple[MsgRecord, RowKey]:
    """A message referenced by exactly one row (deterministic: the lowest such id)."""
    with MessageStore(layout) as store:
        for record in store.records():
            if record.refcount == 1:
                rows = [r for r in store.rows() if r.msgid == record.msgid]
                return record, rows[0].key
    raise AssertionError("no single-row message in the golden tree")


def _victim(layout: Layout) -> MsgRecord:
    return next(r for r in _records(layout) if r.size > 2000)


def _put_record(layout: Layout, record: MsgRecord) -> None:
    with MessageStore(layout) as store, store.msgid_env.transaction() as txn:
        store.msgid_env.db("msgid.db").put(record.msgid.encode(), record.encode(), txn=txn)


def flip_byte(layout: Layout, _: Path) -> tuple[str, Path | None]:
    victim = _victim(layout)
    path = layout.root / victim.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return victim.msgid, None


def truncate_file(layout: Layout, _: Path) -> tuple[str, Path | None]:
    victim = _victim(layout)
    os.truncate(layout.root / victim.path, victim.size // 2)
    return victim.msgid, None


def delete_file(layout: Layout, _: Path) -> tuple[str, Path | None]:
    victim = _victim(layout)
    (layout.root / victim.path).unlink()
    return victim.msgid, None


def orphan_file(layout: Layout, _: Path) -> tuple[str, Path | None]:
    path = layout.msgfiles / "ff" / "ee" / "ffee00000000beef"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"Subject: nobody points at me\n\nhello\n")
    return "msgfiles/ff/ee/ffee00000000beef", None


def temp_file_left(layout: Layout, _: Path) -> tuple[str, Path | None]:
    victim = _victim(layout)
    tmp = (layout.root / victim.path).with_name(".0123456789abcdef.tmp")
    tmp.write_bytes(b"half a mess")
    return tmp.relative_to(layout.root).as_posix(), None


def refcount_plus_one(layout: Layout, _: Path) -> tuple[str, Path | None]:
    victim = _victim(layout)
    _put_record(
        layout,
        MsgRecord(
            victim.msgid,
            victim.path,
            victim.size,
            victim.digest,
            victim.refcount + 1,
            victim.created,
            victim.header_id,
        ),
    )
    return victim.msgid, None


def refcount_minus_one(layout: Layout, _: Path) -> tuple[str, Path | None]:
    victim = next(r for r in _records(layout) if r.refcount >= 2)
    _put_record(
        layout,
        MsgRecord(
            victim.msgid,
            victim.path,
            victim.size,
            victim.digest,
            victim.refcount - 1,
            victim.created,
            victim.header_id,
        ),
    )
    return victim.msgid, None


def row_to_missing_msgid(layout: Layout, _: Path) -> tuple[str, Path | None]:
    record, key = _single_row_message(layout)
    with MessageStore(layout) as store, store.msgid_env.transaction() as txn:
        store.msgid_env.db("msgid.db").delete(record.msgid.encode(), txn=txn)
    (layout.root / record.path).unlink()
    return str(key), None


def _repoint(layout: Layout, victim: MsgRecord, path: str) -> None:
    _put_record(
        layout,
        MsgRecord(
            victim.msgid,
            path,
            victim.size,
            victim.digest,
            victim.refcount,
            victim.created,
            victim.header_id,
        ),
    )


def record_to_missing_file(layout: Layout, _: Path) -> tuple[str, Path | None]:
    """The record names a path where no file is, and the file it named before is gone (left
    there, that file would be a second finding: see the re-pointed record test below)."""
    victim = _victim(layout)
    _repoint(layout, victim, "msgfiles/00/00/0000000000000000")
    (layout.root / victim.path).unlink()
    return victim.msgid, None


def copy_to_wrong_path(layout: Layout, _: Path) -> tuple[str, Path | None]:
    """A copy of a known message under a path no record names: its name alone is no alibi."""
    victim = _victim(layout)
    copy = layout.msgfiles / "zz" / "zz" / victim.msgid
    copy.parent.mkdir(parents=True)
    shutil.copy2(layout.root / victim.path, copy)
    return f"msgfiles/zz/zz/{victim.msgid}", None


def scramble_page(layout: Layout, _: Path) -> tuple[str, Path | None]:
    path = layout.env("mbox") / "rows.db"
    pages = path.stat().st_size // 4096
    assert pages > 4
    with path.open("r+b") as handle:
        handle.seek((pages // 2) * 4096 + 200)
        handle.write(bytes(range(256)) * 2)
    return "db/mbox/rows.db", None


def missing_log(layout: Layout, _: Path) -> tuple[str, Path | None]:
    env = layout.env("msgid")
    newest = sorted(env.glob("log.*"))[-1]
    newest.unlink()
    return f"db/msgid/{newest.name}", None


def index_without_account(layout: Layout, _: Path) -> tuple[str, Path | None]:
    with Directory(layout) as directory, directory.index_env.transaction() as txn:
        directory.index_env.db("index.db").put(b"addr:ghost@example.com", b"999999", txn=txn)
    return "addr:ghost@example.com", None


def index_key_missing(layout: Layout, _: Path) -> tuple[str, Path | None]:
    with Directory(layout) as directory:
        account = next(directory.accounts())
        with directory.index_env.transaction() as txn:
            directory.index_env.db("index.db").delete(f"login:{account.login}".encode(), txn=txn)
    return f"login:{account.login}", None


def account_without_mailbox(layout: Layout, _: Path) -> tuple[str, Path | None]:
    with Directory(layout) as directory:
        account = next(a for a in directory.accounts() if a.status.value == "active")
    with MessageStore(layout) as store:
        store.delete_mailbox(account.mailbox)
    return account.entry_id, None


def mailbox_without_owner(layout: Layout, _: Path) -> tuple[str, Path | None]:
    with MessageStore(layout) as store:
        store.create_mailbox("1999999999", "999999")
    return "1999999999", None


def folder_count_off(layout: Layout, _: Path) -> tuple[str, Path | None]:
    with MessageStore(layout) as store:
        meta = next(m for m in store.folders() if m.count > 0)
        bumped = FolderMeta(
            meta.mailbox,
            meta.folder,
            meta.uidvalidity,
            meta.uidnext,
            meta.count + 1,
            meta.size,
            meta.unseen,
        )
        with store.mbox_env.transaction() as txn:
            store.mbox_env.db("folders.db").put(bumped.key(), bumped.encode(), txn=txn)
    return f"{meta.mailbox}/{meta.folder}", None


def config_syntax(layout: Layout, _: Path) -> tuple[str, Path | None]:
    lines = layout.config.read_text().split("\n")
    lines.insert(4, "this line is not config")
    layout.config.write_text("\n".join(lines))
    return "config/config.db:5", None


def config_missing(layout: Layout, _: Path) -> tuple[str, Path | None]:
    layout.config.unlink()
    return "config/config.db", None


def config_changed(layout: Layout, scratch: Path) -> tuple[str, Path | None]:
    manifest = scratch / "golden.manifest"
    write_manifest(layout.root, manifest)
    text = layout.config.read_text()
    layout.config.write_text(
        text.replace("/*/mss/checkpointSeconds: [30]", "/*/mss/checkpointSeconds: [3600]")
    )
    return "/*/mss/checkpointSeconds", manifest


def spool_without_end(layout: Layout, _: Path) -> tuple[str, Path | None]:
    queued = Spool(layout.spool).enqueue(
        "a@partner.example", ["b@example.com"], b"Subject: x\n\nhi\n"
    )
    size = queued.path.stat().st_size
    os.truncate(queued.path, size - 20)
    return f"mta/spool/{queued.path.name}", None


def spool_file_renamed(layout: Layout, _: Path) -> tuple[str, Path | None]:
    """A queued message put back as `<id>.q.restored`: the MTA delivers `*.q` only."""
    queued = Spool(layout.spool).enqueue(
        "a@partner.example", ["b@example.com"], b"Subject: x\n\nhi\n"
    )
    renamed = queued.path.with_name(queued.path.name + ".restored")
    queued.path.rename(renamed)
    return f"mta/spool/{renamed.name}", None


def resurrected_message(layout: Layout, scratch: Path) -> tuple[str, Path | None]:
    """The manifest is taken after the message was deleted; the tree still has it."""
    record, key = _single_row_message(layout)
    later = Layout(scratch / "later")
    shutil.copytree(layout.root, later.root, symlinks=True)
    with MessageStore(later) as store:
        store.set_flags(key, frozenset({Flag.DELETED}))
        store.expunge(key.mailbox, key.folder, uids=[key.uid])
        assert record.msgid in store.purge()
    manifest = scratch / "later.manifest"
    write_manifest(later.root, manifest)
    return record.msgid, manifest


def msgfiles_lost(layout: Layout, _: Path) -> tuple[str, Path | None]:
    shutil.rmtree(layout.msgfiles)
    return "msgfiles", None


def mbox_env_lost(layout: Layout, _: Path) -> tuple[str, Path | None]:
    shutil.rmtree(layout.env("mbox"))
    return "db/mbox", None


DAMAGES: list[tuple[Damage, type[F.Finding]]] = [
    (flip_byte, F.MessageDigestMismatch),
    (truncate_file, F.MessageSizeMismatch),
    (delete_file, F.MessageFileMissing),
    (orphan_file, F.OrphanMessageFile),
    (copy_to_wrong_path, F.OrphanMessageFile),
    (temp_file_left, F.StaleTempFile),
    (refcount_plus_one, F.RefcountHigh),
    (refcount_minus_one, F.RefcountLow),
    (row_to_missing_msgid, F.DanglingRow),
    (record_to_missing_file, F.MessageFileMissing),
    (scramble_page, F.DatabaseCorrupt),
    (missing_log, F.LogMissing),
    (index_without_account, F.IndexKeyDangling),
    (index_key_missing, F.IndexKeyMissing),
    (account_without_mailbox, F.AccountWithoutMailbox),
    (mailbox_without_owner, F.MailboxWithoutOwner),
    (folder_count_off, F.FolderCountMismatch),
    (config_syntax, F.ConfigSyntax),
    (config_missing, F.ConfigMissing),
    (config_changed, F.ConfigChanged),
    (spool_without_end, F.SpoolFileDamaged),
    (spool_file_renamed, F.SpoolFileIgnored),
    (resurrected_message, F.MessageResurrected),
    (msgfiles_lost, F.StoreMissing),
    (mbox_env_lost, F.StoreMissing),
]


def test_the_golden_tree_is_clean(golden_s: Layout) -> None:
    report = run_check(golden_s.root)
    assert report.findings == () and report.errors == (), report.to_json()
    assert report.stats["messages_verified"] == 2000


@pytest.fixture(scope="module")
def golden_recovered(golden_s: Layout) -> dict[str, str]:
    """The golden tree's recovered databases (a copy's are the same, byte for byte)."""
    return check_environments(golden_s.root).recovered


@pytest.mark.parametrize(("damage", "expected"), DAMAGES, ids=[d.__name__ for d, _ in DAMAGES])
def test_one_damage_is_exactly_one_finding(
    damage: Damage,
    expected: type[F.Finding],
    tree_s: Layout,
    tmp_path: Path,
    golden_recovered: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """...and the same damage done to the tree between verify and the restart's check again
    is seen as a change of the tree (by file status alone, no racy file hashed), so the whole
    check runs again and finds it. (A damage that is a later manifest changes no file: the
    drill compares with the same manifest both times.)"""
    monkeypatch.setattr(tree_state, "RACY_SECONDS", 0.0)
    state = tree_state.take(tree_s.root).with_recovered(golden_recovered)
    time.sleep(CLOCK_TICK)
    subject, manifest = damage(tree_s, tmp_path)
    if manifest is None:
        report, compared = check_again(tree_s, state, history=None, against=None)
        assert compared is not None and compared.changed, "the damage left the tree as it was"
    else:
        report = run_check(tree_s.root, against=manifest)
    assert report.errors == ()
    assert [(type(f), f.subject) for f in report.findings] == [(expected, subject)], [
        str(f) for f in report.findings
    ]


def test_a_re_pointed_record_is_a_missing_file_and_an_orphan(tree_s: Layout) -> None:
    """One record names another path: its file is missing there, and the file left at the old
    path is one nobody names."""
    victim = _victim(tree_s)
    _repoint(tree_s, victim, "msgfiles/00/00/0000000000000000")
    report = run_check(tree_s.root)
    assert report.errors == ()
    assert [(type(f), f.subject) for f in report.findings] == [
        (F.MessageFileMissing, victim.msgid),
        (F.OrphanMessageFile, victim.path),
    ], [str(f) for f in report.findings]


def test_a_crashed_check_is_an_unknown_verdict_and_exit_2_without_traceback(
    golden_xs: Layout, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.checker import run
    from harness.checker.context import CheckContext
    from harness.cli.firedrill import main

    def explode(ctx: CheckContext) -> Iterator[F.Finding]:
        yield F.OrphanMessageFile("msgfiles/found/before/the/crash")
        raise RuntimeError("the check broke")

    monkeypatch.setattr(
        run, "CHECKS", tuple((n, explode if n == "orphans" else c) for n, c in run.CHECKS)
    )
    report = run_check(golden_xs.root)
    assert report.verdict() is F.Verdict.UNKNOWN
    assert [e.check for e in report.errors] == ["orphans"]
    assert "RuntimeError: the check broke" in report.errors[0].error
    assert [f.subject for f in report.findings] == ["msgfiles/found/before/the/crash"]
    assert main(["check", "--root", str(golden_xs.root), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "the check broke" in out


def test_a_missing_db_verify_is_listed_as_skipped(
    golden_xs: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.checker import databases

    monkeypatch.setattr(databases, "DB_VERIFY", "firedrill-no-such-db_verify")
    report = run_check(golden_xs.root)
    assert report.findings == () and report.errors == ()
    assert [s.check for s in report.skipped] == ["firedrill-no-such-db_verify"]
    assert "not installed" in report.skipped[0].reason
    assert report.to_json()["skipped"] == [s.to_json() for s in report.skipped]
