"""Data corruption: silent damage to message files, a database page, config.db."""

from __future__ import annotations

import os
import random

from harness.errors import FiredrillError
from harness.faults.capabilities import killable
from harness.faults.record import Damaged, FaultContext, Strike
from harness.faults.spec import Disaster
from harness.layout import Layout
from harness.sandbox import require_sandbox
from harness.store.msgfiles import MessageFiles, is_temporary


def _message_files(layout: Layout, rng: random.Random, count: int) -> list[tuple[str, int]]:
    files = [
        p
        for p in MessageFiles(layout.msgfiles).walk()
        if not is_temporary(p) and p.stat().st_size > 64
    ]
    if not files:
        raise FiredrillError("no message file to corrupt")
    return [
        (p.relative_to(layout.root).as_posix(), p.stat().st_size)
        for p in rng.sample(files, min(count, len(files)))
    ]


def corrupt_messages(ctx: FaultContext, spec: Disaster) -> Strike:
    damaged = []
    for n, (relative, size) in enumerate(_message_files(ctx.layout, ctx.rng, spec.count)):
        path = ctx.layout.root / relative
        if n % 2 == 0:
            with path.open("r+b") as handle:
                offset = ctx.rng.randrange(size)
                handle.seek(offset)
                byte = handle.read(1)
                handle.seek(offset)
                handle.write(bytes([byte[0] ^ (1 << ctx.rng.randrange(8))]))
            how = f"bit flipped at byte {offset}"
        else:
            os.truncate(path, size // 2)
            how = f"truncated from {size} to {size // 2} bytes"
        damaged.append(Damaged("message", path.name, how))
    return f"{len(damaged)} message file(s) silently corrupted", damaged


def scramble_page(ctx: FaultContext, spec: Disaster) -> Strike:
    relative = spec.path or "db/mbox/rows.db"
    killable(ctx.backend, spec.kind).kill(
        ["mss"] if "/mbox/" in relative or "/msgid/" in relative else ["dirserv"]
    )
    require_sandbox(ctx.layout.root)
    path = (ctx.layout.root / relative).resolve()
    if ctx.layout.root.resolve() not in path.parents:  # validated already: never outside
        raise FiredrillError(f"refusing to scramble {relative}: outside {ctx.layout.root}")
    pages = path.stat().st_size // 4096
    if pages < 2:
        raise FiredrillError(f"{relative} has no page to scramble")
    page = ctx.rng.randrange(1, pages)
    with path.open("r+b") as handle:
        handle.seek(page * 4096 + 64)
        handle.write(ctx.rng.randbytes(512))
    return f"page {page} of {relative} scrambled (its server crashed on it)", [
        Damaged("path", relative, f"page {page}")
    ]


def damage_config(ctx: FaultContext, spec: Disaster) -> Strike:
    require_sandbox(ctx.layout.root)
    path = ctx.layout.config
    text = path.read_text()
    lines = text.split("\n")
    at = ctx.rng.randrange(len(lines))
    lines.insert(at, "/*/mss/checkpointSeconds [30")
    path.write_text("\n".join(lines)[: -ctx.rng.randrange(5, 40)])
    return f"config.db damaged at line {at + 1} and truncated", [
        Damaged("config-file", "config/config.db")
    ]
