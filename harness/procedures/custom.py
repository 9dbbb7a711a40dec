"""The operator's own procedure: commands run with INTERMAIL, BACKUP_DIR, IMCTRL and IMBOXMAINT
set."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import ProcedureFailed, ProcedureInterrupted
from harness.procedures.base import ProcedureContext

OUTPUT_LIMIT = 64 * 1024
"""Bytes of a command's output kept in the record (the end of it)."""


class Custom:
    """The operator's own commands, run with INTERMAIL, BACKUP_DIR, IMCTRL and IMBOXMAINT set
    (the backend's `imctrl` and `imboxmaint` commands)."""

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
        "IMCTRL": ctx.backend.imctrl(ctx.workdir),
        "IMBOXMAINT": ctx.backend.imboxmaint(ctx.workdir),
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


