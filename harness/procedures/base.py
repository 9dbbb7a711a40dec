"""Backup and restore procedures under test: chapter 13.4, the complete image (13.3), custom.

Every backup is watched: the consistency point is the start of the last moment during the
procedure when every server was down (the tree was quiet), or the procedure's start if it never
was (a live copy). Operations acknowledged before that point must survive a restore; those
acknowledged after it are what a restore may lose. Each backup records a manifest of what it
holds when it is a tree firedrill can read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from harness.environments.backend import Backend
from harness.errors import FiredrillError, ProcedureInterrupted
from harness.history import HistoryWriter, Stamp, operations
from harness.layout import Layout
from harness.manifest import write_manifest


@dataclass(frozen=True, slots=True)
class BackupRecord:
    procedure: str
    directory: Path
    started: Stamp
    ended: Stamp
    point: Stamp
    point_source: str
    """'quiesced' (every server was down) or 'procedure start' (never quiet: a live copy)."""
    manifest: Path | None
    output: str = ""
    acknowledged_before_point: int = 0
    """The point's position in the history: operations acknowledged before it..."""
    last_before_point: int | None = None
    """...and the index of the last of them (None when there is none)."""

    def to_json(self) -> dict[str, object]:
        return {
            "procedure": self.procedure,
            "directory": str(self.directory),
            "started": self.started.wall,
            "ended": self.ended.wall,
            "window_seconds": round(self.ended.mono - self.started.mono, 3),
            "consistency_point": self.point.wall,
            "point_source": self.point_source,
            "history_position": {
                "acknowledged_before": self.acknowledged_before_point,
                "last_operation": self.last_before_point,
            },
            "manifest": str(self.manifest) if self.manifest else None,
            "output": self.output,
        }


@dataclass(frozen=True, slots=True)
class RestoreRecord:
    procedure: str
    started: Stamp
    ended: Stamp
    output: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "procedure": self.procedure,
            "started": self.started.wall,
            "seconds": round(self.ended.mono - self.started.mono, 3),
            "output": self.output,
        }


@dataclass
class ProcedureContext:
    layout: Layout
    backend: Backend
    history: HistoryWriter
    workdir: Path
    timeout: float = 300.0
    outputs: list[str] = field(default_factory=list)
    crashed: threading.Event = field(default_factory=threading.Event)
    """Set when the machine crashes under the procedure: it stops where it is (its copy is
    left half-done, its commands are killed) and raises ProcedureInterrupted."""

    def still_up(self) -> None:
        """Raise ProcedureInterrupted once the machine has crashed (checked between files)."""
        if self.crashed.is_set():
            raise ProcedureInterrupted("the machine crashed while the procedure ran")


class Procedure(Protocol):
    name: str

    def backup(self, ctx: ProcedureContext, directory: Path) -> None: ...

    def restore(self, ctx: ProcedureContext, directory: Path) -> None: ...


# -- the watch -------------------------------------------------------------------------------


class _QuietWatch:
    """Samples the backend every 20 ms; remembers when every server was down."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.periods: list[Stamp] = []
        self._was_quiet = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="quiet-watch")

    def _run(self) -> None:
        while not self._stop.is_set():
            quiet = not self.backend.running()
            if quiet and not self._was_quiet:
                self.periods.append(Stamp.now())
            self._was_quiet = quiet
            self._stop.wait(0.02)

    def __enter__(self) -> _QuietWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def take_backup(
    procedure: Procedure,
    ctx: ProcedureContext,
    directory: Path,
    manifest_path: Path | None = None,
) -> BackupRecord:
    """Run a backup procedure under the watch; record its window, point and manifest (written
    to `manifest_path`, by default beside the backup in the work directory).

    A machine crash under the backup (ctx.crashed) raises ProcedureInterrupted: there is no
    backup, the history says `backup-interrupted`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    started = ctx.history.event("procedure", "backup-start", procedure=procedure.name)
    with _QuietWatch(ctx.backend) as watch:
        try:
            procedure.backup(ctx, directory)
            ctx.still_up()
        except ProcedureInterrupted as exc:
            ctx.history.event("procedure", "backup-interrupted", procedure=procedure.name)
            raise ProcedureInterrupted(
                f"the {procedure.name} backup was interrupted: {exc}; its copy is incomplete"
            ) from None
    ended = ctx.history.event("procedure", "backup-end", procedure=procedure.name)
    point, source = (
        (watch.periods[-1], "quiesced") if watch.periods else (started, "procedure start")
    )
    before, last = consistency_point(ctx.history, point, source)
    manifest = _manifest(directory, manifest_path or ctx.workdir / "backup.manifest.jsonl")
    return BackupRecord(
        procedure.name,
        directory,
        started,
        ended,
        point,
        source,
        manifest,
        "\n".join(ctx.outputs),
        before,
        last,
    )


def consistency_point(history: HistoryWriter, point: Stamp, source: str) -> tuple[int, int | None]:
    """Where the point falls in the history: how many operations were acknowledged before it,
    and the index of the last of them; recorded as a `consistency-point` event."""
    before = [
        op.index
        for op in operations(history.path)
        if op.acknowledged and op.completed is not None and op.completed.mono <= point.mono
    ]
    last = max(before, default=None)
    history.event(
        "procedure",
        "consistency-point",
        source=source,
        wall=point.wall,
        mono=point.mono,
        acknowledged_before=len(before),
        last_operation=last,
    )
    return len(before), last


def _manifest(directory: Path, path: Path) -> Path | None:
    """The manifest of the backup at `path`, or None when the backup is not a tree firedrill
    can read (e.g. an archive)."""
    tree = directory / "tree" if (directory / "tree").is_dir() else directory
    try:
        write_manifest(tree, path)
    except FiredrillError:
        return None
    return path


def run_restore(procedure: Procedure, ctx: ProcedureContext, directory: Path) -> RestoreRecord:
    ctx.outputs.clear()
    started = ctx.history.event("procedure", "restore-start", procedure=procedure.name)
    procedure.restore(ctx, directory)
    ended = ctx.history.event("procedure", "restore-end", procedure=procedure.name)
    return RestoreRecord(procedure.name, started, ended, "\n".join(ctx.outputs))
