"""Disasters: crash, hardware failure, data corruption, operator error — inflicted on a running
installation, each recorded in the history with the ids of what it destroyed.

They act only inside the sandbox and only on servers the backend started. Which recovery each
one calls for (restart through the logs, or restore) is in `scenario.DISASTERS`; which optional
backend capability each one needs is in `NEEDS`, checked before a drill starts (`require`) and
again, with `isinstance`, when the fault strikes.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.accounts import lab_accounts
from harness.drill.backend import Backend, DiskLosable, Killable, MissingCapability, Pausable
from harness.drill.procedures import remove_path
from harness.drill.scenario import Disaster
from harness.errors import FiredrillError
from harness.history import HistoryWriter, Stamp
from harness.layout import Layout
from harness.sandbox import require_sandbox
from harness.servers.wire import SyncWireClient
from harness.store.config import ConfigKey, load
from harness.store.msgfiles import MessageFiles, is_temporary
from harness.topology import endpoint


@dataclass(frozen=True, slots=True)
class Damaged:
    """One thing a disaster destroyed: what kind of object, its id, and its state before."""

    kind: str
    id: str
    before: str = ""


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """A disaster: `at` when it began to strike, `struck` when the damage was complete (a lost
    tree takes a while to delete; the real disk is gone at once). Recovery time runs from
    `struck`, the recovery point is taken at `at`."""

    kind: str
    at: Stamp
    struck: Stamp
    detail: str
    damaged: tuple[Damaged, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "at": self.at.wall,
            "struck": self.struck.wall,
            "inflict_seconds": round(self.struck.mono - self.at.mono, 3),
            "detail": self.detail,
            "damaged": [{"kind": d.kind, "id": d.id, "before": d.before} for d in self.damaged],
        }


@dataclass
class FaultContext:
    layout: Layout
    backend: Backend
    history: HistoryWriter
    rng: random.Random


NEEDS: dict[str, tuple[type, ...]] = {
    "server-crash": (Killable,),
    "machine-crash": (Killable,),
    "lose-store": (Killable,),
    "lose-tree": (DiskLosable,),
    "scramble-page": (Killable,),
    "hang": (Pausable, Killable),  # the restart kills what hangs
}
"""The optional backend capabilities each disaster (and its recovery) needs; others need none."""


def require(kind: str, backend: type, name: str) -> None:
    """Refuse, before anything starts, a disaster the backend class cannot inflict."""
    for capability in NEEDS.get(kind, ()):
        if not issubclass(backend, capability):
            raise MissingCapability(name, capability, f"the {kind} disaster")


def _killable(backend: Backend, kind: str) -> Killable:
    if not isinstance(backend, Killable):
        raise MissingCapability(backend.name, Killable, f"the {kind} disaster")
    return backend


def _pausable(backend: Backend, kind: str) -> Pausable:
    if not isinstance(backend, Pausable):
        raise MissingCapability(backend.name, Pausable, f"the {kind} disaster")
    return backend


def _disk_losable(backend: Backend, kind: str) -> DiskLosable:
    if not isinstance(backend, DiskLosable):
        raise MissingCapability(backend.name, DiskLosable, f"the {kind} disaster")
    return backend


def _wire(layout: Layout, program: str) -> SyncWireClient:
    where = endpoint(load(layout.config), program)
    return SyncWireClient(where.address, where.port)


def _crash(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    servers = list(spec.servers) if spec.kind == "server-crash" else []
    killed = _killable(ctx.backend, spec.kind).kill(servers)
    return f"SIGKILL to {', '.join(killed) or 'nothing (no server was running)'}", []


def _hang(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    frozen = _pausable(ctx.backend, spec.kind).pause(spec.servers)
    if not frozen:
        raise FiredrillError(f"nothing to hang: {', '.join(spec.servers)} not running")
    return f"{', '.join(frozen)} hung (frozen: connections accepted, nothing answered)", []


def _lose_store(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    _killable(ctx.backend, spec.kind).kill()
    remove_path(ctx.layout, spec.path)
    return f"the disk holding {spec.path} failed: servers down, {spec.path} gone", [
        Damaged("path", spec.path)
    ]


def _lose_tree(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    _disk_losable(ctx.backend, spec.kind).lose_disk()
    return "the whole $INTERMAIL tree is gone (servers down)", [Damaged("path", ".")]


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


def _corrupt_messages(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
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


def _scramble_page(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    relative = spec.path or "db/mbox/rows.db"
    _killable(ctx.backend, spec.kind).kill(
        ["mss"] if "/mbox/" in relative or "/msgid/" in relative else ["dirserv"]
    )
    require_sandbox(ctx.layout.root)
    path = ctx.layout.root / relative
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


def _damage_config(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
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


def _victim(ctx: FaultContext) -> tuple[str, str, str]:
    accounts = [a for a in lab_accounts(ctx.layout.root) if a.status == "active"]
    population = [a for a in accounts if not a.address.startswith("wl")] or accounts
    chosen = ctx.rng.choice(population)
    return chosen.entry_id, chosen.address, chosen.mailboxid


def _delete_account(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    entry_id, address, mailbox = _victim(ctx)
    rows = _wire(ctx.layout, "mss").call("rows", mailbox=mailbox).result
    _wire(ctx.layout, "dirserv").call("delete", address=address)
    return f"an operator deleted account {address} ({len(rows)} messages)", [
        Damaged("account", entry_id, address),
        Damaged("mailbox", mailbox, str(len(rows))),
    ]


def _empty_mailbox(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    _, address, mailbox = _victim(ctx)
    mss = _wire(ctx.layout, "mss")
    rows = mss.call("rows", mailbox=mailbox, folder="INBOX").result
    for row in rows:
        mss.call(
            "set_flags",
            mailbox=mailbox,
            folder="INBOX",
            uid=row["uid"],
            flags="".join(sorted(set(row["flags"]) | {"D"})),
        )
    mss.call("expunge", mailbox=mailbox, folder="INBOX", uids=[r["uid"] for r in rows])
    return f"an operator emptied the INBOX of {address} ({len(rows)} messages)", [
        Damaged("mailbox", mailbox, str(len(rows)))
    ]


def _overwrite_config_key(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    key = spec.path or "/*/mss/checkpointSeconds"
    ConfigKey.parse(key)
    reply = _wire(ctx.layout, "confserv").call("set", key=key, value="99999")
    old = reply.result.get("old") or ""
    return f"an operator overwrote {key} ([{old}] -> [99999])", [Damaged("config", key, old)]


def _remove_msgfiles(ctx: FaultContext, spec: Disaster) -> tuple[str, list[Damaged]]:
    top = sorted(p.name for p in ctx.layout.msgfiles.iterdir() if p.is_dir())
    if not top:
        raise FiredrillError("msgfiles/ is empty")
    chosen = ctx.rng.sample(top, min(spec.count, len(top)))
    damaged = []
    for name in chosen:
        for path in MessageFiles(ctx.layout.msgfiles / name).walk():
            if not is_temporary(path):
                damaged.append(Damaged("message", path.name))
        remove_path(ctx.layout, f"msgfiles/{name}")
    return (
        f"an operator ran rm -rf on msgfiles/{{{','.join(chosen)}}} ({len(damaged)} message files)",
        damaged,
    )


INFLICT: dict[str, Callable[[FaultContext, Disaster], tuple[str, list[Damaged]]]] = {
    "server-crash": _crash,
    "machine-crash": _crash,
    "hang": _hang,
    "lose-store": _lose_store,
    "lose-tree": _lose_tree,
    "corrupt-messages": _corrupt_messages,
    "scramble-page": _scramble_page,
    "damage-config": _damage_config,
    "delete-account": _delete_account,
    "empty-mailbox": _empty_mailbox,
    "overwrite-config-key": _overwrite_config_key,
    "remove-msgfiles": _remove_msgfiles,
}


def crashes_the_machine(spec: Disaster) -> bool:
    """Does this disaster take down everything running on the machine (a backup too)?"""
    return spec.kind == "machine-crash"


def inflict(ctx: FaultContext, spec: Disaster) -> FaultRecord:
    """Strike, and record the fault (with what it destroyed) in the history."""
    require_sandbox(ctx.layout.root)
    at = Stamp.now()
    detail, damaged = INFLICT[spec.kind](ctx, spec)
    struck = ctx.history.event(
        "fault",
        spec.kind,
        detail=detail,
        began=at.wall,
        damaged=[[d.kind, d.id, d.before] for d in damaged],
    )
    return FaultRecord(spec.kind, at, struck, detail, tuple(damaged))
