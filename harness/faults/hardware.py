"""Hardware failures: the disk holding one store, or the whole tree, is gone."""

from __future__ import annotations

from harness.faults.capabilities import disk_losable, killable
from harness.faults.record import Damaged, FaultContext, Strike
from harness.faults.spec import Disaster
from harness.procedures.copying import remove_path


def lose_store(ctx: FaultContext, spec: Disaster) -> Strike:
    killable(ctx.backend, spec.kind).kill()
    remove_path(ctx.layout, spec.path)
    return f"the disk holding {spec.path} failed: servers down, {spec.path} gone", [
        Damaged("path", spec.path)
    ]


def lose_tree(ctx: FaultContext, spec: Disaster) -> Strike:
    disk_losable(ctx.backend, spec.kind).lose_disk()
    return "the whole $INTERMAIL tree is gone (servers down)", [Damaged("path", ".")]
