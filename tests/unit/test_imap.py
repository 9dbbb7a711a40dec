"""The IMAP front end against an in-memory backend: imaplib, raw sockets and curl."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from harness.servers.imap import (
    list_entries,
    serve_imap,
    start_imap_server,
    stop_imap_server,
    to_crlf,
)
from harness.servers.imap.parse import (
    format_internal_date,
    parse_command,
    parse_fetch_atts,
    parse_seqset,
)
from harness.servers.imap.search import parse_search
from harness.servers.imap.tokens import Atom, Group, ParseError, Str, tokenize
from harness.store.records import Flag, MailboxStatus
from tests.support.fake_backend import FakeBackend

pytestmark = pytest.mark.timeout(10)

T = TypeVar("T")

MSG1 = (
    b"From: Alice Example <alice@example.com>\n"
    b"To: bob@example.com\n"
    b"Subject: hello world\n"
    b"Date: Mon, 01 Jun 2026 10:00:00 +0000\n"
    b"Message-ID: <one@example.com>\n"
    b"\n"
    b"Hi Bob,\n"
    b"this is the first message.\n"
)
MSG2 = b"From: carol@example.net\nTo: bob@example.com\nSubject: Meeting notes\n\nNotes attached.\n"
MSG3 = (
    b"From: Dave <dave@example.org>\n"
    b"To: bob@example.com\n"
    b"Subject: Hello again\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\n'
    b"\n"
    b"preamble\n"
    b"--XYZ\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"part one text\n"
    b"--XYZ\n"
    b"Content-Type: application/octet-stream\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"AAECAw==\n"
    b"--XYZ--\n"
)


class ServerThread:
    """An IMAP server on 127.0.0.1 (ephemeral port) in a background event loop."""

    def __init__(self, backend: FakeBackend, idle_timeout: float = 30.0) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.call(
            start_imap_server(
                backend, "127.0.0.1", 0, hostname="imap.test", idle_timeout=idle_timeout
            )
        )
        self.port: int = self.server.sockets[0].getsockname()[1]
        self.stopped = False

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.call(stop_imap_server(self.server, timeout=2))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Raw:
    """A line-oriented raw socket client."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")
        self.greeting = self.readline()

    def readline(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, tag: str, line: bytes) -> list[bytes]:
        """Send one line; the response lines up to and including the tagged one."""
        self.send(tag.encode() + b" " + line + b"\r\n")
        return self.until(tag)

    def until(self, tag: str) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            line = self.readline()
            assert line, f"connection closed; got {lines!r}"
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def backend() -> FakeBackend:
    b = FakeBackend()
    account = b.add_account("bob", "secret")
    b.add_account("eve", "pw", status=MailboxStatus.SUSPENDED)
    b.add_folder(account.mailbox, "Archive/2024")
    b.deliver(account.mailbox, MSG1)
    b.deliver(account.mailbox, MSG2, flags=frozenset({Flag.SEEN, Flag.FLAGGED}))
    b.deliver(account.mailbox, MSG3)
    return b


@pytest.fixture
def server(backend: FakeBackend) -> Iterator[ServerThread]:
    srv = ServerThread(backend)
    yield srv
    srv.stop()


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Any]:
    m: Any = imaplib.IMAP4("127.0.0.1", server.port, timeout=5)
    yield m
    try:
        m.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


def logged_in(imap: Any, folder: str | None = "INBOX") -> Any:
    imap.login("bob", "secret")
    if folder is not None:
        assert imap.select(folder)[0] == "OK"
    return imap


def mbox(backend: FakeBackend) -> str:
    return backend.accounts["bob"][1].mailbox


# --- parser ------------------------------------------------------------------------------


def test_tokenizer_handles_atoms_strings_literals_and_lists() -> None:
    toks = tokenize(b'FOO "a \\"q\\" b" {3}\r\nx y (BAR (\\Seen) BODY[HEADER.FIELDS (TO)]<0.5>)')
    assert toks == [
        Atom("FOO"),
        Str(b'a "q" b'),
        Str(b"x y"),
        Group((Atom("BAR"), Group((Atom("\\Seen"),)), Atom("BODY[HEADER.FIELDS (TO)]<0.5>"))),
    ]
    for bad in (b'"open', b"(a", b"a)", b"{9}\r\nshort", b'"bad \\x escape"'):
        with pytest.raises(ParseError):
            tokenize(bad)


