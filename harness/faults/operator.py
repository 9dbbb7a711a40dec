"""Operator error: what a person at the console destroys over the servers' own interfaces."""

from __future__ import annotations

from harness.accounts import lab_accounts
from harness.errors import FiredrillError
from harness.faults.record import Damaged, FaultContext, Strike
from harness.faults.spec import Disaster
from harness.layout import Layout
from harness.procedures.copying import remove_path
from harness.servers.wire import SyncWireClient, WireError
from harness.store.config import ConfigKey, load
from harness.store.msgfiles import MessageFiles, is_temporary
from harness.topology import endpoint


def _wire(layout: Layout, program: str) -> SyncWireClient:
    where = endpoint(load(layout.config), program)
    return SyncWireClient(where.address, where.port)


def _victim(ctx: FaultContext) -> tuple[str, str, str]:
    accounts = [a for a in lab_accounts(ctx.layout.root) if a.status == "active"]
    population = [a for a in accounts if not a.address.startswith("wl")] or accounts
    chosen = ctx.rng.choice(population)
    return chosen.entry_id, chosen.address, chosen.mailboxid


def delete_account(ctx: FaultContext, spec: Disaster) -> Strike:
    entry_id, address, mailbox = _victim(ctx)
    rows = _wire(ctx.layout, "mss").call("rows", mailbox=mailbox).result
    _wire(ctx.layout, "dirserv").call("delete", address=address)
    return f"an operator deleted account {address} ({len(rows)} messages)", [
        Damaged("account", entry_id, address),
        Damaged("mailbox", mailbox, str(len(rows))),
    ]


def empty_mailbox(ctx: FaultContext, spec: Disaster) -> Strike:
    _, address, mailbox = _victim(ctx)
    mss = _wire(ctx.layout, "mss")
    rows = mss.call("rows", mailbox=mailbox, folder="INBOX").result
    marked = []
    for row in rows:
        try:
            mss.call(
                "set_flags",
                mailbox=mailbox,
                folder="INBOX",
                uid=row["uid"],
                flags="".join(sorted(set(row["flags"]) | {"D"})),
            )
        except WireError as exc:
            if exc.code != "notfound":
                raise
            continue  # a client expunged it meanwhile (traffic runs on): gone already
        marked.append(row["uid"])
    mss.call("expunge", mailbox=mailbox, folder="INBOX", uids=marked)
    return f"an operator emptied the INBOX of {address} ({len(rows)} messages)", [
        Damaged("mailbox", mailbox, str(len(rows)))
    ]


def overwrite_config_key(ctx: FaultContext, spec: Disaster) -> Strike:
    key = spec.path or "/*/mss/checkpointSeconds"
    ConfigKey.parse(key)
    reply = _wire(ctx.layout, "confserv").call("set", key=key, value="99999")
    old = reply.result.get("old") or ""
    return f"an operator overwrote {key} ([{old}] -> [99999])", [Damaged("config", key, old)]


def remove_msgfiles(ctx: FaultContext, spec: Disaster) -> Strike:
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
