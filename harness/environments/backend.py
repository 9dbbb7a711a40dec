"""Environment backends: how servers run. One small required interface, optional capabilities.

A backend must start, stop, drain and report its servers (`Backend`). What a fault needs beyond
that is a separate, runtime-checkable capability: `Killable` (a crash), `Pausable` (a hang) and
`DiskLosable` (the disk holding the installation fails). A fault asks for the one it needs with
`isinstance`, and a backend without it is refused with `MissingCapability` before the drill
starts. `LocalBackend` (local.py) runs processes on loopback through imctrl's library,
`DockerBackend` (containers.py) runs containers; `NoopBackend` runs nothing and implements every
capability as bookkeeping (what the compliance tests start from).
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from harness import control
from harness.errors import FiredrillError
from harness.topology import PROGRAMS


class Backend(Protocol):
    name: str

    def start(self, servers: Sequence[str] = ()) -> None: ...

    def stop(self, servers: Sequence[str] = ()) -> None: ...

    def drain(self, servers: Sequence[str] = ()) -> None: ...

    def running(self) -> list[str]:
        """The servers that are up (a paused server is up: it holds its lock and its sockets)."""
        ...

    def close(self) -> None:
        """Release everything the backend created (all servers down, none left paused)."""
        ...

    def imctrl(self, workdir: Path) -> str:
        """The command an operator's procedure runs as `$IMCTRL` (start, stop, drain, restart,
        status) so that it starts servers the way this backend does; helper files it needs go
        in `workdir`."""
        ...

    def imboxmaint(self, workdir: Path) -> str:
        """The command that runs `imboxmaint` (offline store maintenance, e.g. `newuidvalidity`
        after a restore) against this backend's installation, where its servers would run (on
        docker: inside a container of the servers' image); an operator's procedure gets it as
        `$IMBOXMAINT`, and the built-in restores run it. Helper files go in `workdir`."""
        ...


@runtime_checkable
class Killable(Protocol):
    def kill(self, servers: Sequence[str] = ()) -> list[str]:
        """SIGKILL the servers at once (a crash), paused ones too; returns those that were up."""
        ...


@runtime_checkable
class Pausable(Protocol):
    def pause(self, servers: Sequence[str] = ()) -> list[str]:
        """Freeze the servers (a hang): they keep their sockets and locks and answer nothing.
        Returns those frozen."""
        ...

    def resume(self, servers: Sequence[str] = ()) -> list[str]:
        """Thaw frozen servers (every one when none is named); returns those resumed."""
        ...


@runtime_checkable
class DiskLosable(Protocol):
    def lose_disk(self) -> list[str]:
        """The disk holding the installation fails: every server dies at once and the tree is
        gone (all but the sandbox marker). Returns the servers that were up."""
        ...


CAPABILITIES: dict[type, str] = {
    Killable: "kill servers",
    Pausable: "pause servers",
    DiskLosable: "lose its disk",
}
"""Each optional capability with what it lets a fault do (for messages)."""


class MissingCapability(FiredrillError):
    """A fault needs a capability the chosen backend does not have."""

    def __init__(self, backend: str, capability: type, needed_by: str) -> None:
        super().__init__(
            f"the {backend} backend cannot {CAPABILITIES[capability]} "
            f"({capability.__name__}), which {needed_by} needs"
        )
        self.backend = backend
        self.capability = capability


def capabilities(backend: object) -> list[str]:
    """The names of the optional capabilities a backend (an instance or a class) has."""
    cls = backend if isinstance(backend, type) else type(backend)
    return [c.__name__ for c in CAPABILITIES if issubclass(cls, c)]


def imctrl_path() -> str:
    """The installed imctrl: the one beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "imctrl"
    return str(beside) if beside.exists() else shutil.which("imctrl") or "imctrl"


def imboxmaint_path(workdir: Path) -> str:
    """The installed imboxmaint beside this Python; else a script in `workdir` that runs it
    with this Python (`-m harness.cli.imboxmaint`: an editable install made before the command
    existed has no console script for it)."""
    beside = Path(sys.executable).parent / "imboxmaint"
    if beside.exists():
        return str(beside)
    script = workdir / "imboxmaint"
    script.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m harness.cli.imboxmaint "$@"\n'
    )
    script.chmod(0o755)
    return str(script)


class NoopBackend:
    """A backend that runs nothing (compliance tests, dry runs): every operation, capabilities
    included, only changes which servers it says are up and paused."""

    name = "noop"

    def __init__(self) -> None:
        self._up: set[str] = set()
        self.paused: set[str] = set()

    def start(self, servers: Sequence[str] = ()) -> None:
        self._up |= set(control.select(servers))

    def stop(self, servers: Sequence[str] = ()) -> None:
        self._up -= set(control.select(servers))
        self.paused &= self._up

    def drain(self, servers: Sequence[str] = ()) -> None:
        self.stop(servers)

    def kill(self, servers: Sequence[str] = ()) -> list[str]:
        killed = [p for p in control.select(servers) if p in self._up]
        self.stop(killed)
        return killed

    def pause(self, servers: Sequence[str] = ()) -> list[str]:
        paused = [p for p in control.select(servers) if p in self._up]
        self.paused |= set(paused)
        return paused

    def resume(self, servers: Sequence[str] = ()) -> list[str]:
        resumed = [p for p in control.select(servers) if p in self.paused]
        self.paused -= set(resumed)
        return resumed

    def lose_disk(self) -> list[str]:
        return self.kill()

    def running(self) -> list[str]:
        return [p for p in PROGRAMS if p in self._up]

    def close(self) -> None:
        self._up.clear()
        self.paused.clear()

    def imctrl(self, workdir: Path) -> str:
        return imctrl_path()

    def imboxmaint(self, workdir: Path) -> str:
        return imboxmaint_path(workdir)
