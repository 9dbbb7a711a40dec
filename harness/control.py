"""imctrl's logic: start, stop, drain, restart and status of an installation's servers.

Servers are separate processes (`python -m harness.servers PROGRAM --root DIR`). A server is
running while it holds the lock on `run/<program>.lock`; its pid file says which process that
is. Signals go only to a process that holds the lock and whose command line names this
installation's root: never to anything firedrill did not start.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import FiredrillError
from harness.layout import Layout
from harness.locks import lock_held, lock_path
from harness.servers.service import pid_path
from harness.store.config import load
from harness.topology import PROGRAMS, Endpoint, endpoint, setting
from harness.waiting import poll_last

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_children: list[subprocess.Popen[bytes]] = []
_children_lock = threading.Lock()


class ControlError(FiredrillError):
    """A server did not start or stop as asked."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    state: str
    pid: int | None
    host: str
    address: str
    port: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def select(names: Sequence[str]) -> list[str]:
    """Expand 'allservers' and check names; result in start order."""
    if not names or "allservers" in names:
        return list(PROGRAMS)
    unknown = [n for n in names if n not in PROGRAMS]
    if unknown:
        raise FiredrillError(
            f"unknown server(s) {', '.join(unknown)}: choose from allservers, {', '.join(PROGRAMS)}"
        )
    return [p for p in PROGRAMS if p in names]


def _reap() -> None:
    with _children_lock:
        _children[:] = [child for child in _children if child.poll() is None]


