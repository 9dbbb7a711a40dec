"""config.db parses; every MTA queue file is whole; no interrupted spool writes linger."""

from __future__ import annotations

from collections.abc import Iterator

from harness.checker.context import CheckContext
from harness.checker.findings import (
    ConfigMissing,
    ConfigSyntax,
    Finding,
    SpoolFileDamaged,
    SpoolFileIgnored,
    StaleTempFile,
)
from harness.errors import ConfigSyntaxError
from harness.store import config as configdb
from harness.store.spool import MAGIC, Spool, SpoolDamage, read


def check_config(ctx: CheckContext) -> Iterator[Finding]:
    path = ctx.layout.config
    if not path.is_file():
        yield ConfigMissing("config/config.db", "the configuration database is gone")
        return
    try:
        configdb.ConfigDB.parse(
            path.read_text(encoding="utf-8", errors="surrogateescape"), path="config/config.db"
        )
    except ConfigSyntaxError as exc:
        yield ConfigSyntax(f"config/config.db:{exc.line}", exc.reason)


def check_spool(ctx: CheckContext) -> Iterator[Finding]:
    spool = Spool(ctx.layout.spool)
    for path in spool.paths():
        ctx.stats["spool_files"] += 1
        try:
            read(path)
        except SpoolDamage as exc:
            yield SpoolFileDamaged(path.relative_to(ctx.layout.root).as_posix(), str(exc))
    for path in spool.leftovers():
        yield StaleTempFile(
            path.relative_to(ctx.layout.root).as_posix(),
            "temporary queue file of an interrupted SMTP transaction",
        )
    yield from _ignored(ctx, spool)


def _ignored(ctx: CheckContext, spool: Spool) -> Iterator[Finding]:
    """Queued messages the MTA never scans: not `<id>.q` at the top, not a temporary file."""
    if not spool.root.is_dir():
        return
    scanned = set(spool.paths())
    for path in sorted(spool.root.rglob("*")):
        if path in scanned or not path.is_file() or path.is_symlink() or spool.tmp in path.parents:
            continue
        try:
            with path.open("rb") as handle:
                queued = handle.read(len(MAGIC)) == MAGIC
        except OSError:
            queued = False
        if queued:
            rel = path.relative_to(ctx.layout.root).as_posix()
            yield SpoolFileIgnored(rel, "a queued message the MTA never delivers: it reads *.q")
