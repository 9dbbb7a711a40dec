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

from harness.servers.backend import BackendUnavailable
from harness.servers.wire import Indeterminate as WireIndeterminate
from harness.servers.wire import SyncWireClient, WireError

TIMEOUT = 15.0
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


def pop_read(ep: Endpoints, login: str, password: str, pick: Callable[[int], int]) -> int:
    """Log in, retrieve one message chosen by `pick(count)`; returns the message count."""
    pop = _pop(ep, login, password)
    try:
        count, _ = pop.stat()
        if count:
            pop.retr(pick(count))
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
) -> str | None:
    """Delete one message: DELE then QUIT (the commit). Returns its Message-ID, or None if empty."""
    pop = _pop(ep, login, password)
    try:
        count, _ = pop.stat()
        if not count:
            pop.quit()
            return None
        number = pick(count)
        _, lines, _ = pop.top(number, 0)
        message_id = message_id_of(b"\r\n".join(lines) + b"\r\n\r\n")
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


def _pick_uid(imap: imaplib.IMAP4, pick: Callable[[int], int]) -> tuple[str, str] | None:
    typ, data = imap.uid("SEARCH", "UNDELETED")
    uids = data[0].split() if typ == "OK" and data and data[0] else []
    if not uids:
        return None
    uid = uids[pick(len(uids)) - 1].decode()
    typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[HEADER])")
    header = next((part[1] for part in fetched if isinstance(part, tuple)), b"")
    return uid, message_id_of(header)


def imap_read(ep: Endpoints, login: str, password: str, pick: Callable[[int], int]) -> int:
    imap = _imap(ep, login, password)
    try:
        typ, data = imap.search(None, "ALL")
        numbers = data[0].split() if typ == "OK" and data and data[0] else []
        if numbers:
            imap.fetch(numbers[pick(len(numbers)) - 1].decode(), "(FLAGS RFC822.SIZE BODY[])")
        return len(numbers)
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
) -> str | None:
    """Add `flag` to one message; returns its Message-ID (None when the folder is empty)."""
    imap = _imap(ep, login, password)
    try:
        chosen = _pick_uid(imap, pick)
        if chosen is None:
            return None
        uid, message_id = chosen
        on_commit(message_id)
        try:
            typ, _ = imap.uid("STORE", uid, "+FLAGS.SILENT", f"({flag})")
        except OSError as exc:
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
) -> str | None:
    """STORE \\Deleted then EXPUNGE; returns the Message-ID deleted.

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