def running_pid(layout: Layout, program: str) -> int | None:
    """The pid of the live server `program` of this installation, or None."""
    _reap()
    if not lock_held(lock_path(layout, program)):
        return None
    try:
        record = json.loads(pid_path(layout, program).read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if _is_our_server(pid, layout, program) else None


def _is_our_server(pid: int, layout: Layout, program: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in cmdline]
    return "harness.servers" in args and program in args and str(layout.root) in args


def status(layout: Layout, names: Sequence[str] = ()) -> list[ServerStatus]:
    config = load(layout.config)
    result = []
    for program in select(names):
        where = endpoint(config, program)
        pid = running_pid(layout, program)
        result.append(
            ServerStatus(
                program, "running" if pid else "stopped", pid, where.host, where.address, where.port
            )
        )
    return result


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def start(
    layout: Layout,
    names: Sequence[str] = (),
    *,
    timeout: float = START_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> None:
    """Start the named servers tier by tier (START_TIERS: directory and configuration, the store,
    the MTA, POP3 and IMAP), the servers of a tier together, each tier listening before the
    next starts.

    `env` adds environment variables for the servers (e.g. an armed failpoint).
    """
    config = load(layout.config)
    layout.logs.mkdir(parents=True, exist_ok=True)
    wanted = select(names)
    for tier in START_TIERS:
        children = {
            program: _spawn(layout, program, env)
            for program in tier
            if program in wanted and not running_pid(layout, program)
        }
        deadline = time.monotonic() + timeout
        for program, child in children.items():
            _wait_listening(layout, program, child, endpoint(config, program), deadline, timeout)


def _spawn(layout: Layout, program: str, env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
    log_file = (layout.logs / f"{program}.log").open("ab")
    child = subprocess.Popen(
        [sys.executable, "-m", "harness.servers", program, "--root", str(layout.root)],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        cwd=layout.root,
    )
    log_file.close()
    with _children_lock:
        _children.append(child)
    return child


def _wait_listening(
    layout: Layout,
    program: str,
    child: subprocess.Popen[bytes],
    where: Endpoint,
    deadline: float,
    timeout: float,
) -> None:
    """Until `program` holds its lock and answers (by `deadline`, `timeout` s after the tier
    began); ControlError, with the child killed, when it exits or stays silent."""

    def listening() -> bool:
        if running_pid(layout, program) and _answers(where.address, where.port):
            return True
        if child.poll() is not None:
            raise ControlError(
                f"{program} exited with {child.returncode} at start: "
                f"{_tail(layout.logs / f'{program}.log')}"
            )
        return False

    if not poll_last(listening, deadline - time.monotonic(), 0.02):
        _signal(child.pid, signal.SIGKILL)
        raise ControlError(
            f"{program} did not answer on {where.address}:{where.port} "
            f"within {timeout:.0f}s (see {layout.logs / f'{program}.log'})"
        )


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_gone(layout: Layout, program: str, timeout: float) -> bool:
    """True once `program` no longer runs; False when it still does after `timeout` s."""
    return poll_last(lambda: not running_pid(layout, program), timeout, 0.05)


SHUTDOWN_TIERS = (("mta", "popserv", "imapserv"), ("mss",), ("dirserv", "confserv"))
"""Front ends first (together), then the store, then directory and configuration."""

START_TIERS = (("dirserv", "confserv"), ("mss",), ("mta",), ("popserv", "imapserv"))
"""The other way round; the MTA before POP3 and IMAP (mail is accepted before it is read)."""


def _shutdown(layout: Layout, names: Iterable[str], sig: int, grace: dict[str, float]) -> None:
    """Signal servers tier by tier (front ends, store, directory), each tier gone before the
    next; the servers of one tier wind down together. SIGKILL on timeout."""
    wanted = set(select(list(names)))
    for tier in SHUTDOWN_TIERS:
        pids = {p: pid for p in tier if p in wanted and (pid := running_pid(layout, p))}
        for pid in pids.values():
            _signal(pid, sig)
        deadline = time.monotonic() + max((grace[p] for p in pids), default=0)
        for program, pid in pids.items():
            if not wait_gone(layout, program, max(0.0, deadline - time.monotonic())):
                _signal(pid, signal.SIGKILL)
                if not wait_gone(layout, program, 5):
                    raise ControlError(f"{program} (pid {pid}) does not stop")


def stop(layout: Layout, names: Sequence[str] = (), *, timeout: float = STOP_TIMEOUT) -> None:
    _shutdown(layout, names, signal.SIGTERM, dict.fromkeys(PROGRAMS, timeout))


def drain(layout: Layout, names: Sequence[str] = ()) -> None:
    """Drain: refuse new connections, let open sessions finish (bounded), flush, exit."""
    config = load(layout.config)
    grace = {
        p: float(setting(config, p, "drainTimeoutSeconds", "10")) * 2 + STOP_TIMEOUT
        for p in PROGRAMS
    }
    _shutdown(layout, names, signal.SIGUSR1, grace)


def restart(layout: Layout, names: Sequence[str] = ()) -> None:
    stop(layout, names)
    start(layout, names)


def kill(layout: Layout, names: Sequence[str] = ()) -> list[str]:
    """SIGKILL the named running servers at once (a crash, for tests and faults)."""
    killed = []
    for program in select(names):
        pid = running_pid(layout, program)
        if pid:
            _signal(pid, signal.SIGKILL)
            killed.append(program)
    for program in killed:
        wait_gone(layout, program, 10)
    return killed


def pause(layout: Layout, names: Sequence[str] = ()) -> list[str]:
    """SIGSTOP the named running servers (a hang, for faults): they keep their sockets and
    locks, and answer nothing. Returns those paused, once they are."""
    paused = _signal_running(layout, names, signal.SIGSTOP)
    if not poll_last(lambda: all(_stopped(running_pid(layout, p)) for p in paused), 5, 0.01):
        raise ControlError(f"{', '.join(paused)} did not stop on SIGSTOP within 5s")
    return paused


def resume(layout: Layout, names: Sequence[str] = ()) -> list[str]:
    """SIGCONT the named running servers (harmless for one that runs). Returns those that were
    stopped."""
    stopped = [p for p in select(names) if _stopped(running_pid(layout, p))]
    _signal_running(layout, names, signal.SIGCONT)
    return stopped


def _stopped(pid: int | None) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text() if pid else ""
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] in (["T"], ["t"])


def _signal_running(layout: Layout, names: Sequence[str], sig: int) -> list[str]:
    sent = []
    for program in select(names):
        pid = running_pid(layout, program)
        if pid:
            _signal(pid, sig)
            sent.append(program)
    return sent
