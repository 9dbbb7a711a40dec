"""A restore is judged by what was promised (harness.checker.explained), restic-style: the
golden tier S tree, its manifest taken as the backup, a history whose consistency point is
that backup, and exactly one precise change of the tree. With the operation that made the
change after the consistency point, the difference is one `newer-than-backup` naming that
operation (state newer than the backup that still holds: no violation); with it
acknowledged before the point (so the backup should hold its effect), or with no operation
at all, it is the manifest kind it was."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.accounts import lab_accounts
from harness.checker.run import run_check
from harness.history import (
    ConfigChange,
    Delete,
    Deprovision,
    HistoryWriter,
    Outcome,
    Read,
    SetFlag,
    Target,
)
from harness.layout import Layout
from harness.manifest import write_manifest
from harness.store import config as configdb
from harness.store.messagestore import MessageStore
from harness.store.records import Flag

pytestmark = pytest.mark.integration

Change = Callable[[Layout], tuple[Target, str, str]]
"""Changes the tree; returns the operation that would have made the change, the manifest
kind the change is without it, and the id both findings name."""


def _owner(layout: Layout, mailbox: str) -> str:
    return next(a.address for a in lab_accounts(layout.root) if a.mailboxid == mailbox)


def _single_row(layout: Layout) -> tuple[str, str, int, str, str]:
    """(mailbox, folder, uid, msgid, Message-ID) of a message stored in one mailbox only."""
    with MessageStore(layout) as store:
        once = {r.msgid: r for r in store.records() if r.refcount == 1}
        row = next(r for r in store.rows() if r.msgid in once and not r.flags)
        return row.key.mailbox, row.key.folder, row.key.uid, row.msgid, once[row.msgid].header_id


def flag_a_message(layout: Layout) -> tuple[Target, str, str]:
    mailbox, folder, uid, _, header = _single_row(layout)
    with MessageStore(layout) as store:
        key = next(r.key for r in store.rows(mailbox, folder) if r.key.uid == uid)
        store.set_flags(key, frozenset({Flag.FLAGGED}))
    target = SetFlag(_owner(layout, mailbox), "imap", header, "\\Flagged")
    return target, "row-changed", f"{mailbox}/{folder}/{uid}"


def delete_a_message(layout: Layout) -> tuple[Target, str, str]:
    mailbox, folder, uid, msgid, header = _single_row(layout)
    with MessageStore(layout) as store:
        key = next(r.key for r in store.rows(mailbox, folder) if r.key.uid == uid)
        store.set_flags(key, frozenset({Flag.DELETED}))
        store.expunge(mailbox, folder, uids=[uid])
        store.purge()
    return Delete(_owner(layout, mailbox), "pop3", (header,)), "message-lost", msgid


def change_a_key(layout: Layout) -> tuple[Target, str, str]:
    config = configdb.load(layout.config)
    key = next(k for k, _ in config.entries() if str(k) == "/*/common/logLevel")
    config.set(key, "debug")
    configdb.save(config, layout.config)
    return ConfigChange(str(key), "debug"), "config-changed", str(key)


CHANGES = [flag_a_message, delete_a_message, change_a_key]


def _history(path: Path, target: Target, *, after_point: bool) -> Path:
    """The backup's consistency point and one acknowledged operation after it (or before)."""
    history = HistoryWriter(path)
    if after_point:
        history.event("procedure", "consistency-point", mono=time.monotonic())
    index = history.invoke(target)
    history.complete(index, Outcome.OK, result=target)
    if not after_point:
        history.event("procedure", "consistency-point", mono=time.monotonic())
    history.close()
    return path


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
@pytest.mark.parametrize("after_point", [True, False], ids=["after", "before"])
def test_a_change_an_operation_after_the_point_made_is_newer_than_the_backup(
    change: Change, after_point: bool, tree_s: Layout, tmp_path: Path
) -> None:
    manifest = tmp_path / "backup.manifest.jsonl"
    write_manifest(tree_s.root, manifest)
    target, kind, subject = change(tree_s)
    history = _history(tmp_path / "history.jsonl", target, after_point=after_point)
    report = run_check(tree_s.root, against=manifest, history=history, restored=True)
    found = [(f.kind, f.subject) for f in report.findings if f.invariant == 7]
    if after_point:
        assert found == [("newer-than-backup", subject)], found
        (newer,) = (f for f in report.findings if f.kind == "newer-than-backup")
        assert newer.op == 0 and newer.detail.startswith(kind), newer.detail
    else:
        assert (kind, subject) in found, found
        assert "newer-than-backup" not in {k for k, _ in found}