def test_command_and_sequence_sets() -> None:
    cmd = parse_command(b"a1 uid fetch 1:* (FLAGS)")
    assert (cmd.tag, cmd.name) == ("a1", "UID FETCH")
    assert parse_seqset("3:1,7,9:*").select([1, 2, 3, 4, 7, 8, 9, 10]) == [1, 2, 3, 7, 9, 10]
    assert parse_seqset("*").select([4, 6]) == [6]
    for bad in ("0", "1:0", "a", "1,,2", ""):
        with pytest.raises(ParseError):
            parse_seqset(bad)
    with pytest.raises(ParseError):
        parse_command(b"a1")
    with pytest.raises(ParseError):
        parse_command(b"a+1 NOOP")


def test_fetch_attributes_and_search_program() -> None:
    fast = [a.name for a in parse_fetch_atts(Atom("FAST"))]
    assert fast == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    (att,) = parse_fetch_atts(Atom("BODY.PEEK[HEADER.FIELDS (From Subject)]<10.20>"))
    assert att.peek and att.partial == (10, 20) and not att.sets_seen()
    assert att.section is not None
    assert att.section.label() == "HEADER.FIELDS (FROM SUBJECT)"
    assert parse_fetch_atts(Atom("BODY[]"))[0].sets_seen()
    with pytest.raises(ParseError):
        parse_fetch_atts(Atom("BOGUS"))
    charset, key = parse_search(tokenize(b"CHARSET UTF-8 OR SEEN NOT DELETED UID 1:3 2"))
    assert charset == "UTF-8"
    assert key.op == "AND" and [k.op for k in key.subs] == ["OR", "UID", "SEQ"]
    with pytest.raises(ParseError):
        parse_search(tokenize(b"SUBJECT"))
    assert format_internal_date(1780272000) == "01-Jun-2026 00:00:00 +0000"


def test_list_patterns() -> None:
    names = ["INBOX", "Sent", "Archive/2024", "Archive/2025/Q1"]
    top = dict(list_entries(names, "%"))
    assert top["Archive"] == ["\\Noselect", "\\HasChildren"]
    assert top["INBOX"] == ["\\HasNoChildren"] and "Archive/2024" not in top
    assert [n for n, _ in list_entries(names, "Archive/*")] == [
        "Archive/2024",
        "Archive/2025",
        "Archive/2025/Q1",
    ]
    assert [n for n, _ in list_entries(names, "inbox")] == ["INBOX"]


# --- sessions through imaplib --------------------------------------------------------------


def test_greeting_capability_and_login(imap: Any) -> None:
    assert imap.welcome.startswith(b"* OK [CAPABILITY IMAP4rev1")
    assert b"imap.test IMAP4rev1 ready" in imap.welcome
    assert "IMAP4REV1" in imap.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.login("bob", "wrong")
    typ, _ = imap.login("bob", "secret")
    assert typ == "OK"
    assert imap.logout()[0] == "BYE"


def test_inactive_account_and_backend_down(backend: FakeBackend, server: ServerThread) -> None:
    m: Any = imaplib.IMAP4("127.0.0.1", server.port, timeout=5)
    with pytest.raises(imaplib.IMAP4.error, match="CONTACTADMIN"):
        m.login("eve", "pw")
    backend.down = True
    with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
        m.login("bob", "secret")
    backend.down = False
    m.login("bob", "secret")
    backend.down = True
    typ, data = m.select("INBOX")
    assert typ == "NO" and b"UNAVAILABLE" in data[0]
    backend.down = False
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_list_and_status(imap: Any) -> None:
    logged_in(imap, None)
    typ, data = imap.list()
    assert typ == "OK"
    lines = [d.decode() for d in data if isinstance(d, bytes)]
    assert lines[0] == '(\\HasNoChildren) "/" "INBOX"'
    assert '(\\HasChildren) "/" "Archive"' in lines
    assert '(\\HasNoChildren) "/" "Archive/2024"' in lines
    typ, data = imap.list('""', "%")
    assert not any(b"2024" in d for d in data if isinstance(d, bytes))
    typ, data = imap.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")
    assert data == [b'"INBOX" (MESSAGES 3 UNSEEN 2 UIDNEXT 4)']


