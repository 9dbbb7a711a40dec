"""imboxmaint's logic: offline maintenance of an installation's message store.

Offline means every server of the installation is down, and stays down while the step runs:
the step holds the MSS's lock (`run/mss.lock`), so an MSS started meanwhile waits for it and
then gives up, as it does when another MSS runs (`harness.servers.service`).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from harness import control
from harness.errors import FiredrillError, StoreError
from harness.layout import Layout
from harness.locks import lock_path, try_lock
from harness.sandbox import require_sandbox
from harness.store.messagestore import MessageStore
from harness.topology import PROGRAMS

STEP = "newuidvalidity"
"""The one maintenance step (`imboxmaint newuidvalidity`)."""


class ServersRunning(FiredrillError):
    """An offline step was asked for while servers of the installation run (exit 2)."""


def refuse_running(layout: Layout, step: str) -> None:
    """Raise ServersRunning, naming them, when any server of `layout` runs."""
    running = [p for p in PROGRAMS if control.running_pid(layout, p)]
    if running:
        raise ServersRunning(
            f"refusing {step} on {layout.root}: servers are running ({', '.join(running)}); "
            "it is an offline step: run `imctrl stop allservers` first"
        )


@contextmanager
def _store_owned(layout: Layout, step: str) -> Iterator[None]:
    """Hold the MSS's lock for the block: the store is ours, no MSS can start."""
    layout.run.mkdir(exist_ok=True)
    with lock_path(layout, "mss").open("a") as handle:
        if not try_lock(handle):
            raise ServersRunning(
                f"refusing {step} on {layout.root}: an mss holds run/mss.lock (it is starting)"
            )
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def offline_store(layout: Layout) -> Layout:
    """The layout of a sandbox whose message store may be changed offline now.

    Raises SandboxRefused (no marker), NotAnInstallation (the root is missing or not a
    directory), StoreError (no db/mbox), ServersRunning: all FiredrillError, exit 2.
    """
    layout = require_sandbox(layout.root)
    if not layout.env("mbox").is_dir():
        raise StoreError(f"no message store at {layout.env('mbox')}")
    refuse_running(layout, STEP)
    return layout


def new_uidvalidity(layout: Layout) -> int:
    """`imboxmaint newuidvalidity`: every folder of the message store gets a new, strictly
    greater UIDVALIDITY in one transaction (`MessageStore.renew_uidvalidity`), UIDs and UIDNEXT
    kept; returns how many folders.

    Raises what `offline_store` raises, and StoreError when the store cannot be opened or
    recovered: all FiredrillError, exit 2, nothing changed.
    """
    layout = offline_store(layout)
    with _store_owned(layout, STEP), MessageStore(layout, as_server=True) as store:
        return store.renew_uidvalidity()