def test_a_flag_lost_is_never_newer_than_the_backup(tree_s: Layout, tmp_path: Path) -> None:
    """Operations set flags, none removes one: a flag the backup held and the tree lost is
    `row-changed` even when the mailbox was flagged and read after the backup."""
    mailbox, folder, uid, _, header = _single_row(tree_s)
    with MessageStore(tree_s) as store:
        key = next(r.key for r in store.rows(mailbox, folder) if r.key.uid == uid)
        store.set_flags(key, frozenset({Flag.SEEN}))
    manifest = tmp_path / "backup.manifest.jsonl"
    write_manifest(tree_s.root, manifest)
    with MessageStore(tree_s) as store:
        store.set_flags(key, frozenset({Flag.FLAGGED}))  # \Seen lost, \Flagged set
    owner = _owner(tree_s, mailbox)
    history = _history(
        tmp_path / "history.jsonl", SetFlag(owner, "imap", header, "\\Flagged"), after_point=True
    )
    report = run_check(tree_s.root, against=manifest, history=history, restored=True)
    found = [(f.kind, f.subject) for f in report.findings if f.invariant == 7]
    assert found == [("row-changed", f"{mailbox}/{folder}/{uid}")], found


def _check(tree: Layout, tmp_path: Path, manifest: Path, *ops: Target) -> list[tuple[str, str]]:
    """The manifest comparison's findings with `ops` acknowledged after the consistency point
    (the history's own findings apart)."""
    history = HistoryWriter(tmp_path / "history.jsonl")
    history.event("procedure", "consistency-point", mono=time.monotonic())
    for target in ops:
        history.complete(history.invoke(target), Outcome.OK, result=target)
    history.close()
    report = run_check(tree.root, against=manifest, history=history.path, restored=True)
    backup = "harness.checker.findings.backup"
    return sorted((f.kind, f.subject) for f in report.findings if type(f).__module__ == backup)


def test_mail_stored_once_for_two_is_lost_unless_both_deleted_it(
    tree_s: Layout, tmp_path: Path
) -> None:
    """One recipient deleting a message does not explain losing everyone's copy; the other's
    account deleted after the backup does."""
    with MessageStore(tree_s) as store:
        shared = next(r for r in store.records() if r.refcount == 2)
        rows = [r for r in store.rows() if r.msgid == shared.msgid]
    manifest = tmp_path / "backup.manifest.jsonl"
    write_manifest(tree_s.root, manifest)
    with MessageStore(tree_s) as store:
        for row in rows:
            store.set_flags(row.key, frozenset({Flag.DELETED}))
            store.expunge(row.key.mailbox, row.key.folder, uids=[row.key.uid])
        store.purge()
    first, second = (_owner(tree_s, r.key.mailbox) for r in rows)
    one = Delete(first, "imap", (shared.header_id,))
    assert _check(tree_s, tmp_path, manifest, one) == [("message-lost", shared.msgid)]
    both = (one, Deprovision(second))
    assert _check(tree_s, tmp_path, manifest, *both) == [("newer-than-backup", shared.msgid)]


def test_a_config_key_set_to_another_value_than_the_change_made_is_config_changed(
    tree_s: Layout, tmp_path: Path
) -> None:
    manifest = tmp_path / "backup.manifest.jsonl"
    write_manifest(tree_s.root, manifest)
    target, _, key = change_a_key(tree_s)  # the tree has "debug"
    assert _check(tree_s, tmp_path, manifest, ConfigChange(key, "warning")) == [
        ("config-changed", key)
    ]
    assert _check(tree_s, tmp_path, manifest, target) == [("newer-than-backup", key)]


def test_a_read_explains_seen_on_as_many_inbox_rows_as_it_read(
    tree_s: Layout, tmp_path: Path
) -> None:
    """A restore that marks a whole mailbox read is not explained by one message read."""
    with MessageStore(tree_s) as store:
        mailbox = next(r.key.mailbox for r in store.rows() if r.key.folder == "INBOX")
        inbox = [r for r in store.rows(mailbox, "INBOX") if not r.flags][:3]
    assert len(inbox) == 3
    manifest = tmp_path / "backup.manifest.jsonl"
    write_manifest(tree_s.root, manifest)
    with MessageStore(tree_s) as store:
        for row in inbox:
            store.set_flags(row.key, frozenset({Flag.SEEN}))
    found = _check(tree_s, tmp_path, manifest, Read(_owner(tree_s, mailbox), "pop3", 1))
    assert [kind for kind, _ in found].count("newer-than-backup") == 1, found
    assert [kind for kind, _ in found].count("row-changed") == 2, found
