"""Named crash points in the store's write paths, inert unless armed.

A failpoint is armed through the environment: ``FIREDRILL_FAILPOINT=<name>`` makes the process
kill itself with SIGKILL the first time it reaches `<name>` (optionally ``<name>:<n>`` for the
n-th time). The crash-point exploration of the harness arms them one at a time; in every other
process `hit()` is a dictionary lookup and returns.
"""

from __future__ import annotations

import os
import signal

_ARMED = os.environ.get("FIREDRILL_FAILPOINT", "")
_name, _, _count = _ARMED.partition(":")
_remaining = int(_count) if _count.isdigit() else 1

NAMES = (
    "deliver.after-msgfile-write",
    "deliver.after-msgfile-rename",
    "deliver.between-msgid-and-mbox-commit",
    "deliver.after-mbox-commit",
    "expunge.between-mbox-and-msgid-commit",
    "purge.after-record-delete",
    "spool.after-fsync",
    "spool.before-unlink",
    "checkpoint.mid",
    "checkpoint.before-log-removal",
)


def hit(name: str) -> None:
    """Crash the process here when `name` is the armed failpoint."""
    global _remaining
    if name != _name:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
