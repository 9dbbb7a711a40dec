"""Client operations over the real protocols, with the standard library's clients.

Each function performs one operation and says how it ended: it raises `Failed` when the
operation certainly did not happen and `Indeterminate` when the request went out but the answer
never came back (the history records `unknown`). Mutations are recorded in the history by the
caller right before the step that commits them.
"""

from __future__ import annotations

import email.parser
import email.policy
import imaplib
import poplib
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.history import Seen
from harness.servers.backend import BackendUnavailable
from harness.servers.wire import Indeterminate as WireIndeterminate
from harness.servers.wire import SyncWireClient, WireError

TIMEOUT = 15.0
NEWEST_SEEN = 8
"""An IMAP read also fetches the Message-IDs of the folder's newest UIDs (at most this many):
they are the UIDs a rewound UIDNEXT hands out again."""
Saw = Callable[[Seen], None]
"""Where a client session reports what it was shown (the history's `seen` records)."""
_FETCH_UID = re.compile(rb"\bUID (\d+)")
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class Failed(Exception):
    """The operation did not happen (refused, or the connection failed before committing)."""


class Indeterminate(Exception):
    """The commit request was sent but its answer was lost."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    smtp: tuple[str, int]
    pop3: tuple[str, int]
    imap: tuple[str, int]
    dirserv: tuple[str, int]
    confserv: tuple[str, int]


@dataclass(frozen=True, slots=True)
class Sent:
    accepted: tuple[str, ...]
    queue_id: str


def message_id_of(header_bytes: bytes) -> str:
    value = _HEADERS.parsebytes(header_bytes).get("Message-ID", "")
    return str(value).strip()


# -- SMTP ------------------------------------------------------------------------------------


def send(ep: Endpoints, sender: str, recipients: list[str], body: bytes) -> Sent:
    """Send one message; unknown outcome when the connection breaks after the data went out."""
    try:
        smtp = smtplib.SMTP(*ep.smtp, timeout=TIMEOUT)
    except OSError as exc:
        raise Failed(f"connect: {exc}") from exc
    try:
        try:
            smtp.ehlo("workload.firedrill.test")
            code, reply = smtp.mail(sender)
            if code != 250:
                raise Failed(f"MAIL FROM: {code} {reply.decode(errors='replace')}")
            accepted = tuple(r for r in recipients if smtp.rcpt(r)[0] in (250, 251))
            if not accepted:
                raise Failed("no recipient accepted")
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise Failed(f"DATA: {code} {reply.decode(errors='replace')}")
        except (OSError, smtplib.SMTPException) as exc:
            raise Failed(f"before DATA: {exc}") from exc
        try:
            data = (
                smtplib.quotedata(body.decode("utf-8", "surrogateescape"))
                .encode("utf-8", "surrogateescape")
                .replace(b"\r\n", b"\n")
                .replace(b"\n", b"\r\n")
            )
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            smtp.send(data + b".\r\n")
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise Indeterminate(f"after DATA: {exc}") from exc
        if code != 250:
            raise Failed(f"end of DATA: {code} {reply.decode(errors='replace')}")
        match = re.search(rb"queued as (\S+)", reply)
        return Sent(accepted, match.group(1).decode() if match else "")
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


# -- POP3 ------------------------------------------------------------------------------------


def _pop(ep: Endpoints, login: str, password: str) -> poplib.POP3:
    try:
        pop = poplib.POP3(*ep.pop3, timeout=TIMEOUT)
        pop.user(login)
        pop.pass_(password)
    except (OSError, poplib.error_proto) as exc:
        raise Failed(f"login: {exc}") from exc
    return pop


def _pop_seen(pop: poplib.POP3, number: int, header: bytes, address: str, saw: Saw) -> None:
    """Report the unique-id of message `number` with the Message-ID of its `header`."""
    reply = pop.uidl(number)
    parts = reply.split() if isinstance(reply, bytes) else []
    if len(parts) >= 3 and message_id_of(header):  # b"+OK n unique-id"
        ids = ((parts[2].decode("ascii", "replace"), message_id_of(header)),)
        saw(Seen(address, "pop3", ids=ids))


def pop_read(
    ep: Endpoints,
    login: str,
    password: str,
    pick: Callable[[int], int],
    saw: Saw | None = None,
    address: str = "",
) -> int:
    """Log in, retrieve one message chosen by `pick(count)`; returns the message count.
    Reports the message's unique-id and Message-ID to `saw`."""
    pop = _pop(ep, login, password)
    try:
        count, _ = pop.stat()
        if count:
            number = pick(count)
            _, lines, _ = pop.retr(number)
            if saw is not None:
                _pop_seen(pop, number, b"\r\n".join(lines) + b"\r\n\r\n", address, saw)
        pop.quit()
        return count
    except (OSError, poplib.error_proto) as exc:
        pop.close()
        raise Failed(f"read: {exc}") from exc


