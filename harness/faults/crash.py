"""Crashes: servers killed (one, some, or the whole machine) and servers that hang."""

from __future__ import annotations

from harness.errors import FiredrillError
from harness.faults.capabilities import killable, pausable
from harness.faults.record import FaultContext, Strike
from harness.faults.spec import Disaster


def crash(ctx: FaultContext, spec: Disaster) -> Strike:
    servers = list(spec.servers) if spec.kind == "server-crash" else []
    killed = killable(ctx.backend, spec.kind).kill(servers)
    return f"SIGKILL to {', '.join(killed) or 'nothing (no server was running)'}", []


def hang(ctx: FaultContext, spec: Disaster) -> Strike:
    frozen = pausable(ctx.backend, spec.kind).pause(spec.servers)
    if not frozen:
        raise FiredrillError(f"nothing to hang: {', '.join(spec.servers)} not running")
    return f"{', '.join(frozen)} hung (frozen: connections accepted, nothing answered)", []
