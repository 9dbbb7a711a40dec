"""restic-style, for invariant 8 (what clients were told stays true): the golden XS tree, a
synthetic history of what clients saw (the real record format, written by HistoryWriter) and
one precise change give exactly one finding of the expected kind naming the expected id.

The changes are the mistakes operators make: a restore of db/mbox that rewinds UIDNEXT without
a new UIDVALIDITY (then new mail takes UIDs clients cached), a restore of an older UIDVALIDITY,
a restore that resets flags, a backup's spool re-injected after its mail was delivered.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.checker import findings as F
from harness.checker.run import run_check
from harness.history import Deliver, HistoryWriter, Outcome, Seen, SetFlag
from harness.layout import Layout
from harness.manifest import write_manifest
from harness.store.directory import Directory
from harness.store.messagestore import MessageStore, Target
from harness.store.records import Account, Flag, FolderMeta, RowKey
from harness.store.spool import Spool
from harness.store.uids import uidl
from harness.workload.clients import message_id_of

pytestmark = pytest.mark.integration


@dataclass
class Lab:
    """A tree, a place to back it up, and the history of what alice's clients saw."""

    layout: Layout
    history: HistoryWriter
    alice: Account
    saved: Path
    against: Path | None = None
    """The backup's manifest (a restore); None for a recovery through the logs."""

    def backup(self, *queued: str) -> None:
        """Copy the tree, with a queue file for each Message-ID in `queued` (mail that waits in
        the spool at backup time and is delivered after the restore)."""
        for message_id in queued:
            data = f"Message-ID: {message_id}\nSubject: queued\n\nhello\n".encode()
            Spool(self.layout.spool).enqueue("s@partner.example", [self.alice.address], data)
        shutil.copytree(self.layout.root, self.saved, symlinks=True)
        for path in Spool(self.layout.spool).paths():
            path.unlink()

    def deliver_queued(self) -> list[int]:
        """The MTA after the restore: each queued message stored, its queue file removed."""
        uids = []
        for queued in Spool(self.layout.spool):
            uids.append(self.deliver(message_id_of(queued.body)))
            Spool(self.layout.spool).remove(queued)
        return uids

    def restore(self) -> None:
        """What chapter 13's restore does to db/mbox: the whole tree back from the backup."""
        shutil.rmtree(self.layout.root)
        shutil.copytree(self.saved, self.layout.root, symlinks=True)
        self.against = self.saved.parent / "backup.manifest"
        write_manifest(self.saved, self.against)

    def deliver(self, message_id: str) -> int:
        """Store a message in alice's INBOX; returns its UID."""
        data = f"Message-ID: {message_id}\nSubject: promises\n\nhello\n".encode()
        with MessageStore(self.layout) as store:
            return store.deliver(data, [Target(self.alice.mailbox)]).rows[0].uid

    def folder(self) -> FolderMeta:
        with MessageStore(self.layout) as store:
            meta = store.folder(self.alice.mailbox, "INBOX")
        assert meta is not None
        return meta

    def imap_sees(self, *ids: tuple[int, str]) -> None:
        """An IMAP session SELECTs alice's INBOX (as it is now) and fetches `ids`."""
        meta = self.folder()
        pairs = tuple((str(uid), mid) for uid, mid in ids)
        self.history.seen(
            Seen(self.alice.address, "imap", "INBOX", meta.uidvalidity, meta.uidnext, pairs)
        )

    def pop_sees(self, uid: int, message_id: str) -> str:
        """A POP3 session lists alice's maildrop and reads the message at `uid`; its UIDL."""
        unique_id = uidl(uid, self.folder().uidvalidity)
        self.history.seen(Seen(self.alice.address, "pop3", ids=((unique_id, message_id),)))
        return unique_id

    def newest(self) -> tuple[int, str]:
        """The UID and Message-ID of the newest message of alice's INBOX."""
        with MessageStore(self.layout) as store:
            row = max(store.rows(self.alice.mailbox, "INBOX"), key=lambda r: r.key.uid)
            record = store.record(row.msgid)
        assert record is not None
        return row.key.uid, record.header_id

    @property
    def inbox(self) -> str:
        return f"{self.alice.address.lower()}/INBOX"


Expected = tuple[type[F.Finding], str, int | None] | None
Case = Callable[[Lab], Expected]


