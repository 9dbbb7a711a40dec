"""A catalogue of flawed backup and restore procedures: realistic mistakes firedrill must catch.

Each flaw is a procedure (a variation of chapter 13.4), the catalogue scenario in which its
mistake must show, and the finding kinds that prove it was caught. `firedrill selftest` runs
them all, and the correct procedures on the whole catalogue, and scores the detection.

A flaw makes one mistake: its own restore still gives every folder a new UIDVALIDITY like the
built-in one (`new_uidvalidity`), except `forgets-uidvalidity`, whose mistake that is, and
`restore-onto-running`, which cannot run it on a live store.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.layout import BACKUP_PATHS
from harness.procedures import (
    Chapter13,
    ProcedureContext,
    copy_path,
    new_uidvalidity,
    remove_path,
)
from harness.store.messagestore import MessageStore
from harness.store.msgfiles import MessageFiles, is_temporary
from harness.store.spool import Spool, wait_drained

DATABASES = tuple(p for p in BACKUP_PATHS if p.startswith("db/"))
SPOOL_WAIT = 30.0
"""Seconds a flawed restore waits for the restored spool to be delivered before it re-injects
the backup's queue."""
SLOW_MEDIUM = 1.0
"""Seconds a flawed live copy spends between two paths (a tape, a slow network share)."""


def _copy(ctx: ProcedureContext, directory: Path, paths: tuple[str, ...]) -> None:
    for relative in paths:
        copy_path(ctx.layout.root / relative, directory / "tree" / relative, ctx)


def _put_back(ctx: ProcedureContext, source: Path, paths: tuple[str, ...]) -> None:
    for relative in paths:
        remove_path(ctx.layout, relative)
        copy_path(source / relative, ctx.layout.root / relative, ctx)


class NoDrain(Chapter13):
    """Copies while traffic runs, msgfiles first and the databases a moment later."""

    name = "flaw:no-drain"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        _copy(ctx, directory, ("msgfiles",))
        time.sleep(SLOW_MEDIUM)
        _copy(ctx, directory, tuple(p for p in BACKUP_PATHS if p != "msgfiles"))


class DataWithoutLogs(Chapter13):
    """Copies the database files but not their log.NNNNNNNNNN files."""

    name = "flaw:data-without-logs"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        super().backup(ctx, directory)
        for log in (directory / "tree" / "db").glob("*/log.*"):
            log.unlink()


class LogsBeforeData(Chapter13):
    """Copies the logs first and the data files later, without draining."""

    name = "flaw:logs-before-data"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        for env in DATABASES:
            target = directory / "tree" / env
            target.mkdir(parents=True, exist_ok=True)
            for log in (ctx.layout.root / env).glob("log.*"):
                copy_path(log, target / log.name, ctx)
        time.sleep(SLOW_MEDIUM)
        for env in DATABASES:
            for data in (ctx.layout.root / env).iterdir():
                if data.suffix == ".db":
                    copy_path(data, directory / "tree" / env / data.name, ctx)
        _copy(ctx, directory, ("msgfiles", "mta/spool", "config/config.db"))


