"""What a restart does to the stores after a crash, in one place (servers call it at start).

Opening an environment with `DB_RECOVER` replays its logs; the directory index, being derived,
is then reconciled with the entries (a crash between the entry and index commits leaves an entry
without its keys); a checkpoint makes the recovered state the new starting point.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.layout import Layout
from harness.store.directory import Directory
from harness.store.messagestore import MessageStore


@dataclass(frozen=True, slots=True)
class Recovered:
    index_changes: int


def recover_message_store(layout: Layout) -> None:
    with MessageStore(layout):
        pass


def recover_directory(layout: Layout) -> int:
    with Directory(layout) as directory:
        return directory.reconcile_index()


def recover_installation(layout: Layout) -> Recovered:
    """Recover every environment of a stopped installation (as `imctrl start` would)."""
    recover_message_store(layout)
    return Recovered(index_changes=recover_directory(layout))
