"""The POP3 front end against an in-memory backend, driven by poplib, raw sockets and curl."""

from __future__ import annotations

import asyncio
import poplib
import shutil
import socket
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import StoreError
from harness.servers.pop3 import (
    dot_stuff,
    start_pop3_server,
    top_lines,
    unique_ids,
    wire_lines,
    wire_size,
)
from harness.store.records import Flag, MailboxStatus, Row, RowKey
from harness.store.uids import UID_MAX, uidl
from tests.support.fake_backend import FakeBackend

pytestmark = pytest.mark.timeout(10)

HOST = "127.0.0.1"
LOGIN = "alice"
PASSWORD = "s3cret pass"
MAILBOX = "mbox-alice"

MSG1 = (
    b"From: bob@example.com\n"
    b"To: alice@example.com\n"
    b"Subject: dots\n"
    b"\n"
    b"first line\n"
    b".leading dot\n"
    b"..two dots\n"
    b".\n"
    b"\n"
    b"last line\n"
)
MSG2 = b"Subject: short\n\nhello\n"
MSG3 = b"Subject: no final newline\n\nbody without newline"


T = TypeVar("T")


def short(client: poplib.POP3, command: str) -> bytes:
    """Send any command through poplib and return its single-line answer."""
    return client._shortcmd(command)  # type: ignore[attr-defined,no-any-return]