def seen_and_kept(lab: Lab) -> Expected:
    lab.imap_sees(lab.newest())
    uid = lab.deliver("<later@promises.test>")
    lab.imap_sees((uid, "<later@promises.test>"))
    return None


def restore_rewinds_uidnext(lab: Lab) -> Expected:
    """New mail was seen after the backup; the restore takes UIDNEXT back below it."""
    lab.backup()
    uid = lab.deliver("<after-backup@promises.test>")
    lab.imap_sees((uid, "<after-backup@promises.test>"))
    lab.restore()
    return F.UidnextRewound, lab.inbox, None


def restore_rewinds_what_a_pop3_client_saw(lab: Lab) -> Expected:
    """A unique-id names its UID and UIDVALIDITY: a POP3 client that saw mail after the
    backup holds the same promise as an IMAP client."""
    lab.backup()
    uid = lab.deliver("<after-backup@promises.test>")
    lab.pop_sees(uid, "<after-backup@promises.test>")
    lab.restore()
    return F.UidnextRewound, lab.inbox, None


def restore_then_new_mail_reuses_a_uid(lab: Lab) -> Expected:
    """The reproduction in miniature: the UID a client cached for A now names B."""
    lab.backup("<b@promises.test>")
    uid = lab.deliver("<a@promises.test>")
    lab.imap_sees((uid, "<a@promises.test>"))
    lab.restore()
    assert lab.deliver_queued() == [uid]
    return F.UidReused, f"{lab.inbox}/{lab.folder().uidvalidity}/{uid}", None


def a_uid_seen_without_a_message_id(lab: Lab) -> Expected:
    """A FETCH whose header came back without a Message-ID (a message being expunged, a
    crash under it) tells nothing about which message the UID names: no promise."""
    lab.backup("<b@promises.test>")
    uid = lab.deliver("<a@promises.test>")
    lab.imap_sees((uid, ""))
    lab.restore()
    assert lab.deliver_queued() == [uid]
    return None


def restore_then_new_mail_reuses_a_uidl(lab: Lab) -> Expected:
    """The same for a POP3 client that leaves mail on the server: B would never be fetched."""
    lab.backup("<b@promises.test>")
    uid = lab.deliver("<a@promises.test>")
    uidl = lab.pop_sees(uid, "<a@promises.test>")
    lab.restore()
    assert lab.deliver_queued() == [uid]
    return F.UidlReused, f"{lab.alice.address.lower()}/{uidl}", None


def restore_of_an_older_uidvalidity(lab: Lab) -> Expected:
    lab.backup()
    with MessageStore(lab.layout) as store:
        store.renew_uidvalidity()
    lab.imap_sees(lab.newest())
    lab.restore()
    return F.UidvalidityDecreased, lab.inbox, None


def restore_with_a_new_uidvalidity(lab: Lab) -> Expected:
    """What `imboxmaint newuidvalidity` is for: the rewind is harmless under a new value."""
    lab.backup("<b@promises.test>")
    uid = lab.deliver("<a@promises.test>")
    lab.imap_sees((uid, "<a@promises.test>"))
    lab.restore()
    with MessageStore(lab.layout) as store:
        store.renew_uidvalidity()
    assert lab.deliver_queued() == [uid]
    return None


def new_uidvalidity_without_a_restore(lab: Lab) -> Expected:
    lab.imap_sees(lab.newest())
    with MessageStore(lab.layout) as store:
        store.renew_uidvalidity()
    return F.UidvalidityChangedNeedlessly, lab.inbox, None


def _flag(lab: Lab) -> tuple[int, str, int]:
    """alice sets \\Flagged on her newest message (acknowledged); (uid, Message-ID, op)."""
    uid, message_id = lab.newest()
    with MessageStore(lab.layout) as store:
        row = store.row(RowKey(lab.alice.mailbox, "INBOX", uid))
        assert row is not None and Flag.FLAGGED not in row.flags
        store.set_flags(row.key, row.flags | {Flag.FLAGGED})
    index = lab.history.invoke(SetFlag(lab.alice.address, "imap", message_id, r"\Flagged"))
    lab.history.complete(index, Outcome.OK)
    return uid, message_id, index


def flag_kept(lab: Lab) -> Expected:
    _flag(lab)
    return None


def restore_resets_a_flag(lab: Lab) -> Expected:
    lab.backup()
    _uid, message_id, index = _flag(lab)
    lab.restore()
    return F.AcknowledgedFlagsLost, f"{lab.alice.mailbox}:{message_id}", index