def test_select_and_examine(imap: Any) -> None:
    logged_in(imap, None)
    typ, data = imap.select("INBOX")
    assert (typ, data) == ("OK", [b"3"])
    assert imap.response("UIDVALIDITY")[1] == [b"1"]
    assert imap.response("UIDNEXT")[1] == [b"4"]
    assert imap.response("UNSEEN")[1] == [b"1"]
    assert imap.response("READ-WRITE")[1] == [b""]
    typ, data = imap.select("INBOX", readonly=True)
    assert (typ, data) == ("OK", [b"3"])
    assert imap.response("READ-ONLY")[1] == [b""]
    typ, data = imap.store("1", "+FLAGS", "(\\Deleted)")
    assert typ == "NO" and b"READ-ONLY" in data[0]
    typ, data = imap.fetch("1", "(BODY[])")
    assert typ == "OK" and b"FLAGS" not in data[0][0]
    typ, data = imap.select("Nowhere")
    assert typ == "NO"
    with pytest.raises(imaplib.IMAP4.error):
        imap.fetch("1", "(FLAGS)")  # no mailbox selected any more


def test_fetch_items(backend: FakeBackend, imap: Any) -> None:
    logged_in(imap)
    typ, data = imap.fetch("1:2", "(FLAGS UID RFC822.SIZE INTERNALDATE)")
    assert typ == "OK"
    first = data[0].decode()
    assert re.fullmatch(
        r'1 \(FLAGS \(\) UID 1 RFC822\.SIZE (\d+) INTERNALDATE "\d\d-\w{3}-\d{4} '
        r'\d\d:\d\d:\d\d \+0000"\)',
        first,
    ), first
    assert data[1].startswith(b"2 (FLAGS (\\Flagged \\Seen) UID 2")
    size = int(first.split("RFC822.SIZE ")[1].split()[0])

    typ, data = imap.fetch("1", "(BODY.PEEK[])")
    body = data[0][1]
    assert body == to_crlf(MSG1) and len(body) == size
    assert Flag.SEEN not in backend.rows_now(mbox(backend))[0].flags

    typ, data = imap.fetch("1", "(BODY[])")
    assert b"FLAGS (\\Seen)" in data[0][0] + data[1]
    assert Flag.SEEN in backend.rows_now(mbox(backend))[0].flags

    typ, data = imap.fetch("1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.HEADER)")
    header, text = to_crlf(MSG1).split(b"\r\n\r\n", 1)
    assert data[0][1] == header + b"\r\n\r\n"
    assert data[1][1] == text
    assert data[2][1] == header + b"\r\n\r\n"

    typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[]<0.4>)")
    assert b"BODY[HEADER.FIELDS (SUBJECT)]" in data[0][0]
    assert data[0][1] == b"Subject: hello world\r\n\r\n"
    assert b"BODY[]<0>" in data[1][0] and data[1][1] == b"From"

    typ, data = imap.fetch("*", "(RFC822)")
    assert data[0][0].startswith(b"3 (RFC822 {") and data[0][1] == to_crlf(MSG3)


def test_fetch_structure_and_parts(imap: Any) -> None:
    logged_in(imap)
    typ, data = imap.fetch("1", "(ENVELOPE)")
    assert typ == "OK"
    env = data[0].decode()
    assert '"hello world"' in env and '(("Alice Example" NIL "alice" "example.com"))' in env
    assert '"<one@example.com>"' in env
    typ, data = imap.fetch("3", "(BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2.MIME])")
    head = data[0][0].decode()
    # a part's body ends before the CRLF that precedes the next boundary (RFC 2046)
    assert '("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 13 1)' in head
    assert '"BASE64" 8) "MIXED")' in head
    assert data[0][1] == b"part one text"
    assert data[1][1].startswith(b"Content-Type: application/octet-stream\r\n")
    typ, data = imap.fetch("1", "ALL")
    assert b"ENVELOPE" in data[0] and b"RFC822.SIZE" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        imap.fetch("1", "(NONSENSE)")


