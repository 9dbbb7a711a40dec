"""`imboxmaint newuidvalidity` and the restores that run it: every folder gets a new, strictly
greater UIDVALIDITY with its UIDs and UIDNEXT kept (RFC 3501 §2.3.1.1), only offline, only in a
sandbox; after the built-in chapter 13 restore IMAP clients see a greater UIDVALIDITY and POP3
clients new unique-ids."""

from __future__ import annotations

import fcntl
import imaplib
import poplib
import re
import smtplib
import time
from pathlib import Path

import pytest

from harness.cli.imboxmaint import main
from harness.environments.local import LocalBackend
from harness.errors import StoreError
from harness.history import Event, HistoryWriter, read_history
from harness.layout import Layout
from harness.locks import lock_path
from harness.procedures import Custom, ProcedureContext, procedure_for, run_restore, take_backup
from harness.sandbox import init_tree
from harness.store.messagestore import MessageStore
from harness.store.records import FolderMeta, Row
from harness.store.uids import UID_MAX
from tests.support.cli import IMBOXMAINT, run_module
from tests.support.live import active_logins, endpoints, wait_spool_empty

pytestmark = pytest.mark.integration

DONE = re.compile(r"^imboxmaint: newuidvalidity: (\d+) folders got a new UIDVALIDITY\n$")


def _store(layout: Layout) -> tuple[dict[tuple[str, str], FolderMeta], list[Row]]:
    """Every folder by (mailbox, folder), and every row (servers stopped)."""
    with MessageStore(layout) as store:
        return {(f.mailbox, f.folder): f for f in store.folders()}, list(store.rows())


