"""Loopback networks for parallel drills: each drill leases its own 127.0.N.0/24.

A lease is a lock file held with `flock` for the drill's lifetime, so drills in other
processes (two scheduled drills, selftest threads, a benchmark) never pick the same network,
and a crashed drill's lease disappears with its process.

The lease directory is shared by every user of the machine (two users' drills must not pick
the same network either), so it is world-writable with the sticky bit, like /tmp. Nothing in
it is trusted: lock files are opened read-only without following symlinks, never truncated
or written (flock needs no more), and one that is not a plain file is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import stat
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
    """Where leases live (shared by every firedrill process of this machine, whoever runs it).

    Created world-writable with the sticky bit (01777); one that root created before that rule
    (0755) is opened up by root's next drill. Refused in one line: a symlink, not a directory,
    writable by others without the sticky bit, or one this user cannot create leases in.
    """
    path = _lease_path()
    os.close(_open_lease_dir(path))
    return path


def _lease_path() -> Path:
    override = os.environ.get("FIREDRILL_LEASE_DIR")
    return Path(override) if override else Path(tempfile.gettempdir()) / "firedrill-networks"


def _open_lease_dir(path: Path) -> int:
    """A descriptor on the checked lease directory `path` (created when missing)."""
    try:
        path.mkdir(parents=True)
        created = True
    except FileExistsError:
        created = False
    except OSError as exc:
        raise FiredrillError(f"cannot create lease directory {path}: {exc.strerror}") from None
    if path.is_symlink():
        raise FiredrillError(f"refusing lease directory {path}: it is a symlink")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise FiredrillError(f"refusing lease directory {path}: {exc.strerror}") from None
    try:
        _check_lease_dir(fd, path, created)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_lease_dir(fd: int, path: Path, created: bool) -> None:
    info = os.fstat(fd)
    shared = stat.S_IWGRP | stat.S_IWOTH
    if created or (os.geteuid() == 0 == info.st_uid and not info.st_mode & shared):
        os.fchmod(fd, 0o1777)  # ours (or root's, made before this rule): open it to every user
        info = os.fstat(fd)
    if info.st_mode & shared and not info.st_mode & stat.S_ISVTX:
        raise FiredrillError(
            f"refusing lease directory {path}: writable by others without the sticky bit "
            f"(mode {stat.S_IMODE(info.st_mode):04o}; `chmod 1777 {path}` if it is yours)"
        )
    if not os.access(".", os.W_OK | os.X_OK, dir_fd=fd):
        raise FiredrillError(
            f"cannot lease a network: {path} is not writable by this user "
            f"(`chmod 1777 {path}` as its owner, or set FIREDRILL_LEASE_DIR)"
        )


def _open_lock(directory: int, name: str) -> int | None:
    """A read-only descriptor on the lock file `name` in `directory` (created when missing), or
    None when it cannot serve: a symlink (never followed), not a plain file (a FIFO would block),
    unreadable, or being created by someone else this instant."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        try:
            fd = os.open(name, flags, dir_fd=directory)
        except FileNotFoundError:
            fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=directory)
            os.fchmod(fd, 0o644)  # whatever the umask: other users must open it to lock it
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


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
    directory = _open_lease_dir(_lease_path())
    try:
        with _lock:
            network, fd = _take(directory, start)
    finally:
        os.close(directory)
    try:
        yield f"127.0.{network}"
    finally:
        with _lock:
            _held.discard(network)
        os.close(fd)  # closing the descriptor releases the flock


def _take(directory: int, start: int) -> tuple[int, int]:
    """The first free network from `start` on, and the descriptor holding its lease."""
    for offset in range(COUNT):
        network = FIRST + (start + offset) % COUNT
        if network in _held:
            continue
        fd = _open_lock(directory, f"127.0.{network}.lock")
        if fd is None:
            continue  # a lock file that cannot serve: leave that network alone
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if _unused(network):
            _held.add(network)
            return network, fd
        os.close(fd)
    raise FiredrillError(f"no free loopback network: {COUNT} drills already run here")
