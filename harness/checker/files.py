"""config.db parses; every MTA queue file is whole; no interrupted spool writes linger."""

from __future__ import annotations

from collections.abc import Iterator

from harness.checker.context import CheckContext
from harness.checker.findings import (
    ConfigMissing,
    ConfigSyntax,
    Finding,
    SpoolFileDamaged,
    StaleTempFile,
)
from harness.errors import ConfigSyntaxError
from harness.store import config as configdb
from harness.store.spool import Spool, SpoolDamage, read


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
