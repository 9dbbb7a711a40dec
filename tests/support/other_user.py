"""Acting as a second, unprivileged user: a forked child that drops to uid/gid 65534 (nobody).

Firedrill runs as root and as ordinary users on one machine; tests running as root check what
an ordinary user's process sees (no passwd entry is needed to setuid; nothing is installed).
The child inherits the test's state (imports, monkeypatches) and talks with the test in lines
over two pipes. Not root: the test is skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

OTHER_UID = 65534
"""nobody's uid and gid on Debian (any unprivileged id would do)."""


def require_root() -> None:
    """Return when this process can act as a second user; skip the test otherwise."""
    if os.geteuid() != 0:
        pytest.skip(
            "needs root: the test forks a child that setuid()s to a second user (nobody) to "
            "show what another user can do; CI (.ci/run) runs as root and runs it"
        )


class Channel:
    """One end of a line-based conversation between the test and the other user's process."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read, self._write = read_fd, write_fd
        self._pending = b""

    def say(self, line: str) -> None:
        os.write(self._write, line.encode() + b"\n")

    def hear(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise AssertionError(f"no word from the other end within {timeout:.0f}s")
            chunk = os.read(self._read, 4096)
            if not chunk:
                raise AssertionError("the other end closed without a word")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode()

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


@contextlib.contextmanager
def as_other_user(work: Callable[[Channel], None]) -> Iterator[Channel]:
    """Run `work(channel)` in a forked child as uid/gid OTHER_UID; yield the test's end of the
    channel. An exception in the child is said as one line `error: Type: message`. The child
    is waited for when the block ends (killed after 30 s)."""
    require_root()
    child_reads, test_writes = os.pipe()
    test_reads, child_writes = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(test_writes)
            os.close(test_reads)
            os.setgroups([])
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            channel = Channel(child_reads, child_writes)
            try:
                work(channel)
                status = 0
            except BaseException as exc:
                channel.say(f"error: {type(exc).__name__}: {exc}".replace("\n", " | "))
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(child_reads)
    os.close(child_writes)
    channel = Channel(test_reads, test_writes)
    try:
        yield channel
    finally:
        _reap(pid)
        channel.close()


def _reap(pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


@contextlib.contextmanager
def shared_directory(mode: int = 0o755) -> Iterator[Path]:
    """A new directory in the real temporary directory that the other user can reach (pytest's
    tmp_path is private to root), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="shared-by-users-"))
    try:
        path.chmod(mode)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
