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
from harness.procedures.point import PointCopier


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
    manifest_source: str = ""
    """Where `manifest` came from: "consistency point" (the harness's copy of the quiesced
    installation, whatever the backup's format), "backup tree" (read from the backup: a live
    copy, never quiet), or, without a manifest, why there is none."""

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
            "manifest_source": self.manifest_source,
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
    """Samples the backend every 20 ms; remembers when every server was down, and has the
    consistency point copied aside each time they all are (harness.procedures.point)."""

    def __init__(self, backend: Backend, copier: PointCopier | None = None) -> None:
        self.backend = backend
        self.copier = copier
        self.periods: list[Stamp] = []
        self._was_quiet = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="quiet-watch")

    def _run(self) -> None:
        while not self._stop.is_set():
            quiet = not self.backend.running()
            if quiet and not self._was_quiet:
                self.periods.append(Stamp.now())
                if self.copier is not None:
                    self.copier.begin(len(self.periods) - 1)
            elif not quiet and self._was_quiet and self.copier is not None:
                self.copier.server_back()
            self._was_quiet = quiet
            self._stop.wait(0.02)

    def __enter__(self) -> _QuietWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.copier is not None:
            self.copier.close()


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
    copier = PointCopier(ctx.layout, ctx.backend, ctx.workdir / "consistency-point")
    try:  # the copies go whatever happens, once the watch (which starts them) has stopped
        with _QuietWatch(ctx.backend, copier) as watch:
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
        path = manifest_path or ctx.workdir / "backup.manifest.jsonl"
        manifest, manifest_source = _point_manifest(copier, len(watch.periods) - 1, path)
    finally:
        copier.discard()
    if manifest is None:
        manifest = _manifest(directory, path)
        manifest_source = "backup tree" if manifest else manifest_source
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
        manifest_source,
    )


def _point_manifest(copier: PointCopier, period: int, path: Path) -> tuple[Path | None, str]:
    """The manifest of the consistency point from the harness's own copy of it, with where it
    came from ("consistency point"), or None and why there is none."""
    snapshot = copier.for_period(period) if period >= 0 else None
    if snapshot is None:
        return None, "" if period >= 0 else "the servers never were all down (a live copy)"
    if not snapshot.valid:
        return None, snapshot.why
    try:
        write_manifest(snapshot.root, path)
    except FiredrillError as exc:
        return None, f"the consistency point could not be read: {exc}"
    return path, "consistency point"


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
