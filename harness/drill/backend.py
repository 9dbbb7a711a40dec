"""Environment backends: how servers run. One small required interface, optional capabilities.

A backend must start, stop, drain and report its servers; `Killable` (a crash) is a separate
capability a fault asks for. `LocalBackend` runs processes on loopback through imctrl's library;
`NoopBackend` does nothing and is what the compliance tests of the protocol start from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from harness import control
from harness.layout import Layout
from harness.topology import PROGRAMS


class Backend(Protocol):
    name: str

    def start(self, servers: Sequence[str] = ()) -> None: ...

    def stop(self, servers: Sequence[str] = ()) -> None: ...

    def drain(self, servers: Sequence[str] = ()) -> None: ...

    def running(self) -> list[str]:
        """The servers that are up."""
        ...

    def close(self) -> None:
        """Release everything the backend created (all servers down)."""
        ...


@runtime_checkable
class Killable(Protocol):
    def kill(self, servers: Sequence[str] = ()) -> list[str]:
        """SIGKILL the servers at once (a crash); returns those that were running."""
        ...


class LocalBackend:
    """Servers as local processes on 127.0.0.x, like `imctrl` starts them."""

    name = "local"

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def start(self, servers: Sequence[str] = ()) -> None:
        control.start(self.layout, servers)

    def stop(self, servers: Sequence[str] = ()) -> None:
        control.stop(self.layout, servers)

    def drain(self, servers: Sequence[str] = ()) -> None:
        control.drain(self.layout, servers)

    def kill(self, servers: Sequence[str] = ()) -> list[str]:
        return control.kill(self.layout, servers)

    def running(self) -> list[str]:
        return [p for p in PROGRAMS if control.running_pid(self.layout, p)]

    def close(self) -> None:
        try:
            control.stop(self.layout)
        finally:
            control.kill(self.layout)


class NoopBackend:
    """A backend that runs nothing (for compliance tests and dry runs)."""

    name = "noop"

    def __init__(self) -> None:
        self._up: set[str] = set()

    def start(self, servers: Sequence[str] = ()) -> None:
        self._up |= set(servers or PROGRAMS)

    def stop(self, servers: Sequence[str] = ()) -> None:
        self._up -= set(servers or PROGRAMS)

    def drain(self, servers: Sequence[str] = ()) -> None:
        self.stop(servers)

    def running(self) -> list[str]:
        return [p for p in PROGRAMS if p in self._up]

    def close(self) -> None:
        self._up.clear()