class ServerThread:
    """A POP3 server on an ephemeral 127.0.0.1 port, its event loop in a daemon thread."""

    def __init__(self, backend: FakeBackend, *, idle_timeout: float = 600.0) -> None:
        self.backend = backend
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server = self.call(
            start_pop3_server(
                backend,
                HOST,
                0,
                hostname="pop.test",
                idle_timeout=idle_timeout,
                sessions=self.tasks,
            )
        )
        self.port: int = self.server.sockets[0].getsockname()[1]

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    async def _cancel_all(self) -> list[asyncio.Task[None]]:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return tasks

    def cancel_sessions(self) -> list[asyncio.Task[None]]:
        return self.call(self._cancel_all())

    async def _close(self) -> None:
        self.server.close()
        await self._cancel_all()

    def stop(self) -> None:
        self.call(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def pop(self) -> poplib.POP3:
        return poplib.POP3(HOST, self.port, timeout=3)

    def login(self) -> poplib.POP3:
        client = self.pop()
        client.user(LOGIN)
        client.pass_(PASSWORD)
        return client

    def raw(self) -> RawClient:
        return RawClient(socket.create_connection((HOST, self.port), timeout=3))


class RawClient:
    """A line-oriented client over a plain socket, for what poplib will not send."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")

    def line(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, data: bytes) -> bytes:
        self.send(data)
        return self.line()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def backend() -> FakeBackend:
    fake = FakeBackend()
    fake.add_account(LOGIN, PASSWORD, mailbox=MAILBOX)
    fake.add_account("sam", "pw", status=MailboxStatus.SUSPENDED)
    fake.deliver(MAILBOX, MSG1, flags=frozenset({Flag.FLAGGED}))
    fake.deliver(MAILBOX, MSG2)
    fake.deliver(MAILBOX, MSG3)
    return fake


@pytest.fixture
def server(backend: FakeBackend) -> Iterator[ServerThread]:
    srv = ServerThread(backend)
    yield srv
    srv.stop()


def crlf(data: bytes) -> bytes:
    """What a client should receive for a stored message (CRLF lines, final CRLF)."""
    return b"".join(line + b"\r\n" for line in wire_lines(data))


# -- pure helpers ----------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_wire_encoding_round_trips(data: bytes) -> None:
    lines = wire_lines(data)
    assert wire_size(data) == sum(len(x) + 2 for x in lines)
    stuffed = dot_stuff(lines)
    assert stuffed.endswith(b".\r\n")
    body = stuffed[:-3].split(b"\r\n")[:-1] if lines else []
    assert [b[1:] if b.startswith(b".") else b for b in body] == lines
    normalised = data.replace(b"\r\n", b"\n")
    if normalised and not normalised.endswith(b"\n"):
        normalised += b"\n"
    assert b"".join(x + b"\n" for x in lines) == normalised


def test_top_lines() -> None:
    assert top_lines(MSG1, 1) == wire_lines(MSG1)[:5]
    assert top_lines(b"Subject: x\nno body", 3) == [b"Subject: x", b"no body"]


def _row(uid: int, msgid: str) -> Row:
    return Row(RowKey("m", "INBOX", uid), msgid, frozenset(), 0, 1)


def test_unique_ids_are_the_uid_then_the_uidvalidity_in_upper_case_hex() -> None:
    """Dovecot's default pop3_uidl_format %08Xu%08Xv; one copy of a message stored twice (the
    same msgid in two rows) gets two unique-ids, as the uids differ."""
    rows = [_row(1, "aa"), _row(2, "bb"), _row(0xABC, "aa"), _row(4, "bad id\x00")]
    ids = unique_ids(rows, 0x5F5E1000)
    assert ids == ["000000015F5E1000", "000000025F5E1000", "00000ABC5F5E1000", "000000045F5E1000"]
    assert unique_ids(rows, 0xFFFFFFFF)[0] == "00000001FFFFFFFF"


@given(
    st.lists(st.integers(1, UID_MAX), min_size=1, max_size=20, unique=True),
    st.integers(1, UID_MAX),
    st.integers(1, UID_MAX),
)
def test_a_new_uidvalidity_gives_every_message_a_new_rfc1939_unique_id(
    uids: list[int], old: int, new: int
) -> None:
    rows = [_row(uid, "same-msgid") for uid in sorted(uids)]
    before, after = unique_ids(rows, old), unique_ids(rows, new)
    for uid_ in before + after:  # RFC 1939 §7: 1 to 70 characters in 0x21-0x7E
        assert 1 <= len(uid_) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in uid_)
    assert len(set(before)) == len(rows)
    assert (set(before) & set(after) == set()) is (old != new)
    assert before == [uidl(r.key.uid, old) for r in rows]


def test_uidl_refuses_numbers_that_are_not_32_bit() -> None:
    for uid, uidvalidity in [(0, 1), (UID_MAX + 1, 1), (1, -1), (1, UID_MAX + 1)]:
        with pytest.raises(StoreError, match="32-bit"):
            uidl(uid, uidvalidity)


# -- poplib sessions -------------------------------------------------------------------------


def test_round_trip_sizes_uidl_and_top(server: ServerThread, backend: FakeBackend) -> None:
    client = server.login()
    assert client.getwelcome() == b"+OK pop.test POP3 server ready"
    caps = client.capa()
    assert {"TOP", "UIDL", "USER", "RESP-CODES"} <= caps.keys()

    messages = [MSG1, MSG2, MSG3]
    count, total = client.stat()
    assert (count, total) == (3, sum(len(crlf(m)) for m in messages))

    _, listing, _ = client.list()
    sizes = {int(n): int(s) for n, s in (x.split() for x in listing)}
    for number, data in enumerate(messages, 1):
        _, lines, octets = client.retr(number)
        assert b"\n".join(lines) + b"\n" == data.rstrip(b"\n") + b"\n"
        assert octets == sizes[number] == len(crlf(data))
        assert short(client, f"LIST {number}") == f"+OK {number} {sizes[number]}".encode()
    assert b"\n".join(client.retr(1)[1]) + b"\n" == MSG1  # exact bytes, dots unstuffed

    _, listed, _ = client.uidl()
    rows = backend.rows_now(MAILBOX)
    uidvalidity = backend.folder_meta[(MAILBOX, "INBOX")].uidvalidity
    assert [x.split()[1].decode() for x in listed] == [uidl(r.key.uid, uidvalidity) for r in rows]
    assert client.uidl(2) == f"+OK 2 {uidl(rows[1].key.uid, uidvalidity)}".encode()

    _, top, _ = client.top(1, 2)
    assert top == [*MSG1.split(b"\n\n")[0].split(b"\n"), b"", b"first line", b".leading dot"]
    assert client.noop().startswith(b"+OK")
    assert client.quit().startswith(b"+OK")

    assert all(Flag.SEEN in r.flags for r in backend.rows_now(MAILBOX))
    assert Flag.FLAGGED in backend.rows_now(MAILBOX)[0].flags
    assert [c for c, _ in backend.calls].count("expunge") == 0


def test_a_new_uidvalidity_changes_every_uidl_a_session_lists(
    server: ServerThread, backend: FakeBackend
) -> None:
    """What `imboxmaint newuidvalidity` does to POP3 clients: a fresh UIDL epoch."""
    client = server.login()
    before = client.uidl()[1]
    client.quit()
    inbox = (MAILBOX, "INBOX")
    backend.folder_meta[inbox] = replace(backend.folder_meta[inbox], uidvalidity=1_800_000_000)
    client = server.login()
    after = client.uidl()[1]
    client.quit()
    assert [x.split()[0] for x in after] == [x.split()[0] for x in before] == [b"1", b"2", b"3"]
    assert {x.split()[1] for x in after}.isdisjoint(x.split()[1] for x in before)
    assert [x.split()[1][8:] for x in after] == [b"6B49D200"] * 3  # 1_800_000_000 in hex


def test_dele_quit_expunges_keeping_flags(server: ServerThread, backend: FakeBackend) -> None:
    before = backend.rows_now(MAILBOX)
    client = server.login()
    assert client.dele(1).startswith(b"+OK")
    assert client.dele(3).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="already deleted"):
        client.dele(1)
    with pytest.raises(poplib.error_proto):
        client.retr(1)
    assert client.stat() == (1, len(crlf(MSG2)))
    assert [x.split()[0] for x in client.list()[1]] == [b"2"]
    assert client.quit().startswith(b"+OK")

    assert [r.key.uid for r in backend.rows_now(MAILBOX)] == [before[1].key.uid]
    flagged = [args for name, args in backend.calls if name == "set_flags"]
    assert (MAILBOX, "INBOX", 1, frozenset({Flag.FLAGGED, Flag.DELETED})) in flagged
    assert ("expunge", (MAILBOX, "INBOX", (1, 3))) in backend.calls


def test_dele_rset_keeps_messages(server: ServerThread, backend: FakeBackend) -> None:
    client = server.login()
    client.dele(1)
    client.dele(2)
    assert client.rset().startswith(b"+OK")
    assert client.stat()[0] == 3
    client.quit()
    assert len(backend.rows_now(MAILBOX)) == 3
    assert "expunge" not in [c for c, _ in backend.calls]


def test_dele_without_quit_keeps_messages(server: ServerThread, backend: FakeBackend) -> None:
    client = server.login()
    client.dele(1)
    client.close()
    client = server.login()  # a later session still sees all three
    assert client.stat()[0] == 3
    client.quit()
    assert len(backend.rows_now(MAILBOX)) == 3


def test_auth_failures_and_server_keeps_serving(server: ServerThread) -> None:
    client = server.pop()
    client.user(LOGIN)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] invalid credentials"):
        client.pass_("wrong")
    with pytest.raises(poplib.error_proto, match="USER first"):
        client.pass_(PASSWORD)
    with pytest.raises(poplib.error_proto):
        client.stat()  # not in TRANSACTION state
    client.user(LOGIN)
    assert client.pass_(PASSWORD).startswith(b"+OK maildrop has 3")
    with pytest.raises(poplib.error_proto):
        client.user(LOGIN)  # already authenticated
    client.quit()

    other = server.pop()
    other.user("nobody")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        other.pass_("x")
    other.user("sam")
    with pytest.raises(poplib.error_proto, match=r"\[SYS/PERM\] mailbox not available"):
        other.pass_("pw")
    other.quit()
    server.login().quit()


def test_bad_commands_and_arguments(server: ServerThread) -> None:
    client = server.login()
    for command in ("XYZZY", "RETR", "RETR 0", "RETR 4", "RETR x", "RETR +1", "TOP 1", "STAT 1"):
        with pytest.raises(poplib.error_proto, match=r"-ERR"):
            short(client, command)
    with pytest.raises(poplib.error_proto, match="unknown command"):
        short(client, "XYZZY")
    assert client.noop() == b"+OK"
    assert short(client, "noop") == b"+OK"  # keywords are case-insensitive
    client.quit()


def test_backend_down(server: ServerThread, backend: FakeBackend) -> None:
    backend.down = True
    client = server.pop()
    client.user(LOGIN)
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        client.pass_(PASSWORD)
    backend.down = False
    client.user(LOGIN)
    client.pass_(PASSWORD)

    backend.fail_on = {"fetch"}
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        client.retr(1)
    backend.fail_on = set()
    client.dele(2)
    backend.down = True
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        client.quit()
    assert client.file.readline() == b""  # the server closed the session
    client.close()
    backend.down = False
    assert len(backend.rows_now(MAILBOX)) == 3

    client = server.login()
    client.dele(2)
    backend.fail_on = {"set_flags"}  # RETR's Seen is best effort; UPDATE is not
    assert client.retr(1)[0].startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        client.quit()
    assert client.file.readline() == b""  # the server closed the session
    client.close()
    assert len(backend.rows_now(MAILBOX)) == 3


def test_retr_of_a_message_another_session_removed_is_no_such_message(
    server: ServerThread, backend: FakeBackend
) -> None:
    client = server.login()
    row = backend.folder_rows[(MAILBOX, "INBOX")].pop(2)  # expunged and purged meanwhile
    del backend.messages[row.msgid]
    for command in ("RETR 2", "TOP 2 0"):
        with pytest.raises(poplib.error_proto) as refused:
            short(client, command)
        assert refused.value.args[0] == b"-ERR no such message"
    assert client.retr(3)[0].startswith(b"+OK")
    client.dele(2)
    assert client.quit().startswith(b"+OK")
    assert [r.key.uid for r in backend.rows_now(MAILBOX)] == [1, 3]


# -- raw sockets ----------------------------------------------------------------------------


def test_oversized_lines_and_bare_lf(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.line().startswith(b"+OK")
    assert raw.cmd(b"A" * 10_000 + b"\r\n") == b"-ERR line too long\r\n"
    assert raw.cmd(b"B" * 600 + b"\n") == b"-ERR line too long\r\n"
    assert raw.cmd(b"C" * 511 + b"\n") == b"-ERR unknown command\r\n"
    raw.send(b"USER alice\nPASS " + PASSWORD.encode() + b"\n")  # bare LF, pipelined
    assert raw.line() == b"+OK send PASS\r\n"
    assert raw.line().startswith(b"+OK maildrop")
    raw.send(b"X" * 100_000 + b"\r\nNOOP\r\n")  # the next command right behind the long line
    assert raw.line() == b"-ERR line too long\r\n"
    assert raw.line() == b"+OK\r\n"
    assert raw.cmd(b"FOO\r\n") == b"-ERR unknown command\r\n"
    assert raw.cmd(b"NOOP\r\n") == b"+OK\r\n"
    assert raw.cmd(b"QUIT\r\n").startswith(b"+OK")
    assert raw.line() == b""
    raw.close()


def test_idle_timeout_closes_silently(backend: FakeBackend) -> None:
    srv = ServerThread(backend, idle_timeout=0.2)
    try:
        raw = srv.raw()
        assert raw.line().startswith(b"+OK")
        assert raw.line() == b""  # closed without a response
        raw.close()
    finally:
        srv.stop()


def test_cancellation_sends_shutdown_line(server: ServerThread) -> None:
    client = server.login()
    tasks = server.cancel_sessions()
    assert len(tasks) == 1 and tasks[0].cancelled()
    assert client.file.readline() == b"-ERR [SYS/TEMP] server shutting down\r\n"
    assert client.file.readline() == b""
    client.close()


# -- curl ------------------------------------------------------------------------------------


def _curl_has_pop3() -> bool:
    curl = shutil.which("curl")
    if curl is None:
        return False
    out = subprocess.run([curl, "--version"], capture_output=True, text=True, check=False)
    protocols = next((x for x in out.stdout.splitlines() if x.startswith("Protocols:")), "")
    return "pop3" in protocols.split()


@pytest.mark.skipif(not _curl_has_pop3(), reason="curl is missing or built without pop3")
def test_curl_lists_and_retrieves(server: ServerThread) -> None:
    base = f"pop3://{HOST}:{server.port}"
    user = f"{LOGIN}:{PASSWORD}"

    def curl(path: str) -> bytes:
        cmd = ["curl", "-s", "-S", "--max-time", "3", f"{base}/{path}", "-u", user]
        return subprocess.run(cmd, capture_output=True, check=True, timeout=4).stdout

    listing = curl("")
    assert listing.splitlines() == [
        f"{n} {len(crlf(m))}".encode() for n, m in enumerate([MSG1, MSG2, MSG3], 1)
    ]
    assert curl("1") == crlf(MSG1)