class _Without(Chapter13):
    """Backs up and restores all chapter 13.4 paths but one."""

    left_out = ""

    @property
    def paths(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(p for p in BACKUP_PATHS if p != self.left_out)


class ForgetSpool(_Without):
    """Forgets mta/spool: mail waiting in the queue at backup time is not in the backup."""

    name = "flaw:forget-spool"
    left_out = "mta/spool"


class ForgetConfig(_Without):
    """Forgets config/config.db."""

    name = "flaw:forget-config"
    left_out = "config/config.db"


class _TwoMoments(Chapter13):
    """Drains and copies `first`, lets traffic run, drains again and copies the rest."""

    first: tuple[str, ...] = ()

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.drain()
        _copy(ctx, directory, self.first)
        ctx.backend.start()
        time.sleep(SLOW_MEDIUM * 3)  # a day's traffic, in a drill
        ctx.backend.drain()
        _copy(ctx, directory, tuple(p for p in BACKUP_PATHS if p not in self.first))
        ctx.backend.start()


class MsgfilesAndDbApart(_TwoMoments):
    """Takes msgfiles at one moment and the databases at another."""

    name = "flaw:msgfiles-db-apart"
    first = ("msgfiles",)


class DirectoryAndStoreApart(_TwoMoments):
    """Takes the directory (db/entry, db/index) at one moment and the message store later."""

    name = "flaw:directory-store-apart"
    first = ("db/entry", "db/index", "db/dircache")


class RestoreWithoutRemoving(Chapter13):
    """Copies the backup over the damaged tree without removing what the backup lacks."""

    name = "flaw:restore-without-removing"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        shutil.copytree(directory / "tree", ctx.layout.root, dirs_exist_ok=True, symlinks=True)
        new_uidvalidity(ctx, directory)
        ctx.backend.start()


class RestoreOnCorruptedTree(Chapter13):
    """Restores only the databases on top of a tree whose message files are corrupted."""

    name = "flaw:restore-on-corrupted-tree"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        _put_back(ctx, directory / "tree", DATABASES)
        new_uidvalidity(ctx, directory)
        ctx.backend.start()


class CopiesCorruptFile(Chapter13):
    """Backs up without verifying: a message file silently corrupted before the backup is
    copied as it is, so the backup itself is not a clean recovery point."""

    name = "flaw:copies-corrupt-file"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.drain()
        victims = [p for p in MessageFiles(ctx.layout.msgfiles).walk() if not is_temporary(p)]
        victim = victims[len(victims) // 2]
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x20  # the silent corruption that was already there
        victim.write_bytes(bytes(data))
        _copy(ctx, directory, BACKUP_PATHS)
        ctx.backend.start()


class PartialMsgfiles(Chapter13):
    """Copies only part of msgfiles (a glob that missed half the directories)."""

    name = "flaw:partial-msgfiles"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.drain()
        _copy(ctx, directory, tuple(p for p in BACKUP_PATHS if p != "msgfiles"))
        (directory / "tree" / "msgfiles").mkdir(parents=True)
        for top in sorted(ctx.layout.msgfiles.iterdir()):
            if top.name[0] in "01234567":
                copy_path(top, directory / "tree" / "msgfiles" / top.name, ctx)
        ctx.backend.start()


class OlderBackupRestored(Chapter13):
    """Keeps yesterday's backup beside today's and restores the older one by mistake."""

    name = "flaw:older-backup-restored"

    def backup(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.drain()
        for relative in BACKUP_PATHS:
            copy_path(ctx.layout.root / relative, directory / "older" / relative, ctx)
        ctx.backend.start()
        time.sleep(SLOW_MEDIUM * 1.5)
        super().backup(ctx, directory)

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        _put_back(ctx, directory / "older", BACKUP_PATHS)
        new_uidvalidity(ctx, directory)
        ctx.backend.start()


class RestoreOntoRunning(Chapter13):
    """Replaces the backed-up paths while every server keeps running, then runs `imctrl start
    allservers` (a no-op: they are up); the store maintenance step cannot run on a live store."""

    name = "flaw:restore-onto-running"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        _put_back(ctx, directory / "tree", BACKUP_PATHS)
        ctx.backend.start()


class ForgetsUidvalidity(Chapter13):
    """Restores as chapter 13 writes it (stop, copy back, start) without giving the folders a
    new UIDVALIDITY: UIDNEXT goes back, new mail takes UIDs clients cached."""

    name = "flaw:forgets-uidvalidity"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        _put_back(ctx, directory / "tree", BACKUP_PATHS)
        ctx.backend.start()


class LosesFlags(Chapter13):
    """Restores the mail from an export that does not carry per-message state (like a copy
    that drops the Status headers): every flag clients set is gone."""

    name = "flaw:loses-flags"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        super().restore(ctx, directory)
        ctx.backend.stop()
        with MessageStore(ctx.layout) as store:
            for row in list(store.rows()):
                if row.flags:
                    store.set_flags(row.key, frozenset())
        ctx.backend.start()


class ReinjectsSpool(Chapter13):
    """Restores correctly, then also puts the backup's queue back into the spool "so that no
    queued mail is lost" and restarts the servers: mail the restored spool already delivered
    arrives a second time."""

    name = "flaw:reinjects-spool"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        super().restore(ctx, directory)
        wait_drained(ctx.layout.spool, SPOOL_WAIT)
        ctx.backend.stop()
        for queued in Spool(directory / "tree" / "mta" / "spool").paths():
            copy_path(queued, ctx.layout.spool / queued.name, ctx)
        ctx.backend.start()


@dataclass(frozen=True, slots=True)
class Flaw:
    procedure: type[Chapter13]
    scenario: str
    caught_by: frozenset[str]
    mix: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.procedure.name

    @property
    def mistake(self) -> str:
        return (self.procedure.__doc__ or "").split("\n\n")[0].replace("\n", " ")


_LOST = frozenset({"acknowledged-message-lost"})
FLAWS: tuple[Flaw, ...] = (
    Flaw(
        NoDrain,
        "default",
        frozenset(
            {"message-file-missing", "acknowledged-message-lost", "dangling-row", "refcount-low"}
        ),
    ),
    Flaw(
        DataWithoutLogs,
        "lose-mbox-store",
        frozenset({"log-missing", "recovery-failed", "service-not-restored"}),
    ),
    Flaw(
        LogsBeforeData,
        "default",
        frozenset(
            {
                "log-missing",
                "recovery-failed",
                "database-corrupt",
                "service-not-restored",
                "message-file-missing",
                "orphan-message-file",
            }
        ),
    ),
    Flaw(ForgetSpool, "spooled-at-backup", _LOST),
    Flaw(ForgetConfig, "damaged-config", frozenset({"config-syntax", "service-not-restored"})),
    Flaw(MsgfilesAndDbApart, "default", frozenset({"message-file-missing"})),
    Flaw(
        DirectoryAndStoreApart,
        "default",
        frozenset(
            {"acknowledged-account-lost", "account-without-mailbox", "deleted-account-present"}
        ),
        mix={"deliver": 0.3, "provision": 0.6, "deprovision": 0.0},
    ),
    Flaw(RestoreWithoutRemoving, "corrupt-messages", frozenset({"orphan-message-file"})),
    Flaw(
        RestoreOnCorruptedTree,
        "corrupt-messages",
        frozenset({"message-digest-mismatch", "message-size-mismatch"}),
    ),
    Flaw(CopiesCorruptFile, "lose-mbox-store", frozenset({"message-digest-mismatch"})),
    Flaw(PartialMsgfiles, "lose-mbox-store", frozenset({"message-file-missing"})),
    Flaw(OlderBackupRestored, "default", _LOST),
    Flaw(
        RestoreOntoRunning,
        "corrupt-messages",
        frozenset({"served-state-differs", "damaged-by-restart"}),
    ),
    Flaw(
        ForgetsUidvalidity, "default", frozenset({"uidnext-rewound", "uid-reused", "uidl-reused"})
    ),
    Flaw(LosesFlags, "default", frozenset({"acknowledged-flags-lost"})),
    Flaw(ReinjectsSpool, "spooled-at-backup", frozenset({"redelivered-after-restore"})),
)
"""Not in the catalogue: restoring `__db.*` region files and skipping recovery after a
restore. Every server here opens its environments with DB_RECOVER, which recreates the regions
and runs recovery, so neither mistake can change the outcome of a drill (the correct procedures
leave the region files out all the same)."""


def flaw(name: str) -> Flaw:
    for f in FLAWS:
        if f.name == name or f.name == f"flaw:{name}":
            return f
    raise KeyError(name)
