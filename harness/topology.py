"""The six server programs, the config.db keys that place them, and where they listen."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import FiredrillError
from harness.store.config import ConfigDB


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One server program: its default host name and host number on the loopback /24, its port."""

    program: str
    host: str
    host_number: int
    port_key: str
    port: int
    protocol: str


SERVERS = (
    ServerSpec("dirserv", "dir1", 11, "dirPort", 14001, "wire"),
    ServerSpec("confserv", "conf1", 12, "confPort", 14002, "wire"),
    ServerSpec("mss", "ms1", 13, "mssPort", 14000, "wire"),
    ServerSpec("mta", "mx1", 14, "smtpPort", 10025, "smtp"),
    ServerSpec("popserv", "pop1", 15, "popPort", 10110, "pop3"),
    ServerSpec("imapserv", "imap1", 16, "imapPort", 10143, "imap"),
)
"""In start order: directory and configuration first, then the store, then the front ends."""
PROGRAMS = tuple(s.program for s in SERVERS)


def spec(program: str) -> ServerSpec:
    for s in SERVERS:
        if s.program == program:
            return s
    raise FiredrillError(f"unknown server {program!r}: choose from {', '.join(PROGRAMS)}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    program: str
    host: str
    address: str
    port: int


def endpoint(config: ConfigDB, program: str) -> Endpoint:
    """Where `program` listens according to config.db (host, its 127.x address, its port)."""
    s = spec(program)
    host = config.lookup("*", "common", f"{program}Host") or s.host
    address = config.lookup(host, "common", "hostAddress")
    port = config.lookup(host, program, s.port_key)
    if not address or not port or not port.isdigit():
        raise FiredrillError(
            f"config.db does not place {program}: need /{host}/common/hostAddress "
            f"and /*/{program}/{s.port_key}"
        )
    if not address.startswith("127."):
        raise FiredrillError(f"{program} would listen on {address}: servers stay on 127.0.0.0/8")
    return Endpoint(program, host, address, int(port))


def setting(config: ConfigDB, program: str, key: str, default: str) -> str:
    """A tunable of `program` on its host, with InterMail's precedence, or `default`."""
    host = config.lookup("*", "common", f"{program}Host") or spec(program).host
    value = config.lookup(host, program, key)
    return default if value is None else value
