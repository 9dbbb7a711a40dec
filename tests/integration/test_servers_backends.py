"""The servers, live, while dirserv and the MSS restart, go away, or lose what others removed."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
import smtplib
import time
from typing import Any

import pytest

from harness import control
from harness.layout import Layout
from harness.servers.wire import SyncWireClient, WireClient, WireError
from harness.store.config import load
from harness.store.spool import Spool
from harness.topology import endpoint
from tests.support.live import active_logins, endpoints, wait_spool_empty

pytestmark = pytest.mark.integration


def _message(tag: str) -> bytes:
    return (
        f"From: Ann <ann@partner.example>\r\nTo: someone\r\nSubject: backends {tag}\r\n"
        f"Message-ID: <{tag}@partner.example>\r\n\r\nbody of {tag}\r\n"
    ).encode()


def _send(layout: Layout, rcpts: list[str], tag: str) -> None:
    with smtplib.SMTP(*endpoints(layout).smtp, timeout=10) as smtp:
        assert smtp.sendmail("ann@partner.example", rcpts, _message(tag)) == {}


def _mss(layout: Layout) -> SyncWireClient:
    where = endpoint(load(layout.config), "mss")
    return SyncWireClient(where.address, where.port)


def _imap(layout: Layout, login: str, password: str) -> imaplib.IMAP4:
    imap = imaplib.IMAP4(*endpoints(layout).imap, timeout=10)
    assert imap.login(login, password)[0] == "OK"
    assert imap.select("INBOX")[0] == "OK"
    return imap


def _pop(layout: Layout, login: str, password: str) -> tuple[poplib.POP3, int]:
    """A POP3 session in TRANSACTION state and its message count (from PASS, no fetching)."""
    pop = poplib.POP3(*endpoints(layout).pop3, timeout=10)
    pop.user(login)
    answer = pop.pass_(password)
    assert answer.startswith(b"+OK maildrop has "), answer
    return pop, int(answer.split()[3])


def _found(layout: Layout, login: str, password: str, tag: str) -> int:
    imap = _imap(layout, login, password)
    typ, data = imap.search(None, "HEADER", "Message-ID", f"<{tag}@partner.example>")
    imap.logout()
    assert typ == "OK"
    return len(data[0].split())


def _expunge_issued(reply: tuple[str, list[Any]]) -> bool:
    typ, data = reply
    return typ == "NO" and isinstance(data[0], bytes) and data[0].startswith(b"[EXPUNGEISSUED]")


def _log_from(layout: Layout, program: str, offset: int = 0) -> str:
    return (layout.logs / f"{program}.log").read_bytes()[offset:].decode(errors="replace")


def test_the_first_logins_and_rcpt_after_the_mss_and_dirserv_restart_succeed(
    live_xs: Layout,
) -> None:
    account = active_logins(live_xs)[0]
    _send(live_xs, [account.address], "before-restart")  # the MTA holds both connections
    wait_spool_empty(live_xs)
    _imap(live_xs, account.login, account.password).logout()  # so do imapserv and popserv
    pop, _ = _pop(live_xs, account.login, account.password)
    pop.quit()
    mta_log = (live_xs.logs / "mta.log").stat().st_size

    control.restart(live_xs, ["mss", "dirserv"])

    imap = imaplib.IMAP4(*endpoints(live_xs).imap, timeout=10)
    assert imap.login(account.login, account.password)[0] == "OK"
    assert imap.select("INBOX")[0] == "OK"
    imap.logout()
    pop = poplib.POP3(*endpoints(live_xs).pop3, timeout=10)
    pop.user(account.login)
    assert pop.pass_(account.password).startswith(b"+OK")
    pop.quit()
    with smtplib.SMTP(*endpoints(live_xs).smtp, timeout=10) as smtp:
        assert smtp.ehlo()[0] == 250
        assert smtp.mail("ann@partner.example")[0] == 250
        assert smtp.rcpt("nobody.here@example.com")[0] == 550
        assert smtp.rcpt(account.address)[0] == 250
        assert smtp.data(_message("after-restart"))[0] == 250
    wait_spool_empty(live_xs)
    assert "deferred" not in _log_from(live_xs, "mta", mta_log)
    assert _found(live_xs, account.login, account.password, "after-restart") == 1


def test_fetch_and_store_of_a_message_another_imap_session_expunged_are_expungeissued(
    live_xs: Layout,
) -> None:
    account = active_logins(live_xs)[0]
    for tag in ("vanish-1", "vanish-2"):
        _send(live_xs, [account.address], tag)
    wait_spool_empty(live_xs)
    mine = _imap(live_xs, account.login, account.password)
    other = _imap(live_xs, account.login, account.password)
    typ, data = other.search(None, "SUBJECT", "vanish")
    assert typ == "OK"
    kept, gone = data[0].decode().split()
    assert other.store(gone, "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert other.expunge() == ("OK", [gone.encode()])
    other.logout()

    assert _expunge_issued(mine.store(gone, "+FLAGS", "(\\Flagged)"))
    assert _expunge_issued(mine.fetch(gone, "(BODY[])"))  # setting \Seen finds no row
    _mss(live_xs).call("purge")
    assert _expunge_issued(mine.fetch(f"{kept}:{gone}", "(BODY.PEEK[])"))  # nor its file
    bodies = [d[1] for d in mine.response("FETCH")[1] if isinstance(d, tuple)]
    assert len(bodies) == 1 and b"body of vanish-1" in bodies[0]
    assert mine.noop()[0] == "OK"
    assert mine.response("EXPUNGE")[1] == [gone.encode()]
    mine.logout()
    assert "Traceback" not in _log_from(live_xs, "imapserv")


def test_retr_of_a_message_another_pop3_session_removed_is_no_such_message(
    live_xs: Layout,
) -> None:
    account = active_logins(live_xs)[0]
    _send(live_xs, [account.address], "pop-vanish")
    wait_spool_empty(live_xs)
    mine, count = _pop(live_xs, account.login, account.password)
    other, _ = _pop(live_xs, account.login, account.password)
    other.dele(count)
    assert other.quit().startswith(b"+OK")
    _mss(live_xs).call("purge")

    with pytest.raises(poplib.error_proto) as refused:
        mine.retr(count)
    assert refused.value.args[0] == b"-ERR no such message"
    assert mine.noop() == b"+OK"
    assert mine.quit().startswith(b"+OK")
    assert "Traceback" not in _log_from(live_xs, "popserv")


def test_a_recipient_whose_mailbox_the_mss_lacks_bounces_and_the_others_get_the_message(
    live_xs: Layout,
) -> None:
    ghost_address = "ghost@example.com"
    dirserv = SyncWireClient(*endpoints(live_xs).dirserv)
    ghost = dirserv.call("create", address=ghost_address, password="boo").result
    _mss(live_xs).call("delete_mailbox", mailbox=ghost["mailbox"])
    account = active_logins(live_xs)[0]

    _send(live_xs, [ghost_address, account.address], "half-bounced")
    wait_spool_empty(live_xs, timeout=15)
    assert _found(live_xs, account.login, account.password, "half-bounced") == 1
    assert f"bounce: {ghost_address}: mailbox {ghost['mailbox']}" in _log_from(live_xs, "mta")


def test_mail_is_spooled_while_dirserv_is_down_and_delivered_when_it_returns(
    live_xs: Layout,
) -> None:
    account = active_logins(live_xs)[0]
    control.stop(live_xs, ["dirserv"])
    _send(live_xs, [account.address, "nobody.here@example.com"], "dirserv-down")
    time.sleep(1)
    assert len(Spool(live_xs.spool).paths()) == 1
    control.start(live_xs, ["dirserv"])
    wait_spool_empty(live_xs)
    assert _found(live_xs, account.login, account.password, "dirserv-down") == 1
    assert "bounce: nobody.here@example.com has no account" in _log_from(live_xs, "mta")


def test_dirserv_modify_changes_name_status_and_password_and_refuses_the_rest(
    live_xs: Layout,
) -> None:
    account = active_logins(live_xs)[0]
    client = WireClient(*endpoints(live_xs).dirserv)

    async def modify(address: str, **changes: object) -> dict[str, object]:
        reply = await client.call("modify", address=address, changes=changes)
        result: dict[str, object] = reply.result
        return result

    async def refusal(address: str, **changes: object) -> str:
        with pytest.raises(WireError) as refused:
            await modify(address, **changes)
        return refused.value.code

    async def scenario() -> None:
        changed = await modify(account.address, name="Renamed", password="new secret")
        assert changed["name"] == "Renamed" and changed["status"] == "active"
        assert (await client.call("lookup", address=account.address)).result["name"] == "Renamed"
        assert (await client.call("auth", login=account.login, password="new secret")).result
        with pytest.raises(WireError) as old:
            await client.call("auth", login=account.login, password=account.password)
        assert old.value.code == "notfound"
        assert (await modify(account.address, status="maintenance", cos="gold"))["cos"] == "gold"
        assert await refusal(account.address, mailbox="elsewhere") == "invalid"
        assert await refusal(account.address, status="on holiday") == "invalid"
        assert await refusal("nobody.here@example.com", name="x") == "notfound"
        await client.close()

    asyncio.run(scenario())
    imap = imaplib.IMAP4(*endpoints(live_xs).imap, timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
        imap.login(account.login, "new secret")
    imap.logout()