def pop_delete(
    ep: Endpoints,
    login: str,
    password: str,
    pick: Callable[[int], int],
    on_commit: Callable[[str], None],
    saw: Saw | None = None,
    address: str = "",
) -> str | None:
    """Delete one message: DELE then QUIT (the commit). Returns its Message-ID, or None if empty.
    Reports the message's unique-id and Message-ID to `saw` before deleting it."""
    pop = _pop(ep, login, password)
    try:
        count, _ = pop.stat()
        if not count:
            pop.quit()
            return None
        number = pick(count)
        _, lines, _ = pop.top(number, 0)
        header = b"\r\n".join(lines) + b"\r\n\r\n"
        message_id = message_id_of(header)
        if saw is not None:
            _pop_seen(pop, number, header, address, saw)
        pop.dele(number)
    except (OSError, poplib.error_proto) as exc:
        pop.close()
        raise Failed(f"delete: {exc}") from exc
    on_commit(message_id)
    try:
        pop.quit()
    except (poplib.error_proto, OSError) as exc:
        # -ERR at QUIT means "some deleted messages not removed" (RFC 1939): some may have been
        raise Indeterminate(f"QUIT: {exc}") from exc
    return message_id


# -- IMAP ------------------------------------------------------------------------------------


def _imap(ep: Endpoints, login: str, password: str) -> imaplib.IMAP4:
    try:
        imap = imaplib.IMAP4(*ep.imap, timeout=TIMEOUT)
        imap.login(login, password)
        typ, _ = imap.select("INBOX")
        if typ != "OK":
            raise Failed("SELECT INBOX refused")
    except (OSError, imaplib.IMAP4.error) as exc:
        raise Failed(f"login: {exc}") from exc
    return imap


def _close(imap: imaplib.IMAP4) -> None:
    try:
        imap.logout()
    except (OSError, imaplib.IMAP4.error):
        pass


def selected(imap: imaplib.IMAP4) -> tuple[int, int]:
    """UIDVALIDITY and UIDNEXT the last SELECT announced (0 for one it did not)."""

    def code(name: str) -> int:
        values = imap.untagged_responses.get(name) or [b"0"]
        last = values[-1]
        try:
            return int(last) if isinstance(last, bytes) else 0
        except ValueError:
            return 0

    return code("UIDVALIDITY"), code("UIDNEXT")


def fetched_ids(data: list[Any]) -> list[tuple[str, str]]:
    """(UID, Message-ID) of each message of a UID FETCH response carrying its header ("" for a
    header without one: `_report` leaves those out)."""
    pairs = []
    for part in data:
        if isinstance(part, tuple):
            match = _FETCH_UID.search(part[0])
            if match is not None:
                pairs.append((match.group(1).decode(), message_id_of(part[1])))
    return pairs


def _report(imap: imaplib.IMAP4, address: str, ids: list[tuple[str, str]], saw: Saw) -> None:
    """Report the selected folder's UIDVALIDITY and UIDNEXT with the (UID, Message-ID) pairs
    whose Message-ID is known (an empty one is no evidence of which message a UID names)."""
    ids = [(uid, message_id) for uid, message_id in ids if message_id]
    uidvalidity, uidnext = selected(imap)
    saw(Seen(address, "imap", "INBOX", uidvalidity, uidnext, tuple(ids)))


def _pick_uid(imap: imaplib.IMAP4, pick: Callable[[int], int]) -> tuple[str, str] | None:
    typ, data = imap.uid("SEARCH", "UNDELETED")
    uids = data[0].split() if typ == "OK" and data and data[0] else []
    if not uids:
        return None
    uid = uids[pick(len(uids)) - 1].decode()
    typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[HEADER])")
    header = next((part[1] for part in fetched if isinstance(part, tuple)), b"")
    return uid, message_id_of(header)


