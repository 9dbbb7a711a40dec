"""Drains, live: sessions still open when drainTimeoutSeconds runs out are told and closed."""

from __future__ import annotations

import socket

import pytest

from harness import control
from harness.layout import Layout
from harness.store.config import ConfigKey, load, save
from tests.support.live import active_logins, endpoints

pytestmark = pytest.mark.integration


class Line:
    """A raw line client: what the server says, including its last words before closing."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.file.readline()

    def say(self, line: str) -> bytes:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.file.readline()

    def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        data = self.file.read()
        self.file.close()
        self.sock.close()
        return data


def test_drain_closes_smtp_and_pop3_sessions_still_open_at_the_drain_timeout(
    live_xs: Layout,
) -> None:
    control.stop(live_xs, ["mta", "popserv"])
    config = load(live_xs.config)
    config.set(ConfigKey("*", "common", "drainTimeoutSeconds"), "1")
    save(config, live_xs.config)
    control.start(live_xs, ["mta", "popserv"])
    ep = endpoints(live_xs)
    account = active_logins(live_xs)[0]
    smtp = Line(ep.smtp)
    assert smtp.greeting.startswith(b"220")
    assert smtp.say("HELO tester").startswith(b"250")
    assert smtp.say("MAIL FROM:<ann@partner.example>").startswith(b"250")
    pop = Line(ep.pop3)
    assert pop.say(f"USER {account.login}").startswith(b"+OK")
    assert pop.say(f"PASS {account.password}").startswith(b"+OK")

    control.drain(live_xs, ["mta", "popserv"])  # both sessions just sit there

    assert smtp.rest().startswith(b"421 ")
    assert pop.rest() == b"-ERR [SYS/TEMP] server shutting down\r\n"
    for program in ("mta", "popserv"):
        assert control.running_pid(live_xs, program) is None
        log = (live_xs.logs / f"{program}.log").read_text()
        assert "drain timeout, closing 1 session(s)" in log, log[-2000:]
        assert "drain complete" in log
