"""Backup and restore procedures under test: chapter 13.4, the complete image (13.3), custom.

Every backup is watched: the consistency point is the start of the last moment during the
procedure when every server was down (the tree was quiet), or the procedure's start if it never
was (a live copy). Operations acknowledged before that point must survive a restore; those
acknowledged after it are what a restore may lose. Each backup records a manifest of what it
holds when it is a tree firedrill can read.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from harness.drill.backend import Backend, Killable, MissingCapability
from harness.errors import FiredrillError, ProcedureFailed, ProcedureInterrupted
from harness.history import HistoryWriter, Stamp, operations
from harness.layout import BACKUP_PATHS, Layout
from harness.manifest import write_manifest
from harness.sandbox import require_sandbox, wipe

OUTPUT_LIMIT = 64 * 1024


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
    if watch.periods:
        point, source = watch.periods[-1], "quiesced"
    else:
        point, source = started, "procedure start"
    before = [
        op.index
        for op in operations(ctx.history.path)
        if op.acknowledged and op.completed is not None and op.completed.mono <= point.mono
    ]
    last = max(before, default=None)
    ctx.history.event(
        "procedure",
        "consistency-point",
        source=source,
        wall=point.wall,
        mono=point.mono,
        acknowledged_before=len(before),
        last_operation=last,
    )
    tree = directory / "tree" if (directory / "tree").is_dir() else directory
    manifest_path = manifest_path or ctx.workdir / "backup.manifest.jsonl"
    manifest: Path | None = manifest_path
    try:
        write_manifest(tree, manifest_path)
    except FiredrillError:
        manifest = None  # the backup is not a tree firedrill can read (e.g. an archive)
    return BackupRecord(
        procedure.name,
        directory,
        started,
        ended,
        point,
        source,
        manifest,
        "\n".join(ctx.outputs),
        len(before),
        last,
    )


def run_restore(procedure: Procedure, ctx: ProcedureContext, directory: Path) -> RestoreRecord:
    ctx.outputs.clear()
    started = ctx.history.event("procedure", "restore-start", procedure=procedure.name)
    procedure.restore(ctx, directory)
    ended = ctx.history.event("procedure", "restore-end", procedure=procedure.name)
    return RestoreRecord(procedure.name, started, ended, "\n".join(ctx.outputs))


class Restart(Protocol):
    """A recovery through the logs: gets the servers that do not answer (connections accepted,
    no reply within the probe timeout) and must leave every server serving."""

    def __call__(self, ctx: ProcedureContext, unresponsive: Sequence[str]) -> None: ...


def restart_through_logs(ctx: ProcedureContext, unresponsive: Sequence[str]) -> None:
    """What an operator does after a crash or a hang: kill the servers that hang (a frozen
    process cannot shut down cleanly), then start every server; each recovers through its logs."""
    if unresponsive:
        if not isinstance(ctx.backend, Killable):
            raise MissingCapability(ctx.backend.name, Killable, "restarting a hung server")
        killed = ctx.backend.kill(unresponsive)
        ctx.history.event("procedure", "kill-unresponsive", servers=killed)
    ctx.backend.start()
    ctx.history.event("procedure", "restart")


# -- copying ---------------------------------------------------------------------------------


def _no_regions(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("__db.")]


def copy_path(source: Path, target: Path, ctx: ProcedureContext | None = None) -> None:
    """Copy a file or a tree, without Berkeley DB region files (`__db.*`), keeping metadata.

    With a context, a machine crash stops the copy between two files (ProcedureInterrupted).
    """
    if not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = shutil.copy2 if ctx is None else _copy_while_up(ctx)
    if source.is_dir():
        shutil.copytree(
            source,
            target,
            ignore=_no_regions,
            symlinks=True,
            dirs_exist_ok=False,
            copy_function=copy,
        )
    else:
        copy(source, target)


def _copy_while_up(ctx: ProcedureContext) -> Callable[[Path | str, Path | str], object]:
    def copy(source: Path | str, target: Path | str) -> object:
        ctx.still_up()
        return shutil.copy2(source, target)

    return copy


def remove_path(layout: Layout, relative: str) -> None:
    """Remove a path inside the sandbox (refuses anything outside it)."""
    require_sandbox(layout.root)
    path = (layout.root / relative).resolve()
    if layout.root.resolve() not in path.parents:
        raise FiredrillError(f"refusing to remove {path}: outside {layout.root}")
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# -- the built-in procedures -----------------------------------------------------------------


class Chapter13:
    """Section 13.4: drain all servers, copy the mail system paths, restart all servers."""

    name = "chapter13"
    paths = BACKUP_PATHS

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.drain()
        for relative in self.paths:
            ctx.still_up()
            copy_path(ctx.layout.root / relative, directory / "tree" / relative, ctx)
        ctx.still_up()
        ctx.backend.start()

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        for relative in self.paths:
            remove_path(ctx.layout, relative)
            copy_path(directory / "tree" / relative, ctx.layout.root / relative)
        ctx.backend.start()


class Image:
    """Section 13.3: stop everything, copy the whole installation; restore the whole tree."""

    name = "image"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        shutil.copytree(
            ctx.layout.root,
            directory / "tree",
            symlinks=True,
            ignore=shutil.ignore_patterns("run"),
            copy_function=_copy_while_up(ctx),
        )
        ctx.still_up()
        ctx.backend.start()

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        wipe(ctx.layout)
        for child in (directory / "tree").iterdir():
            if child.name != ctx.layout.marker.name:
                copy_path(child, ctx.layout.root / child.name)
        ctx.backend.start()


def imctrl_path() -> str:
    """The imctrl a custom procedure calls (the one installed beside this Python)."""
    beside = Path(sys.executable).parent / "imctrl"
    return str(beside) if beside.exists() else shutil.which("imctrl") or "imctrl"


class Custom:
    """The operator's own commands, run with INTERMAIL, BACKUP_DIR and IMCTRL set."""

    name = "custom"

    def __init__(self, backup_cmd: str, restore_cmd: str) -> None:
        self.backup_cmd = backup_cmd
        self.restore_cmd = restore_cmd

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        run_command(self.backup_cmd, ctx, directory, "backup")

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        run_command(self.restore_cmd, ctx, directory, "restore")


