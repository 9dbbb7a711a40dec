"""The servers, live: protocols round trip with real clients, drain and stop, spooling, errors."""

from __future__ import annotations

import imaplib
import json
import os
import poplib
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time

import pytest

from harness import control
from harness.layout import Layout
from harness.store.spool import Spool
from harness.waiting import poll_until
from tests.support.live import active_logins, endpoints, wait_spool_empty

pytestmark = pytest.mark.integration

MESSAGE = (
    b"From: Ann <ann@partner.example>\r\nTo: someone\r\nSubject: hello round trip\r\n"
    b"Message-ID: <rt-1@partner.example>\r\n\r\nfirst line\r\n.a line with a dot\r\n"
    b"last line\r\n"
)


def _send(layout: Layout, rcpts: list[str], body: bytes = MESSAGE) -> None:
    ep = endpoints(layout)
    with smtplib.SMTP(*ep.smtp, timeout=10) as smtp:
        assert smtp.sendmail("ann@partner.example", rcpts, body) == {}


def test_smtp_pop3_imap_round_trip_with_standard_clients(live_xs: Layout) -> None:
    ep = endpoints(live_xs)
    first, second = active_logins(live_xs)[:2]
    _send(live_xs, [first.address, second.address])
    wait_spool_empty(live_xs)

    pop = poplib.POP3(*ep.pop3, timeout=10)
    pop.user(first.login)
    pop.pass_(first.password)
    count, _ = pop.stat()
    _, lines, _ = pop.retr(count)
    assert b"Subject: hello round trip" in lines and b".a line with a dot" in lines
    uidl = pop.uidl(count)
    assert uidl.startswith(b"+OK")
    pop.quit()

    imap = imaplib.IMAP4(*ep.imap, timeout=10)
    imap.login(second.login, second.password)
    imap.select("INBOX")
    typ, data = imap.search(None, "SUBJECT", '"round trip"')
    assert typ == "OK" and len(data[0].split()) == 1
    typ, fetched = imap.fetch(data[0].decode(), "(BODY.PEEK[] RFC822.SIZE)")
    body = next(p[1] for p in fetched if isinstance(p, tuple))
    assert b"first line\r\n.a line with a dot\r\nlast line" in body
    imap.logout()


def test_a_multi_recipient_message_is_stored_once(live_xs: Layout) -> None:
    from harness.checker.run import run_check

    logins = active_logins(live_xs)[:3]
    before = run_check(live_xs.root).stats["messages_verified"]
    _send(live_xs, [a.address for a in logins])
    wait_spool_empty(live_xs)
    report = run_check(live_xs.root)
    assert report.stats["messages_verified"] == before + 1
    assert report.findings == ()


def _require_curl() -> None:
    """Skip without curl, but fail in CI (FIREDRILL_REQUIRE_DOCKER=1, set by .ci/run), where
    `make test` installs it."""
    if shutil.which("curl") is not None:
        return
    if os.environ.get("FIREDRILL_REQUIRE_DOCKER") == "1":
        pytest.fail("FIREDRILL_REQUIRE_DOCKER=1 (CI) but curl is not installed")
    pytest.skip("curl is not installed")


