"""Probes from outside, as a client would.

Service ready: the SMTP banner, a POP3 login and an IMAP login all succeed. Per server: each one
answers its own protocol on its 127.0.0.x address (a greeting, or a wire `ping`), refuses the
connection (down), or accepts it and says nothing within the timeout (hung).
"""

from __future__ import annotations

import enum
import imaplib
import poplib
import smtplib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness.control import select
from harness.layout import Layout
from harness.store.config import load
from harness.topology import endpoint, spec
from harness.waiting import poll_last
from harness.workload.clients import Endpoints

PROBE_TIMEOUT = 3.0
GREETINGS = {"smtp": b"220", "pop3": b"+OK", "imap": b"* OK"}


class Answer(enum.Enum):
    OK = "answers"
    REFUSED = "refuses connections"
    TIMEOUT = "does not answer"
    WRONG = "answers wrongly"


def answer(address: str, port: int, protocol: str, timeout: float = PROBE_TIMEOUT) -> Answer:
    """How one server answers its protocol: a greeting (SMTP/POP3/IMAP) or a wire ping."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            if protocol == "wire":
                sock.sendall(b'{"op":"ping","args":{}}\n')
                return Answer.OK if b'"ok":true' in sock.recv(256) else Answer.WRONG
            greeting = sock.recv(64)
            return Answer.OK if greeting.startswith(GREETINGS[protocol]) else Answer.WRONG
    except TimeoutError:
        return Answer.TIMEOUT
    except OSError:
        return Answer.REFUSED


def survey(
    layout: Layout, servers: Sequence[str] = (), timeout: float = PROBE_TIMEOUT
) -> dict[str, Answer]:
    """How each server of the installation answers, in start order."""
    config = load(layout.config)
    result = {}
    for program in select(servers):
        where = endpoint(config, program)
        result[program] = answer(where.address, where.port, spec(program).protocol, timeout)
    return result


def describe(seen: dict[str, Answer], timeout: float = PROBE_TIMEOUT) -> str:
    """One line of what a survey saw wrong, e.g. "mss does not answer within 3s"; "" if nothing."""
    plural = {Answer.TIMEOUT: "do not answer", Answer.REFUSED: "refuse connections"}
    parts = []
    for kind in (Answer.TIMEOUT, Answer.REFUSED, Answer.WRONG):
        names = [p for p, a in seen.items() if a is kind]
        if names:
            verb = kind.value if len(names) == 1 else plural.get(kind, "answer wrongly")
            within = f" within {timeout:g}s" if kind is Answer.TIMEOUT else ""
            parts.append(f"{', '.join(names)} {verb}{within}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Credentials:
    login: str
    password: str


def smtp_answers(ep: Endpoints) -> bool:
    try:
        smtp = smtplib.SMTP(timeout=PROBE_TIMEOUT)
        code, _ = smtp.connect(*ep.smtp)
        smtp.close()
        return code == 220
    except (OSError, smtplib.SMTPException):
        return False


def pop3_logs_in(ep: Endpoints, who: Credentials) -> bool:
    try:
        pop = poplib.POP3(*ep.pop3, timeout=PROBE_TIMEOUT)
        pop.user(who.login)
        pop.pass_(who.password)
        pop.quit()
        return True
    except (OSError, poplib.error_proto):
        return False


def imap_logs_in(ep: Endpoints, who: Credentials) -> bool:
    try:
        imap = imaplib.IMAP4(*ep.imap, timeout=PROBE_TIMEOUT)
        typ, _ = imap.login(who.login, who.password)
        imap.logout()
        return typ == "OK"
    except (OSError, imaplib.IMAP4.error):
        return False


def serving(ep: Endpoints, who: Credentials) -> bool:
    return smtp_answers(ep) and pop3_logs_in(ep, who) and imap_logs_in(ep, who)


def wait_until_serving(ep: Endpoints, who: Credentials, timeout: float) -> float | None:
    """Monotonic time at which every protocol answered, or None after `timeout` seconds."""
    return poll_last(lambda: time.monotonic() if serving(ep, who) else None, timeout, 0.1)