def run_command(command: str, ctx: ProcedureContext, directory: Path, what: str) -> None:
    """Run an operator command in its own process group; kill the group on timeout or Ctrl-C."""
    env = {
        **os.environ,
        "INTERMAIL": str(ctx.layout.root),
        "BACKUP_DIR": str(directory),
        "IMCTRL": imctrl_path(),
        **getattr(ctx.backend, "procedure_env", dict)(),
    }
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ProcedureFailed(f"{what} command cannot be parsed: {exc}") from exc
    if not argv:
        raise ProcedureFailed(f"{what} command is empty")
    if "/" in argv[0] and not Path(argv[0]).is_absolute():
        argv[0] = str(Path(argv[0]).absolute())  # relative to where firedrill was started
    with _process_group(argv, env, ctx.workdir) as proc:
        out = _wait(proc, ctx, f"{what} command", command)
    ctx.outputs.append(_clip(out))
    if proc.returncode != 0:
        raise ProcedureFailed(
            f"{what} command exited {proc.returncode}: {command}: {_last_line(out)}"
        )


def _wait(proc: subprocess.Popen[str], ctx: ProcedureContext, what: str, command: str) -> str:
    """The command's output once it exits; its group is killed on timeout or machine crash."""
    deadline = time.monotonic() + ctx.timeout
    while True:
        try:
            out, _ = proc.communicate(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            return out
        except subprocess.TimeoutExpired:
            crashed, late = ctx.crashed.is_set(), time.monotonic() >= deadline
            if not (crashed or late):
                continue
            _kill_group(proc)
            out, _ = proc.communicate()
            ctx.outputs.append(_clip(out))
            if crashed:
                raise ProcedureInterrupted(f"{what} killed by the crash: {command}") from None
            raise ProcedureFailed(f"{what} timed out after {ctx.timeout:g}s: {command}") from None


@contextmanager
def _process_group(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
) -> Iterator[subprocess.Popen[str]]:
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise ProcedureFailed(f"cannot run {argv[0]}: {exc.strerror}") from exc
    try:
        yield proc
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _clip(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= OUTPUT_LIMIT else "[...]\n" + text[-OUTPUT_LIMIT:]


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else "(no output)"


def procedure_for(name: str, backup_cmd: str = "", restore_cmd: str = "") -> Procedure:
    if name == "chapter13":
        return Chapter13()
    if name == "image":
        return Image()
    return Custom(backup_cmd, restore_cmd)