def test_uid_fetch_and_search(backend: FakeBackend, imap: Any) -> None:
    logged_in(imap)
    typ, data = imap.uid("FETCH", "2:*", "(FLAGS)")
    assert typ == "OK"
    assert [d for d in data if isinstance(d, bytes)] == [
        b"2 (UID 2 FLAGS (\\Flagged \\Seen))",
        b"3 (UID 3 FLAGS ())",
    ]
    typ, data = imap.uid("FETCH", "99", "(FLAGS)")
    assert typ == "OK" and data == [None]
    assert imap.search(None, "ALL") == ("OK", [b"1 2 3"])
    assert imap.search(None, "SUBJECT", "hello") == ("OK", [b"1 3"])
    assert imap.search(None, "UNSEEN") == ("OK", [b"1 3"])
    assert imap.search(None, "SEEN", "FLAGGED") == ("OK", [b"2"])
    assert imap.search(None, "FROM", "DAVE") == ("OK", [b"3"])
    assert imap.search(None, "UID", "2:3", "NOT", "SEEN") == ("OK", [b"3"])
    assert imap.search(None, "OR", "1", "FROM", "carol") == ("OK", [b"1 2"])
    assert imap.search("UTF-8", "BODY", "first") == ("OK", [b"1"])
    assert imap.search(None, "DELETED") == ("OK", [b""])
    assert imap.uid("SEARCH", "SUBJECT", '"hello again"') == ("OK", [b"3"])
    typ, data = imap.search("KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        imap.search(None, "BOGUSKEY")


def test_store_and_expunge(backend: FakeBackend, imap: Any) -> None:
    logged_in(imap)
    typ, data = imap.store("1:2", "+FLAGS", "(\\Deleted)")
    assert typ == "OK"
    assert data == [b"1 (FLAGS (\\Deleted))", b"2 (FLAGS (\\Flagged \\Deleted \\Seen))"]
    assert imap.search(None, "DELETED") == ("OK", [b"1 2"])
    assert imap.search(None, "UNDELETED") == ("OK", [b"3"])
    typ, data = imap.uid("STORE", "2", "-FLAGS.SILENT", "(\\Flagged)")
    assert typ == "OK" and data == [None]
    assert backend.rows_now(mbox(backend))[1].flags == {Flag.DELETED, Flag.SEEN}
    typ, data = imap.expunge()
    assert (typ, data) == ("OK", [b"1", b"1"])  # numbers shift as messages go
    assert [r.key.uid for r in backend.rows_now(mbox(backend))] == [3]
    assert imap.fetch("1", "(UID)")[1] == [b"1 (UID 3)"]
    typ, data = imap.store("1", "FLAGS", "(\\Answered \\Seen)")
    assert data == [b"1 (FLAGS (\\Answered \\Seen))"]


def test_close_expunges_silently_and_noop_reports_changes(backend: FakeBackend, imap: Any) -> None:
    logged_in(imap)
    backend.deliver(mbox(backend), b"Subject: late\n\nnew\n")
    row = backend.rows_now(mbox(backend))[0]
    backend.folder_rows[(mbox(backend), "INBOX")][1] = row.__class__(
        row.key, row.msgid, frozenset({Flag.ANSWERED}), row.arrival, row.size
    )
    imap.noop()
    assert imap.response("EXISTS")[1][-1] == b"4"
    assert imap.response("FETCH")[1] == [b"1 (FLAGS (\\Answered))"]
    imap.store("1", "+FLAGS.SILENT", "\\Deleted")
    typ, _ = imap.close()
    assert typ == "OK"
    assert imap.response("EXPUNGE")[1] == [None]
    assert [r.key.uid for r in backend.rows_now(mbox(backend))] == [2, 3, 4]


def expunge_elsewhere(backend: FakeBackend, uid: int) -> None:
    """What another session's EXPUNGE and the store's purge leave: no row, no message."""
    row = backend.folder_rows[(mbox(backend), "INBOX")].pop(uid)
    del backend.messages[row.msgid]


def test_fetch_of_messages_expunged_elsewhere_answers_the_rest_then_no_expungeissued(
    backend: FakeBackend, imap: Any
) -> None:
    logged_in(imap)
    expunge_elsewhere(backend, 2)
    typ, data = imap.fetch("1:3", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "NO" and data[0].startswith(b"[EXPUNGEISSUED]")
    fetched = [d[0] for d in imap.response("FETCH")[1] if isinstance(d, tuple)]
    assert [f.split(b" (")[0] for f in fetched] == [b"1", b"3"]
    typ, data = imap.fetch("2", "(BODY[])")  # setting \Seen finds the row gone too
    assert typ == "NO" and data[0].startswith(b"[EXPUNGEISSUED]")
    assert imap.fetch("1", "(FLAGS)")[0] == "OK"
    assert imap.noop()[0] == "OK"
    assert imap.response("EXPUNGE")[1] == [b"2"]
    assert imap.fetch("2", "(UID)") == ("OK", [b"2 (UID 3)"])


def test_store_to_a_message_expunged_elsewhere_updates_the_rest_then_no_expungeissued(
    backend: FakeBackend, imap: Any
) -> None:
    logged_in(imap)
    expunge_elsewhere(backend, 1)
    typ, data = imap.store("1:3", "+FLAGS", "(\\Answered)")
    assert typ == "NO" and data[0].startswith(b"[EXPUNGEISSUED]")
    assert imap.response("FETCH")[1] == [
        b"2 (FLAGS (\\Answered \\Flagged \\Seen))",
        b"3 (FLAGS (\\Answered))",
    ]
    assert all(Flag.ANSWERED in r.flags for r in backend.rows_now(mbox(backend)))


def test_fetch_or_store_past_the_last_sequence_number_is_bad(imap: Any) -> None:
    logged_in(imap)
    for args in (("4", "(FLAGS)"), ("2:5", "(UID)"), ("1,9", "(FLAGS)")):
        with pytest.raises(imaplib.IMAP4.error, match="no message"):
            imap.fetch(*args)
    with pytest.raises(imaplib.IMAP4.error, match="no message"):
        imap.store("4", "+FLAGS", "(\\Seen)")
    assert imap.fetch("3:*", "(UID)") == ("OK", [b"3 (UID 3)"])
    assert imap.uid("FETCH", "4:9", "(FLAGS)") == ("OK", [None])  # a UID range may be empty
    assert imap.select("Archive/2024") == ("OK", [b"0"])
    with pytest.raises(imaplib.IMAP4.error, match="no message"):
        imap.fetch("1:*", "(FLAGS)")


def test_authenticate_plain(imap: Any) -> None:
    typ, _ = imap.authenticate("PLAIN", lambda _: b"\0bob\0secret")
    assert typ == "OK"
    assert imap.select("INBOX")[0] == "OK"


def test_login_with_literal_via_imaplib(backend: FakeBackend, server: ServerThread) -> None:
    backend.add_account("zed", 'p"a\\s s{}')
    m: Any = imaplib.IMAP4("127.0.0.1", server.port, timeout=5)
    m.literal = b'p"a\\s s{}'  # imaplib sends it as a literal after the next command
    typ, data = m._simple_command("LOGIN", "zed")
    assert typ == "OK", data
    m.state = "AUTH"
    assert m.select("INBOX")[0] == "OK"
    m.logout()


# --- raw protocol ------------------------------------------------------------------------------


def test_literals_state_errors_and_unknown_commands(server: ServerThread) -> None:
    c = Raw(server.port)
    try:
        assert c.command("a0", b"FETCH 1 FLAGS")[-1].startswith(b"a0 BAD")
        assert c.command("a1", b"FROBNICATE now") == [b"a1 BAD unknown command\r\n"]
        assert c.command("a2", b'LOGIN "unterminated')[-1].startswith(b"a2 BAD")
        c.send(b"a3 LOGIN {3}\r\n")
        assert c.readline().startswith(b"+ ")
        c.send(b"bob {6}\r\n")
        assert c.readline().startswith(b"+ ")
        c.send(b"secret\r\n")
        assert c.until("a3")[-1].startswith(b"a3 OK")
        assert c.command("a4", b"LOGIN bob secret")[-1].startswith(b"a4 BAD")
        c.send(b"a5 SELECT {9999999999}\r\n")
        assert c.until("a5")[-1].startswith(b"a5 BAD [TOOBIG]")
        lines = c.command("a6", b"SELECT {5+}\r\nINBOX")
        assert b"* 3 EXISTS\r\n" in lines and lines[-1].startswith(b"a6 OK [READ-WRITE]")
        assert c.command("a7", b"NOOP") == [b"a7 OK NOOP completed\r\n"]
        lines = c.command("a8", b"LOGOUT")
        assert lines == [b"* BYE logging out\r\n", b"a8 OK LOGOUT completed\r\n"]
        assert c.readline() == b""
    finally:
        c.close()


def test_oversized_line_is_refused_and_session_continues(server: ServerThread) -> None:
    c = Raw(server.port)
    try:
        c.send(b"a1 LOGIN " + b"x" * (100 * 1024) + b" y\r\n")
        assert c.readline() == b"* BAD line too long\r\n"
        assert c.command("a2", b"LOGIN bob secret")[-1].startswith(b"a2 OK")
        assert c.command("a3", b"CAPABILITY")[0].startswith(b"* CAPABILITY IMAP4rev1")
    finally:
        c.close()


def test_sasl_ir_and_idle_timeout(backend: FakeBackend) -> None:
    srv = ServerThread(backend, idle_timeout=0.3)
    try:
        c = Raw(srv.port)
        ir = base64.b64encode(b"\0bob\0secret")
        assert c.command("a1", b"AUTHENTICATE PLAIN " + ir)[-1].startswith(b"a1 OK")
        assert c.readline() == b"* BYE autologout; idle for too long\r\n"
        assert c.readline() == b""
        c.close()
    finally:
        srv.stop()


def test_stopping_the_server_says_bye(backend: FakeBackend) -> None:
    srv = ServerThread(backend)
    c = Raw(srv.port)
    try:
        assert c.command("a1", b"LOGIN bob secret")[-1].startswith(b"a1 OK")
        srv.call(stop_imap_server(srv.server, timeout=2))
        srv.stopped = True
        assert c.readline() == b"* BYE server shutting down\r\n"
        assert c.readline() == b""
    finally:
        c.close()
        srv.stop()


def test_cancelled_session_says_bye_and_closes(backend: FakeBackend) -> None:
    async def scenario() -> tuple[bytes, bool]:
        started = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(serve_imap(reader, writer, backend, hostname="h"))
            tasks.append(task)
            started.set()
            with pytest.raises(asyncio.CancelledError):
                await task

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        await started.wait()
        tasks[0].cancel()
        bye = await reader.readline()
        eof = await reader.read() == b""
        writer.close()
        server.close()
        await server.wait_closed()
        return bye, eof

    bye, eof = asyncio.run(scenario())
    assert bye == b"* BYE server shutting down\r\n" and eof


# --- curl ----------------------------------------------------------------------------------


def _curl(*args: str) -> str:
    proc = subprocess.run(
        ["curl", "-s", "-S", "--max-time", "5", *args],
        capture_output=True,
        timeout=8,
        check=True,
    )
    return proc.stdout.decode()


def _curl_has_imap() -> bool:
    if shutil.which("curl") is None:
        return False
    out = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    return bool(re.search(r"^Protocols:.*\bimap\b", out, re.MULTILINE))


@pytest.mark.skipif(not _curl_has_imap(), reason="curl is missing or built without IMAP")
def test_curl_search_and_fetch(server: ServerThread) -> None:
    base = f"imap://127.0.0.1:{server.port}"
    out = _curl(f"{base}/INBOX", "-u", "bob:secret", "-X", "SEARCH SUBJECT hello")
    assert out.strip() == "* SEARCH 1 3"
    out = _curl(f"{base}/INBOX;UID=1", "-u", "bob:secret")
    assert out.encode() == to_crlf(MSG1)
    out = _curl(f"{base}/", "-u", "bob:secret")
    assert '"INBOX"' in out and '"Archive/2024"' in out
