"""Loopback networks for parallel drills: each drill leases its own 127.0.N.0/24.

A lease is a lock file held with `flock` for the drill's lifetime, so drills in other
processes (two scheduled drills, selftest threads, a benchmark) never pick the same network,
and a crashed drill's lease disappears with its process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from harness.errors import FiredrillError
from harness.topology import SERVERS

FIRST, COUNT = 100, 150
"""Networks 127.0.100.0 … 127.0.249.0; the drill's servers use .11 … .19 in them."""

_held: set[int] = set()
_lock = threading.Lock()


def lease_dir() -> Path:
    """Where leases live (shared by every firedrill process of this machine)."""
    override = os.environ.get("FIREDRILL_LEASE_DIR")
    path = Path(override) if override else Path(tempfile.gettempdir()) / "firedrill-networks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unused(network: int) -> bool:
    """Nobody listens where the drill's servers would (a lab started by hand, a leftover).

    Bound as the servers bind (SO_REUSEADDR): connections of an earlier drill still in
    TIME_WAIT on these addresses do not stop a server from listening, so they do not count.
    """
    for server in SERVERS:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((f"127.0.{network}.{server.host_number}", server.port))
            except OSError:
                return False
    return True


@contextlib.contextmanager
def lease_network() -> Iterator[str]:
    """Yield a free loopback network prefix such as "127.0.142", held until the block ends."""
    start = int(time.time() * 1000) % COUNT
    directory = lease_dir()
    with _lock:
        for offset in range(COUNT):
            network = FIRST + (start + offset) % COUNT
            if network in _held:
                continue
            fd = os.open(directory / f"127.0.{network}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if _unused(network):
                _held.add(network)
                break
            os.close(fd)
        else:
            raise FiredrillError(f"no free loopback network: {COUNT} drills already run here")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield f"127.0.{network}"
    finally:
        with _lock:
            _held.discard(network)
        os.close(fd)  # closing the descriptor releases the flock