def test_every_folder_gets_a_greater_uidvalidity_and_keeps_its_uids(
    tree_xs: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    folders, rows = _store(tree_xs)
    started = int(time.time())
    for _ in range(2):  # twice within a second: greater again (old + 1)
        assert main(["--root", str(tree_xs.root), "newuidvalidity"]) == 0
        out, err = capsys.readouterr()
        done = DONE.match(out)
        assert done and int(done.group(1)) == len(folders) and err == "", (out, err)
        renewed, rows_after = _store(tree_xs)
        assert renewed.keys() == folders.keys() and len(folders) > 10
        for key, old in folders.items():
            new = renewed[key]
            assert new.uidvalidity > old.uidvalidity and new.uidvalidity >= started
            assert (new.uidnext, new.count, new.size, new.unseen) == (
                old.uidnext,
                old.count,
                old.size,
                old.unseen,
            )
        assert rows_after == rows
        folders = renewed


def test_a_restored_older_uidvalidity_and_a_future_one_both_grow(tmp_path: Path) -> None:
    """max(old + 1, now): an old value jumps to now, one ahead of the clock still grows by 1;
    one that cannot grow within 32 bits refuses the whole step."""
    layout = init_tree(tmp_path / "intermail")
    now = 1_800_000_000
    with MessageStore(layout) as store:
        store.create_mailbox("old", "o1", folders=("INBOX",), created=1_000)
        store.create_mailbox("ahead", "o2", folders=("INBOX",), created=now + 50)
        assert store.renew_uidvalidity(now=now) == 2
        assert [f.uidvalidity for f in store.folders()] == [now + 51, now]
        store.create_mailbox("full", "o3", folders=("INBOX",), created=UID_MAX)
        with pytest.raises(StoreError, match="does not fit in 32 bits"):
            store.renew_uidvalidity(now=now + 100)
        assert [f.uidvalidity for f in store.folders()] == [now + 51, UID_MAX, now]


def test_it_refuses_while_servers_run_in_one_line(live_xs: Layout) -> None:
    done = run_module(IMBOXMAINT, "--root", str(live_xs.root), "newuidvalidity")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "servers are running (dirserv" in done.stderr
    assert "imctrl stop allservers" in done.stderr and "Traceback" not in done.stderr


def test_it_refuses_while_an_mss_holds_or_takes_its_lock(
    tree_xs: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    folders, _ = _store(tree_xs)
    tree_xs.run.mkdir(exist_ok=True)
    with lock_path(tree_xs, "mss").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["--root", str(tree_xs.root), "newuidvalidity"]) == 2
    refused = (
        f"refusing newuidvalidity on {tree_xs.root}: an mss holds run/mss.lock (it is starting)"
    )
    assert capsys.readouterr().err == f"imboxmaint: error: {refused}\n"
    assert _store(tree_xs)[0] == folders


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--root", "{tmp}/missing"], "the directory does not exist"),
        (["--root", "{tmp}/file"], "it is not a directory"),
        (["--root", "{tmp}/bare"], "no message store at"),
        ([], "pass --root DIR or set $INTERMAIL"),
    ],
    ids=["missing", "file", "no-store", "no-root"],
)
def test_a_bad_root_is_one_line_and_exit_2(
    args: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTERMAIL", raising=False)
    (tmp_path / "file").write_text("x")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / ".firedrill-sandbox").write_text("{}\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = [a.format(tmp=tmp_path) for a in args]
    done = run_module(IMBOXMAINT, *argv, "newuidvalidity", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_an_operators_restore_runs_it_as_imboxmaint(tree_xs: Layout, tmp_path: Path) -> None:
    folders, _ = _store(tree_xs)
    restore = """sh -c '"$IMBOXMAINT" --root "$INTERMAIL" newuidvalidity'"""
    with HistoryWriter(tmp_path / "history.jsonl") as history:
        ctx = ProcedureContext(tree_xs, LocalBackend(tree_xs), history, tmp_path)
        Custom("true", restore).restore(ctx, tmp_path / "backup")
    assert DONE.match(ctx.outputs[-1]), ctx.outputs
    renewed, _ = _store(tree_xs)
    assert all(renewed[k].uidvalidity > f.uidvalidity for k, f in folders.items())


def _select(layout: Layout, login: str, password: str) -> tuple[int, int]:
    """(UIDVALIDITY, UIDNEXT) a fresh IMAP session is told when it SELECTs INBOX."""
    imap = imaplib.IMAP4(*endpoints(layout).imap, timeout=10)
    try:
        imap.login(login, password)
        assert imap.select("INBOX")[0] == "OK"
        codes = {}
        for code in ("UIDVALIDITY", "UIDNEXT"):
            typ, data = imap.response(code)
            assert typ == code and data[0] is not None, (code, data)
            codes[code] = int(data[0])
        return codes["UIDVALIDITY"], codes["UIDNEXT"]
    finally:
        imap.logout()


def _uidls(layout: Layout, login: str, password: str) -> set[bytes]:
    pop = poplib.POP3(*endpoints(layout).pop3, timeout=10)
    try:
        pop.user(login)
        pop.pass_(password)
        return {line.split()[1] for line in pop.uidl()[1]}
    finally:
        pop.quit()


def test_after_the_chapter13_restore_imap_sees_a_greater_uidvalidity(
    live_xs: Layout, tmp_path: Path
) -> None:
    """A client caches UIDVALIDITY; the backup is taken; mail arrives (UIDNEXT moves on); the
    restore rewinds UIDNEXT, and a new session is told a greater UIDVALIDITY (and POP3 gives
    every message a new unique-id), so no cached UID or UIDL names another message."""
    user = active_logins(live_xs)[0]
    cached, _ = _select(live_xs, user.login, user.password)
    procedure = procedure_for("chapter13")
    with HistoryWriter(tmp_path / "history.jsonl") as history:
        ctx = ProcedureContext(live_xs, LocalBackend(live_xs), history, tmp_path)
        take_backup(procedure, ctx, tmp_path / "backup")
        seen_uidls = _uidls(live_xs, user.login, user.password)
        with smtplib.SMTP(*endpoints(live_xs).smtp, timeout=10) as smtp:
            smtp.sendmail("ann@partner.example", [user.address], b"Subject: after\r\n\r\nx\r\n")
        wait_spool_empty(live_xs)
        same, moved_on = _select(live_xs, user.login, user.password)
        restored = run_restore(procedure, ctx, tmp_path / "backup")
    uidvalidity, uidnext = _select(live_xs, user.login, user.password)
    assert same == cached and uidnext == moved_on - 1  # rewound by the restore...
    assert uidvalidity > cached  # ...under a new, greater UIDVALIDITY
    assert _uidls(live_xs, user.login, user.password).isdisjoint(seen_uidls)
    assert DONE.match(restored.output.splitlines()[-1] + "\n"), restored.output
    events = [r for r in read_history(tmp_path / "history.jsonl") if isinstance(r, Event)]
    names = [e.name for e in events if e.kind == "procedure"]
    restore = ["restore-start", "new-uidvalidity", "restore-end"]
    assert names[names.index("restore-start") :] == restore
