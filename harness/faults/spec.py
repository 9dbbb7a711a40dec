"""A scenario's `[disaster]` table: which disaster strikes, where and when.

Field metadata drives the scenario validation (`harness.scenarios.fields`): `minimum` for
numbers, `choices` for strings, `items` for the choices of a list's elements. The kind's
choices are the registry's names (`harness.faults.kinds.KINDS`), checked by the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.topology import PROGRAMS


@dataclass(frozen=True, slots=True)
class Disaster:
    kind: str = "lose-tree"
    """A name from the registry of disaster kinds (`harness.faults.kinds.KINDS`)."""
    servers: tuple[str, ...] = field(default=(), metadata={"items": PROGRAMS})
    """The servers a server crash kills, or the one a hang freezes."""
    path: str = ""
    """lose-store: the chapter 13.4 path lost; scramble-page: the database file;
    overwrite-config-key: the key."""
    count: int = field(default=1, metadata={"minimum": 1, "maximum": 1_000_000})
    """How many message files (corrupt-messages) or msgfiles directories (remove-msgfiles)."""
    during_backup: bool = False
    """Strike while the backup runs (crashes only)."""
    delay: float = field(default=0.2, metadata={"minimum": 0, "maximum": 86_400})
    """During a backup: seconds after the backup started."""
