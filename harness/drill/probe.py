"""Service ready, probed from outside as a client would: the SMTP banner, a POP3 login and an
IMAP login all succeed."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import time
from dataclasses import dataclass

from harness.workload.clients import Endpoints

PROBE_TIMEOUT = 3.0


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serving(ep, who):
            return time.monotonic()
        time.sleep(0.1)
    return None
