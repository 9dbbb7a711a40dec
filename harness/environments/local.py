"""The local backend: servers as processes on 127.0.0.x, started and signalled through imctrl's
library (`harness.control`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness import control
from harness.environments.backend import imboxmaint_path, imctrl_path
from harness.layout import Layout
from harness.sandbox import wipe
from harness.topology import PROGRAMS


class LocalBackend:
    """Servers as local processes on 127.0.0.x, like `imctrl` starts them; Killable, Pausable
    (SIGSTOP/SIGCONT) and DiskLosable. Signals go only to the servers of its installation."""

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
        return control.kill(self.layout, servers)  # SIGKILL reaches a stopped process too

    def pause(self, servers: Sequence[str] = ()) -> list[str]:
        return control.pause(self.layout, servers)

    def resume(self, servers: Sequence[str] = ()) -> list[str]:
        return control.resume(self.layout, servers)

    def lose_disk(self) -> list[str]:
        killed = control.kill(self.layout)
        wipe(self.layout)
        return killed

    def running(self) -> list[str]:
        return [p for p in PROGRAMS if control.running_pid(self.layout, p)]

    def close(self) -> None:
        try:
            control.resume(self.layout)  # a paused server cannot act on SIGTERM
            control.stop(self.layout)
        finally:
            control.kill(self.layout)

    def imctrl(self, workdir: Path) -> str:
        return imctrl_path()

    def imboxmaint(self, workdir: Path) -> str:
        return imboxmaint_path(workdir)
