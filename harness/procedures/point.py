"""The harness's own record of the consistency point: while a backup runs, the moment every
server is down, what a manifest reads (the Berkeley DB environments, config.db, the spool)
is copied aside from the quiesced installation, so that the restored tree can be compared
with the consistency point whatever the backup's format is (a tree, a tar.gz, a dump, a
snapshot: issue "any backup format"). Message files are not copied: the manifest takes
their digests from the msgid records.

The copy counts only if no server came back while it ran (the watch saw no start, and no
server runs when it ends); otherwise there is none for that quiet period and the drill falls
back to the backup's own tree, or judges the restore from the history alone. (An offline
tool the procedure runs while the servers are down, such as a db utility, is not seen: a
procedure that rewrites the stores while they are down changes its own consistency point.)
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from harness.environments.backend import Backend
from harness.layout import MARKER, Layout
from harness.procedures.copying import copy_path

SNAPSHOT_PATHS = ("db/mbox", "db/msgid", "db/entry", "db/index", "mta/spool", "config/config.db")
"""What a manifest reads of an installation (harness.manifest.TREE)."""


@dataclass
class Snapshot:
    """One copy of the quiesced installation: its directory, the quiet period it belongs to
    (index into the watch's periods), and whether it held (`valid`)."""

    root: Path
    period: int
    done: threading.Event = field(default_factory=threading.Event)
    restarted: threading.Event = field(default_factory=threading.Event)
    """Set when a server came back while this copy ran (it is then void)."""
    valid: bool = False
    why: str = ""


class PointCopier:
    """Takes a `Snapshot` in a thread each time a quiet period begins (`begin`), and tells
    which one belongs to a period (`for_period`, after `close`)."""

    def __init__(self, layout: Layout, backend: Backend, directory: Path) -> None:
        self.layout = layout
        self.backend = backend
        self.directory = directory
        self.snapshots: list[Snapshot] = []
        self._threads: list[threading.Thread] = []

    def server_back(self) -> None:
        """A server came back (the watch saw it): every copy still running is void."""
        for snapshot in self.snapshots:
            if not snapshot.done.is_set():
                snapshot.restarted.set()

    def begin(self, period: int) -> None:
        snapshot = Snapshot(self.directory / f"point-{period}", period)
        self.snapshots.append(snapshot)
        thread = threading.Thread(
            target=self._copy, args=(snapshot,), daemon=True, name="point-copy"
        )
        self._threads.append(thread)
        thread.start()

    def _copy(self, snapshot: Snapshot) -> None:
        try:
            shutil.rmtree(snapshot.root, ignore_errors=True)  # an interrupted backup's
            snapshot.root.mkdir(parents=True)
            (snapshot.root / MARKER).touch()
            for relative in SNAPSHOT_PATHS:
                if snapshot.restarted.is_set():
                    break
                copy_path(self.layout.root / relative, snapshot.root / relative)
            if snapshot.restarted.is_set() or self.backend.running():
                snapshot.why = "a server came back while the consistency point was copied"
            else:
                snapshot.valid = True
        except Exception as exc:  # a copy that failed is no record; the drill says so
            snapshot.why = f"the consistency point could not be copied: {exc}"
        finally:
            snapshot.done.set()

    def close(self) -> None:
        """Wait for the copies still running."""
        for thread in self._threads:
            thread.join()

    def for_period(self, period: int) -> Snapshot | None:
        return next((s for s in self.snapshots if s.period == period), None)

    def discard(self) -> None:
        """Remove every copy (after the manifest was written from the one that counts)."""
        for snapshot in self.snapshots:
            shutil.rmtree(snapshot.root, ignore_errors=True)
