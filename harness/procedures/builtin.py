"""The built-in procedures: chapter 13.4 (Chapter13), the complete image of 13.3 (Image), and
the restart through the logs after a crash.

Both restores add one step the chapter misses: after the tree is back and before any server
starts, `imboxmaint newuidvalidity` (`new_uidvalidity`), so that no UID or POP3 unique-id a
client cached names another message (RFC 3501 §2.3.1.1; the README's "UIDs after a restore").
A restart through the logs keeps every UID and never runs it.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from harness.environments.backend import Killable, MissingCapability
from harness.layout import BACKUP_PATHS
from harness.procedures.base import ProcedureContext
from harness.procedures.copying import copy_path, remove_path
from harness.procedures.custom import run_command
from harness.sandbox import wipe


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


def new_uidvalidity(ctx: ProcedureContext, directory: Path) -> None:
    """The step after db/mbox came back from a backup, before the servers start: `imboxmaint
    newuidvalidity` run the way `$IMBOXMAINT` runs it on this backend (on docker, inside a
    container of the servers' image), like an operator's command: its output line goes into
    the procedure's output, and the history gets a `new-uidvalidity` event with it.

    Raises ProcedureFailed when it exits non-zero (e.g. the store cannot be recovered) or times
    out, ProcedureInterrupted when the machine crashes under it.
    """
    command = [ctx.backend.imboxmaint(ctx.workdir), "--root", str(ctx.layout.root)]
    run_command(shlex.join([*command, "newuidvalidity"]), ctx, directory, "newuidvalidity")
    ctx.history.event("procedure", "new-uidvalidity", output=ctx.outputs[-1].strip())


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
        """Stop, replace exactly the backed-up paths, give every folder a new UIDVALIDITY
        (`new_uidvalidity`: the step the chapter misses), start."""
        ctx.backend.stop()
        for relative in self.paths:
            remove_path(ctx.layout, relative)
            copy_path(directory / "tree" / relative, ctx.layout.root / relative, ctx)
        new_uidvalidity(ctx, directory)
        ctx.backend.start()


class Image:
    """Section 13.3: stop everything, copy the whole installation; restore the whole tree."""

    name = "image"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        copy_path(ctx.layout.root, directory / "tree", ctx, ignore=shutil.ignore_patterns("run"))
        ctx.still_up()
        ctx.backend.start()

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        """Stop, replace the whole tree (its marker kept), give every folder a new UIDVALIDITY
        (`new_uidvalidity`), start."""
        ctx.backend.stop()
        wipe(ctx.layout)
        for child in (directory / "tree").iterdir():
            if child.name != ctx.layout.marker.name:
                copy_path(child, ctx.layout.root / child.name, ctx)
        new_uidvalidity(ctx, directory)
        ctx.backend.start()
