"""Commands valid in any state (RFC 3501 §6.1: CAPABILITY, NOOP, LOGOUT) and before
authentication (§6.2: LOGIN, AUTHENTICATE with the PLAIN mechanism of RFC 4616, its initial
response allowed by SASL-IR, RFC 4959).

Each handler takes the session and the parsed command and returns the text of the tagged
OK; a refusal is a `Fail` (tagged NO or BAD), bad syntax a `ParseError` (tagged BAD).
"""

from __future__ import annotations

import base64
import binascii
import logging

from harness.servers.imap.commands_mailbox import refresh
from harness.servers.imap.framing import MAX_LINE, LineTooLong, read_line, strip_eol
from harness.servers.imap.parse import Command
from harness.servers.imap.session import CAPABILITIES, Fail, Session, State
from harness.servers.imap.tokens import ParseError, as_text
from harness.store.records import MailboxStatus

log = logging.getLogger("firedrill.imap")

MAX_LOGIN_FAILURES = 5
"""Failed LOGIN / AUTHENTICATE attempts after which the server says BYE."""


async def cmd_capability(session: Session, cmd: Command) -> str:
    """CAPABILITY (RFC 3501 §6.1.1): `* CAPABILITY` with CAPABILITIES."""
    session.send(f"* CAPABILITY {CAPABILITIES}")
    return "CAPABILITY completed"


async def cmd_noop(session: Session, cmd: Command) -> str:
    """NOOP (RFC 3501 §6.1.2) and CHECK (§6.4.1): in the selected state, report what changed
    in the mailbox (EXPUNGE, EXISTS, FETCH FLAGS)."""
    if session.state is State.SELECTED:
        await refresh(session)
    return f"{cmd.name} completed"


async def cmd_logout(session: Session, cmd: Command) -> str:
    """LOGOUT (RFC 3501 §6.1.3): `* BYE`, then the tagged OK; the connection then ends."""
    session.send("* BYE logging out")
    session.state = State.LOGOUT
    return "LOGOUT completed"


async def cmd_login(session: Session, cmd: Command) -> str:
    """LOGIN (RFC 3501 §6.2.3) with a user name and a password (astrings)."""
    if len(cmd.args) != 2:
        raise ParseError("LOGIN needs a user name and a password")
    return await log_in(session, as_text(cmd.args[0]), as_text(cmd.args[1]))


async def cmd_authenticate(session: Session, cmd: Command) -> str:
    """AUTHENTICATE PLAIN (RFC 3501 §6.2.2, RFC 4616), the response given inline (SASL-IR,
    RFC 4959; `=` is an empty one) or after a `+` continuation; `*` cancels (BAD).

    NO [CANNOT] for another mechanism, BAD for a malformed response, NO
    [AUTHORIZATIONFAILED] for an authorization identity other than the user's.
    """
    if not cmd.args or len(cmd.args) > 2:
        raise ParseError("AUTHENTICATE needs a mechanism")
    if as_text(cmd.args[0]).upper() != "PLAIN":
        raise Fail("NO", "[CANNOT] unsupported mechanism")
    if len(cmd.args) == 2:
        response = as_text(cmd.args[1]).encode()
    else:
        session.send("+ ")
        await session.flush()
        try:
            response = strip_eol(await read_line(session.reader, MAX_LINE))
        except LineTooLong:
            raise Fail("BAD", "line too long") from None
    if response == b"*":
        raise Fail("BAD", "authentication cancelled")
    try:
        decoded = base64.b64decode(b"" if response == b"=" else response, validate=True)
        authz, authc, password = decoded.decode("utf-8").split("\0")
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise Fail("BAD", "malformed PLAIN response") from e
    if authz and authz != authc:
        raise Fail("NO", "[AUTHORIZATIONFAILED] cannot act as another user")
    return await log_in(session, authc, password)


async def log_in(session: Session, login: str, password: str) -> str:
    """Authenticate; on success the session is authenticated and the OK text is returned.

    Wrong credentials: NO [AUTHENTICATIONFAILED], and after MAX_LOGIN_FAILURES of them
    `* BYE` and the logout state. An account that is not active: NO [UNAVAILABLE] while in
    maintenance, else NO [CONTACTADMIN] (RFC 5530 response codes).
    """
    account = await session.backend.authenticate(login, password)
    if account is None:
        session.failures += 1
        log.warning("imap %s: authentication failed for %r", session.peer, login)
        if session.failures >= MAX_LOGIN_FAILURES:
            session.send("* BYE too many authentication failures")
            session.state = State.LOGOUT
        raise Fail("NO", "[AUTHENTICATIONFAILED] invalid credentials")
    if account.status is not MailboxStatus.ACTIVE:
        log.warning("imap %s: login %r refused: %s", session.peer, login, account.status.value)
        code = "UNAVAILABLE" if account.status is MailboxStatus.MAINTENANCE else "CONTACTADMIN"
        raise Fail("NO", f"[{code}] account is {account.status.value}")
    session.account = account
    session.state = State.AUTHENTICATED
    log.info("imap %s: %r logged in (mailbox %s)", session.peer, login, account.mailbox)
    return f"[CAPABILITY {CAPABILITIES}] logged in"