def backup_spool_reinjected(lab: Lab) -> Expected:
    """The backup's queue put back into the live spool after its mail had been delivered: the
    backup queued the message and held no copy, the recipient now has two."""
    mid = "<queued@promises.test>"
    data = f"Message-ID: {mid}\nSubject: queued\n\nhello\n".encode()
    to = (lab.alice.address,)
    index = lab.history.invoke(Deliver(mid, "s@partner.example", to, len(data)))
    lab.history.complete(index, Outcome.OK, result=Deliver(mid, "s@partner.example", to, 1, to))
    queued = Spool(lab.layout.spool).enqueue("s@partner.example", to, data)
    lab.backup()
    lab.restore()
    for _ in range(2):  # the restored queue file delivered, then the re-injected one
        lab.deliver(mid)
    Spool(lab.layout.spool).remove(queued)
    return F.RedeliveredAfterRestore, f"{lab.alice.mailbox}:{mid}", index


def backup_holding_a_crash_duplicate(lab: Lab) -> Expected:
    """A crash before the backup left the message stored and still queued; the restore
    delivers the queued copy: two copies the backup already explains, a warning."""
    mid = "<stored-and-queued@promises.test>"
    data = f"Message-ID: {mid}\nSubject: queued\n\nhello\n".encode()
    to = (lab.alice.address,)
    index = lab.history.invoke(Deliver(mid, "s@partner.example", to, len(data)))
    lab.history.complete(index, Outcome.OK, result=Deliver(mid, "s@partner.example", to, 1, to))
    lab.deliver(mid)
    queued = Spool(lab.layout.spool).enqueue("s@partner.example", to, data)
    lab.backup()
    lab.restore()
    lab.deliver(mid)
    Spool(lab.layout.spool).remove(queued)
    return F.DuplicateDelivery, f"{lab.alice.mailbox}:{mid}", index


def crash_duplicate_is_a_warning(lab: Lab) -> Expected:
    """The same two copies without a spooled backup copy: a crash's at-least-once duplicate."""
    mid = "<twice@promises.test>"
    to = (lab.alice.address,)
    index = lab.history.invoke(Deliver(mid, "s@partner.example", to, 10))
    lab.history.complete(index, Outcome.OK, result=Deliver(mid, "s@partner.example", to, 1, to))
    lab.deliver(mid)
    lab.deliver(mid)
    return F.DuplicateDelivery, f"{lab.alice.mailbox}:{mid}", index


CASES: list[tuple[Case, type[F.Finding] | None]] = [
    (seen_and_kept, None),
    (restore_rewinds_uidnext, F.UidnextRewound),
    (restore_rewinds_what_a_pop3_client_saw, F.UidnextRewound),
    (restore_then_new_mail_reuses_a_uid, F.UidReused),
    (a_uid_seen_without_a_message_id, None),
    (restore_then_new_mail_reuses_a_uidl, F.UidlReused),
    (restore_of_an_older_uidvalidity, F.UidvalidityDecreased),
    (restore_with_a_new_uidvalidity, None),
    (new_uidvalidity_without_a_restore, F.UidvalidityChangedNeedlessly),
    (flag_kept, None),
    (restore_resets_a_flag, F.AcknowledgedFlagsLost),
    (backup_spool_reinjected, F.RedeliveredAfterRestore),
    (backup_holding_a_crash_duplicate, F.DuplicateDelivery),
    (crash_duplicate_is_a_warning, F.DuplicateDelivery),
]
"""Each case with the kind of its one finding (None: no finding)."""


@pytest.mark.parametrize(("case", "kind"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_one_broken_promise_to_clients_is_exactly_one_finding(
    case: Case, kind: type[F.Finding] | None, tree_xs: Layout, tmp_path: Path
) -> None:
    with Directory(tree_xs) as directory:
        alice = sorted(directory.accounts(), key=lambda a: a.entry_id)[0]
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as history:
        lab = Lab(tree_xs, history, alice, tmp_path / "backup" / "tree")
        expected = case(lab)
    assert (expected[0] if expected else None) is kind
    report = run_check(tree_xs.root, history=path, against=lab.against)
    assert report.errors == () and report.skipped == (), report.to_json()
    found = [(type(f), f.subject, f.op) for f in report.findings]
    assert found == ([expected] if expected else []), [str(f) for f in report.findings]