def test_curl_sends_lists_retrieves_searches_and_fetches(live_xs: Layout, tmp_path) -> None:
    _require_curl()
    ep = endpoints(live_xs)
    account = active_logins(live_xs)[0]
    mail = tmp_path / "mail.txt"
    mail.write_bytes(MESSAGE.replace(b"hello round trip", b"curl subject zebra"))

    def curl(*args: str) -> str:
        done = subprocess.run(
            ["curl", "-sS", "--max-time", "20", *args], capture_output=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.decode()

    curl(
        f"smtp://{ep.smtp[0]}:{ep.smtp[1]}",
        "--mail-from",
        "ann@partner.example",
        "--mail-rcpt",
        account.address,
        "-T",
        str(mail),
    )
    wait_spool_empty(live_xs)
    auth = f"{account.login}:{account.password}"
    listing = curl(f"pop3://{ep.pop3[0]}:{ep.pop3[1]}/", "-u", auth)
    last = listing.strip().splitlines()[-1].split()[0]
    assert "curl subject zebra" in curl(f"pop3://{ep.pop3[0]}:{ep.pop3[1]}/{last}", "-u", auth)
    found = curl(
        f"imap://{ep.imap[0]}:{ep.imap[1]}/INBOX", "-u", auth, "-X", "UID SEARCH SUBJECT zebra"
    )
    uid = found.split()[-1]
    assert "curl subject zebra" in curl(
        f"imap://{ep.imap[0]}:{ep.imap[1]}/INBOX;UID={uid}", "-u", auth
    )


def _refused(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return False
    except OSError:
        return True


def test_drain_lets_an_open_smtp_session_finish_and_refuses_new_connections(
    live_xs: Layout,
) -> None:
    ep = endpoints(live_xs)
    account = active_logins(live_xs)[0]
    smtp = smtplib.SMTP(*ep.smtp, timeout=10)
    smtp.ehlo()
    assert smtp.mail("ann@partner.example")[0] == 250
    assert smtp.rcpt(account.address)[0] == 250
    drainer = threading.Thread(target=control.drain, args=(live_xs, ["mta"]))
    drainer.start()
    poll_until(lambda: _refused(ep.smtp), 10, 0.05, "the draining MTA to refuse connections")
    code, reply = smtp.data(MESSAGE)
    assert code == 250, reply
    smtp.quit()
    drainer.join(timeout=30)
    assert not drainer.is_alive()
    assert control.running_pid(live_xs, "mta") is None
    control.start(live_xs, ["mta"])
    wait_spool_empty(live_xs)


def test_drain_lets_an_open_pop3_session_finish(live_xs: Layout) -> None:
    ep = endpoints(live_xs)
    account = active_logins(live_xs)[0]
    pop = poplib.POP3(*ep.pop3, timeout=10)
    pop.user(account.login)
    pop.pass_(account.password)
    count, _ = pop.stat()
    drainer = threading.Thread(target=control.drain, args=(live_xs, ["popserv"]))
    drainer.start()
    poll_until(lambda: _refused(ep.pop3), 10, 0.05, "the draining POP3 to refuse connections")
    pop.dele(count)
    assert pop.quit().startswith(b"+OK")
    drainer.join(timeout=30)
    assert not drainer.is_alive()
    control.start(live_xs, ["popserv"])
    pop = poplib.POP3(*ep.pop3, timeout=10)
    pop.user(account.login)
    pop.pass_(account.password)
    assert pop.stat()[0] == count - 1
    pop.quit()


def test_stop_closes_open_sessions_and_refuses_new_connections(live_xs: Layout) -> None:
    ep = endpoints(live_xs)
    account = active_logins(live_xs)[0]
    imap = imaplib.IMAP4(*ep.imap, timeout=10)
    imap.login(account.login, account.password)
    smtp = smtplib.SMTP(*ep.smtp, timeout=10)
    smtp.ehlo()
    control.stop(live_xs, ["mta", "imapserv"])
    assert _refused(ep.smtp) and _refused(ep.imap)
    with pytest.raises((OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error)):
        imap.select("INBOX")
        imap.noop()
    with pytest.raises((OSError, smtplib.SMTPException)):
        smtp.noop()
        smtp.mail("x@partner.example")


def test_imap_drain_follows_the_stop_policy(live_xs: Layout) -> None:
    ep = endpoints(live_xs)
    account = active_logins(live_xs)[0]
    imap = imaplib.IMAP4(*ep.imap, timeout=10)
    imap.login(account.login, account.password)
    started = time.monotonic()
    control.drain(live_xs, ["imapserv"])
    assert time.monotonic() - started < 5, "an IMAP drain must not wait for the session"
    with pytest.raises((OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error)):
        imap.noop()


def test_mail_is_spooled_while_the_mss_is_down_and_delivered_when_it_returns(
    live_xs: Layout,
) -> None:
    from harness.checker.run import run_check

    account = active_logins(live_xs)[0]
    control.stop(live_xs, ["mss"])
    for n in range(3):
        _send(live_xs, [account.address], MESSAGE.replace(b"rt-1", f"spooled-{n}".encode()))
    time.sleep(0.5)
    assert len(Spool(live_xs.spool).paths()) == 3
    control.start(live_xs, ["mss"])
    wait_spool_empty(live_xs)
    ep = endpoints(live_xs)
    imap = imaplib.IMAP4(*ep.imap, timeout=10)
    imap.login(account.login, account.password)
    imap.select("INBOX")
    typ, data = imap.search(None, "SUBJECT", '"round trip"')
    assert typ == "OK" and len(data[0].split()) == 3
    imap.logout()
    assert run_check(live_xs.root).findings == ()


def test_status_json_lists_every_server_and_a_stale_pid_does_not_block_start(
    live_xs: Layout,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli.imctrl",
            "--root",
            str(live_xs.root),
            "status",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == ["dirserv", "confserv", "mss", "mta", "popserv", "imapserv"]
    assert all(r["state"] == "running" and r["pid"] and r["host"] and r["port"] for r in rows)
    assert all(r["address"].startswith("127.") for r in rows)
    assert control.kill(live_xs, ["mss"]) == ["mss"]
    assert (live_xs.run / "mss.pid").exists()  # the stale pid file of a crashed server
    control.start(live_xs, ["mss"])
    assert control.running_pid(live_xs, "mss")


def test_bad_smtp_input_gets_errors_and_the_server_keeps_serving(live_xs: Layout) -> None:
    ep = endpoints(live_xs)
    with socket.create_connection(ep.smtp, timeout=10) as sock:
        stream = sock.makefile("rwb")
        assert stream.readline().startswith(b"220")

        def say(line: bytes) -> bytes:
            stream.write(line + b"\r\n")
            stream.flush()
            return stream.readline()

        assert say(b"HELO tester").startswith(b"250")
        assert say(b"BOGUS command").startswith(b"500")
        assert say(b"MAIL TO:<wrong@verb.example>").startswith(b"501")
        assert say(b"RCPT TO:<a@example.com>").startswith(b"503")
        assert say(b"MAIL FROM:" + b"x" * 2000).startswith(b"500")
        assert say(b"MAIL FROM:<a@partner.example>").startswith(b"250")
        assert say(b"RCPT TO:<nobody.here@example.com>").startswith(b"550")
        assert say(b"RCPT TO:<someone@elsewhere.example>").startswith(b"550")
        assert say(b"NOOP").startswith(b"250")
    account = active_logins(live_xs)[0]
    _send(live_xs, [account.address])


def test_wrong_passwords_and_unknown_imap_commands_keep_servers_serving(live_xs: Layout) -> None:
    ep = endpoints(live_xs)
    account = active_logins(live_xs)[0]
    pop = poplib.POP3(*ep.pop3, timeout=10)
    pop.user(account.login)
    with pytest.raises(poplib.error_proto):
        pop.pass_("wrong password")
    pop.quit()
    imap = imaplib.IMAP4(*ep.imap, timeout=10)
    with pytest.raises(imaplib.IMAP4.error):
        imap.login(account.login, "wrong password")
    imap.login(account.login, account.password)
    assert imap.select("INBOX")[0] == "OK"
    imap.logout()
    with socket.create_connection(ep.imap, timeout=10) as sock:
        stream = sock.makefile("rwb")
        assert stream.readline().startswith(b"* OK")
        for line, answer in (
            (b"a1 FROBNICATE now", b"a1 BAD"),
            (b"a2 SELECT INBOX", b"a2 BAD"),
            (b"x" * 70_000, b"* BAD"),
            (f"a3 LOGIN {account.login} {account.password}".encode(), b"a3 OK"),
        ):
            stream.write(line + b"\r\n")
            stream.flush()
            reply = stream.readline()
            while reply.startswith(b"* ") and not answer.startswith(b"*"):
                reply = stream.readline()
            assert reply.startswith(answer), (line[:20], reply)


def test_restarts_succeed_while_status_is_polled_from_another_thread(live_xs: Layout) -> None:
    """`imctrl status` tests a server's lock by taking it for an instant; a server starting in
    that instant must wait for it, not exit saying it already runs (a selftest flake)."""
    polling = threading.Event()
    polling.set()

    def poll() -> None:
        while polling.is_set():
            control.running_pid(live_xs, "dirserv")

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        for _ in range(5):
            control.drain(live_xs, ["dirserv"])
            control.start(live_xs, ["dirserv"])
    finally:
        polling.clear()
        poller.join()
    assert control.running_pid(live_xs, "dirserv")


def test_concurrent_sessions_keep_each_others_flags(live_xs: Layout) -> None:
    """A session's +FLAGS and the implicit \\Seen of a FETCH change the row as stored, not
    the session's copy from SELECT: a flag another session stored meanwhile is kept (a lost
    update here would undo an acknowledged STORE: acknowledged-flags-lost)."""
    ep = endpoints(live_xs)
    who = next(a for a in active_logins(live_xs) if a.password)
    sessions = []
    for _ in range(3):
        imap = imaplib.IMAP4(*ep.imap, timeout=10)
        imap.login(who.login, who.password)
        imap.select("INBOX")
        sessions.append(imap)
    first, second, third = sessions
    typ, data = first.uid("SEARCH", "UNSEEN UNFLAGGED")
    assert typ == "OK" and data[0], "the lab has an unseen, unflagged message"
    uid = data[0].split()[0].decode()
    assert second.uid("STORE", uid, "+FLAGS.SILENT", r"(\Flagged)")[0] == "OK"
    assert first.uid("FETCH", uid, "(BODY[])")[0] == "OK"  # sets \Seen from a stale copy
    assert third.uid("STORE", uid, "+FLAGS.SILENT", r"(\Answered)")[0] == "OK"
    assert first.uid("STORE", uid, "-FLAGS.SILENT", r"(\Answered)")[0] == "OK"
    check = imaplib.IMAP4(*ep.imap, timeout=10)
    check.login(who.login, who.password)
    check.select("INBOX", readonly=True)
    typ, data = check.uid("FETCH", uid, "(FLAGS)")
    flags = data[0].decode() if isinstance(data[0], bytes) else ""
    assert "\\Flagged" in flags and "\\Seen" in flags and "\\Answered" not in flags, flags
    for imap in (*sessions, check):
        imap.logout()
