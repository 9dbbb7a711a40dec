"""Backup and restore procedures under test: the built-in ones (chapter 13.4 and the complete
image of 13.3), the operator's own commands (`custom`), and a catalogue of flawed ones
(`flaws`, used by `firedrill selftest`).

`base` holds what every procedure shares: the `Procedure` protocol, its context, the watch
that finds a backup's consistency point, and the records of a backup and a restore;
`copying` the sandboxed copy and removal the built-in procedures make.
"""

from __future__ import annotations

from harness.procedures.base import (
    BackupRecord,
    Procedure,
    ProcedureContext,
    RestoreRecord,
    run_restore,
    take_backup,
)
from harness.procedures.builtin import (
    Chapter13,
    Image,
    Restart,
    new_uidvalidity,
    restart_through_logs,
)
from harness.procedures.copying import copy_path, remove_path
from harness.procedures.custom import Custom

BUILT_IN = ("chapter13", "image", "custom")
"""The procedures a scenario names in `[backup] procedure`."""


def procedure_for(name: str, backup_cmd: str = "", restore_cmd: str = "") -> Procedure:
    """The procedure called `name` (one of BUILT_IN); `custom` runs the two commands."""
    if name == "chapter13":
        return Chapter13()
    if name == "image":
        return Image()
    return Custom(backup_cmd, restore_cmd)


__all__ = [
    "BUILT_IN",
    "BackupRecord",
    "Chapter13",
    "Custom",
    "Image",
    "Procedure",
    "ProcedureContext",
    "Restart",
    "RestoreRecord",
    "copy_path",
    "new_uidvalidity",
    "procedure_for",
    "remove_path",
    "restart_through_logs",
    "run_restore",
    "take_backup",
]
