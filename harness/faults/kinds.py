"""The one registry of disaster kinds: each kind's category, the recovery chapter 13 prescribes
for it, the backend capabilities it needs, how it strikes, the scenario rules it adds, and how
a drill tells that what it destroyed came back.

Adding a kind is one `DisasterKind` entry here (plus its tests); the scenario validation, the
capability check before a drill, the report's schema enum (checked by a test) and the drill's
"destroyed data came back" check all read this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from harness.environments.backend import DiskLosable, Killable, MissingCapability, Pausable
from harness.errors import FiredrillError
from harness.faults import corruption, crash, hardware, operator
from harness.faults.came_back import (
    Check,
    account_back,
    config_file_back,
    config_key_back,
    mailbox_back,
    message_back,
    path_back,
)
from harness.faults.record import FaultContext, FaultRecord, Strike
from harness.faults.spec import Disaster
from harness.history import Stamp
from harness.layout import BACKUP_PATHS
from harness.sandbox import require_sandbox
from harness.store.bdb import DATABASES
from harness.store.config import ConfigKey

Category = Literal["crash", "hardware failure", "data corruption", "operator error"]
CATEGORIES: tuple[Category, ...] = (
    "crash",
    "hardware failure",
    "data corruption",
    "operator error",
)
Recovery = Literal["restart", "restore"]

Inflict = Callable[[FaultContext, Disaster], Strike]
Rule = Callable[[Disaster], tuple[str, str] | None]
"""A scenario rule of one kind: None, or (the field at fault, why) for InvalidScenario."""


def _no_rule(spec: Disaster) -> tuple[str, str] | None:
    return None


@dataclass(frozen=True, slots=True)
class DisasterKind:
    """One kind of disaster.

    `recovery`: what chapter 13 prescribes, a restart through the `log.NNNNNNNNNN` files (13.5)
    or a restore from the backup (13.4.2). `needs`: the optional backend capabilities it (and
    its recovery) needs. `came_back`: the check of what it destroys, None when it destroys
    nothing (crashes). `uses`: the disaster fields it reads. `during_backup`: it may strike
    while the backup runs; `takes_the_machine`: whatever runs on the machine then (a backup)
    goes down with it.
    """

    name: str
    category: Category
    recovery: Recovery
    inflict: Inflict
    needs: tuple[type, ...] = ()
    validate: Rule = _no_rule
    came_back: Check | None = None
    during_backup: bool = False
    takes_the_machine: bool = False
    uses: tuple[str, ...] = ()
    """The `[disaster]` fields beyond kind, during_backup and delay that this kind reads (a
    scenario file setting another one is refused: it would be ignored)."""


def _needs_servers(spec: Disaster) -> tuple[str, str] | None:
    return None if spec.servers else ("disaster.servers", "server-crash needs the servers to kill")


def _one_server(spec: Disaster) -> tuple[str, str] | None:
    if len(spec.servers) == 1:
        return None
    return ("disaster.servers", "hang needs the one server to freeze")


def _backup_path(spec: Disaster) -> tuple[str, str] | None:
    if spec.path in BACKUP_PATHS:
        return None
    return ("disaster.path", f"lose-store needs one of {', '.join(BACKUP_PATHS)}")


DATABASE_FILES = tuple(f"db/{env}/{name}" for env, names in DATABASES.items() for name in names)
"""The Berkeley DB files a scramble-page disaster may damage (inside the installation)."""


def _database_file(spec: Disaster) -> tuple[str, str] | None:
    if not spec.path or spec.path in DATABASE_FILES:
        return None
    return ("disaster.path", f"scramble-page needs one of {', '.join(DATABASE_FILES)}")


def _config_key(spec: Disaster) -> tuple[str, str] | None:
    if not spec.path:
        return None
    try:
        ConfigKey.parse(spec.path)
    except FiredrillError as exc:
        return ("disaster.path", f"overwrite-config-key needs a config.db key: {exc}")
    return None


_KINDS = (
    DisasterKind(
        "server-crash",
        "crash",
        "restart",
        crash.crash,
        needs=(Killable,),
        validate=_needs_servers,
        during_backup=True,
        uses=("servers",),
    ),
    DisasterKind(
        "machine-crash",
        "crash",
        "restart",
        crash.crash,
        needs=(Killable,),
        during_backup=True,
        takes_the_machine=True,
    ),
    DisasterKind(
        "hang",
        "crash",
        "restart",
        crash.hang,
        needs=(Pausable, Killable),
        validate=_one_server,
        uses=("servers",),
    ),
    DisasterKind(
        "lose-store",
        "hardware failure",
        "restore",
        hardware.lose_store,
        needs=(Killable,),
        validate=_backup_path,
        came_back=path_back,
        uses=("path",),
    ),
    DisasterKind(
        "lose-tree",
        "hardware failure",
        "restore",
        hardware.lose_tree,
        needs=(DiskLosable,),
        came_back=path_back,
    ),
    DisasterKind(
        "corrupt-messages",
        "data corruption",
        "restore",
        corruption.corrupt_messages,
        came_back=message_back,
        uses=("count",),
    ),
    DisasterKind(
        "scramble-page",
        "data corruption",
        "restore",
        corruption.scramble_page,
        needs=(Killable,),
        validate=_database_file,
        came_back=path_back,
        uses=("path",),
    ),
    DisasterKind(
        "damage-config",
        "data corruption",
        "restore",
        corruption.damage_config,
        came_back=config_file_back,
    ),
    DisasterKind(
        "delete-account",
        "operator error",
        "restore",
        operator.delete_account,
        came_back=account_back,
    ),
    DisasterKind(
        "empty-mailbox",
        "operator error",
        "restore",
        operator.empty_mailbox,
        came_back=mailbox_back,
    ),
    DisasterKind(
        "overwrite-config-key",
        "operator error",
        "restore",
        operator.overwrite_config_key,
        validate=_config_key,
        came_back=config_key_back,
        uses=("path",),
    ),
    DisasterKind(
        "remove-msgfiles",
        "operator error",
        "restore",
        operator.remove_msgfiles,
        came_back=message_back,
        uses=("count",),
    ),
)
KINDS: dict[str, DisasterKind] = {k.name: k for k in _KINDS}
"""Every disaster kind by name, in the order the catalogue presents them."""


def kind(name: str) -> DisasterKind:
    """The kind called `name` (KeyError for an unknown one: scenarios are validated first)."""
    return KINDS[name]


def require(name: str, backend: type, backend_name: str) -> None:
    """Refuse, before anything starts, a disaster the backend class cannot inflict
    (MissingCapability)."""
    for capability in KINDS[name].needs:
        if not issubclass(backend, capability):
            raise MissingCapability(backend_name, capability, f"the {name} disaster")


def inflict(ctx: FaultContext, spec: Disaster) -> FaultRecord:
    """Strike, and record the fault (with what it destroyed) in the history."""
    require_sandbox(ctx.layout.root)
    began = Stamp.now()
    detail, damaged = KINDS[spec.kind].inflict(ctx, spec)
    struck = ctx.history.event(
        "fault",
        spec.kind,
        detail=detail,
        began=began.wall,
        damaged=[[d.kind, d.id, d.before] for d in damaged],
    )
    return FaultRecord(spec.kind, began, struck, detail, tuple(damaged))