def imap_read(
    ep: Endpoints,
    login: str,
    password: str,
    pick: Callable[[int], int],
    saw: Saw | None = None,
    address: str = "",
) -> int:
    """Read one INBOX message chosen by `pick(count)`; returns the message count. Reports the
    folder's UIDVALIDITY and UIDNEXT, the message's UID and the newest UIDs to `saw`."""
    imap = _imap(ep, login, password)
    try:
        typ, data = imap.uid("SEARCH", "ALL")
        uids = data[0].split() if typ == "OK" and data and data[0] else []
        seen: list[tuple[str, str]] = []
        if uids:
            uid = uids[pick(len(uids)) - 1].decode()
            typ, got = imap.uid("FETCH", uid, "(FLAGS RFC822.SIZE BODY[])")
            seen += fetched_ids(got) if typ == "OK" else []
            newest = max(1, selected(imap)[1] - NEWEST_SEEN)
            typ, got = imap.uid("FETCH", f"{newest}:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            seen += fetched_ids(got) if typ == "OK" else []
        if saw is not None:
            _report(imap, address, sorted(set(seen), key=lambda p: int(p[0])), saw)
        return len(uids)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise Failed(f"read: {exc}") from exc
    finally:
        _close(imap)


def imap_flag(
    ep: Endpoints,
    login: str,
    password: str,
    pick: Callable[[int], int],
    flag: str,
    on_commit: Callable[[str], None],
    saw: Saw | None = None,
    address: str = "",
) -> str | None:
    """Add `flag` to one message; returns its Message-ID (None when the folder is empty).
    Reports the message's UID and the folder's UIDVALIDITY and UIDNEXT to `saw`."""
    imap = _imap(ep, login, password)
    try:
        chosen = _pick_uid(imap, pick)
        if chosen is None:
            return None
        uid, message_id = chosen
        if saw is not None:
            _report(imap, address, [chosen], saw)
        on_commit(message_id)
        try:
            typ, _ = imap.uid("STORE", uid, "+FLAGS.SILENT", f"({flag})")
        except (OSError, imaplib.IMAP4.abort) as exc:  # the answer was lost, not a refusal
            raise Indeterminate(f"STORE: {exc}") from exc
        if typ != "OK":
            raise Failed("STORE refused")
        return message_id
    except (OSError, imaplib.IMAP4.error) as exc:
        raise Failed(f"flag: {exc}") from exc
    finally:
        _close(imap)


def imap_delete(
    ep: Endpoints,
    login: str,
    password: str,
    pick: Callable[[int], int],
    on_commit: Callable[[str], None],
    saw: Saw | None = None,
    address: str = "",
) -> str | None:
    """STORE \\Deleted then EXPUNGE; returns the Message-ID deleted (its UID reported to `saw`).

    Once \\Deleted is stored any later EXPUNGE (by anyone) removes the message, so a failure
    after the STORE is indeterminate, not a failure.
    """
    imap = _imap(ep, login, password)
    try:
        try:
            chosen = _pick_uid(imap, pick)
            if chosen is None:
                return None
            uid, message_id = chosen
            if saw is not None:
                _report(imap, address, [chosen], saw)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise Failed(f"delete: {exc}") from exc
        on_commit(message_id)
        try:
            typ, _ = imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
            if typ != "OK":
                raise Failed("STORE refused")
            typ, _ = imap.expunge()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise Indeterminate(f"STORE/EXPUNGE: {exc}") from exc
        if typ != "OK":
            raise Indeterminate("EXPUNGE refused after STORE \\Deleted")
        return message_id
    finally:
        _close(imap)


# -- directory and configuration (internal protocol) -----------------------------------------


def wire(server: tuple[str, int], op: str, **args: Any) -> Any:
    """One provisioning or configuration request; refusals are Failed, lost answers unknown."""
    client = SyncWireClient(*server, timeout=TIMEOUT)
    try:
        return client.call(op, **args).result
    except WireIndeterminate as exc:
        raise Indeterminate(str(exc)) from exc
    except (BackendUnavailable, WireError) as exc:
        raise Failed(str(exc)) from exc
