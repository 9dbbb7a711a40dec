"""The server lock: a server runs while it holds an exclusive `flock` on `run/<program>.lock`.

The lock dies with the process (SIGKILL included), so a stale file never counts as held.
`imctrl` and the stores test the lock by taking it for an instant; a server starting in that
instant waits for it (see `harness.servers.service`).
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO, Any

from harness.layout import Layout


def lock_path(layout: Layout, program: str) -> Path:
    """The lock file of server `program` in the installation `layout`."""
    return layout.run / f"{program}.lock"


def try_lock(handle: IO[Any]) -> bool:
    """Take the exclusive lock on the open file `handle` without blocking; False when another
    open file (another process, or another open of the same file) holds it."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock_held(path: Path) -> bool:
    """True while someone holds the lock on `path` (taken and released at once to find out);
    False when the file does not exist."""
    if not path.exists():
        return False
    with path.open("a") as handle:
        if not try_lock(handle):
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
