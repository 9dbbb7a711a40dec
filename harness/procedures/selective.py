"""Correct procedures an operator uses besides the chapter's full restore, for selftest's
false-alarm set: each loses nothing acknowledged before its backup's consistency point, so a
drill that fails them is a false alarm.

- `Archive`: the chapter 13.4 backup into a tar.gz (drain, archive the paths, start), and its
  restore (stop, replace the paths from the archive, new UIDVALIDITY, start). firedrill reads
  nothing from the archive: the drill judges it from its own copy of the consistency point.
- `ConfigOnly`: the chapter 13.4 backup; after damage to config.db alone, the smallest
  restore: stop, put back config.db alone, start. Mail, accounts and flags since the backup
  are kept (`newer-than-backup`), and the mailbox store is untouched, so no UIDVALIDITY
  changes.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from harness.layout import BACKUP_PATHS
from harness.procedures.base import ProcedureContext
from harness.procedures.builtin import Chapter13, new_uidvalidity
from harness.procedures.copying import remove_path

ARCHIVE = "backup.tar.gz"


def _no_regions(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if Path(info.name).name.startswith("__db.") else info


class Archive:
    """The chapter 13.4 paths as a tar.gz."""

    name = "archive"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.drain()
        with tarfile.open(directory / ARCHIVE, "w:gz", compresslevel=1) as archive:
            for relative in BACKUP_PATHS:
                ctx.still_up()
                if (ctx.layout.root / relative).exists():
                    archive.add(ctx.layout.root / relative, relative, filter=_no_regions)
        ctx.still_up()
        ctx.backend.start()

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        for relative in BACKUP_PATHS:
            remove_path(ctx.layout, relative)
        with tarfile.open(directory / ARCHIVE, "r:gz") as archive:
            archive.extractall(ctx.layout.root, filter="tar")
        new_uidvalidity(ctx, directory)
        ctx.backend.start()


class ConfigOnly(Chapter13):
    """The chapter 13.4 backup; config.db alone put back."""

    name = "config-only"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        shutil.copy2(directory / "tree" / "config" / "config.db", ctx.layout.config)
        ctx.backend.start()


CORRECT: tuple[tuple[type[Archive] | type[ConfigOnly], str], ...] = (
    (Archive, "default"),
    (ConfigOnly, "damaged-config"),
    (ConfigOnly, "operator-overwrites-config"),
)
"""(procedure, catalogue scenario) pairs selftest runs as correct, besides each scenario's own."""
