"""Scenarios: one TOML file each, validated completely before anything starts.

    name = "hardware-loss"            # defaults to the file name
    description = "..."
    recovery = "auto" | "restart" | "restore"   (auto: what the disaster kind prescribes)
    [population]  tier = "XS", seed = 1
    [traffic]     rate = 20, clients = 4, before_backup = 3, after_backup = 3, [traffic.mix]
    [backup]      procedure = "chapter13" | "image" | "custom", backup_cmd, restore_cmd, timeout,
                  mss_down = false   (stop the MSS first so mail waits in the spool)
    [disaster]    kind = ..., servers = [...], path = "...", count = 1, during_backup = false,
                  delay = 0.2   (only with during_backup: seconds into the backup)
    [expect]      loss = "none" (restart) | "after-backup" (restore), rto_target,
                  rpo_target_seconds, rpo_target_messages (targets > 0), fail_on_targets = false

Each table is a dataclass here; its fields (names, types, defaults and metadata) drive the
validation (`harness.scenarios.fields`). Errors name the file, the field path and, for syntax
errors, the line (InvalidScenario). The disaster kinds are the registry's
(`harness.faults.kinds`), with their own rules.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InvalidScenario
from harness.faults.kinds import KINDS, Category, DisasterKind, Recovery
from harness.faults.spec import Disaster
from harness.procedures import BUILT_IN
from harness.scenarios.fields import Check, read_toml

TIERS = ("XS", "S", "M", "L")
DAY = 86_400
"""The longest wait a scenario may set, in seconds."""
OPERATIONS = ("deliver", "read", "flag", "delete", "provision", "deprovision", "config")


@dataclass(frozen=True, slots=True)
class Population:
    tier: str = field(default="XS", metadata={"choices": TIERS, "upper": True})
    seed: int = field(default=1, metadata={"minimum": 0})


@dataclass(frozen=True, slots=True)
class Traffic:
    rate: float = field(default=20.0, metadata={"minimum": 0.1, "maximum": 10_000})
    """Client operations a second, over all clients."""
    clients: int = field(default=4, metadata={"minimum": 1, "maximum": 256})
    """Client threads (each one connection at a time)."""
    before_backup: float = field(default=3.0, metadata={"minimum": 0, "maximum": DAY})
    """Seconds of traffic before the backup starts."""
    after_backup: float = field(default=3.0, metadata={"minimum": 0, "maximum": DAY})
    """Seconds of traffic between the backup's end and the disaster."""
    mix: tuple[tuple[str, float], ...] = field(default=(), metadata={"weights": OPERATIONS})
    """(operation, weight) pairs; empty for the workload's default mix."""


@dataclass(frozen=True, slots=True)
class Backup:
    procedure: str = field(default="chapter13", metadata={"choices": BUILT_IN})
    backup_cmd: str = ""
    restore_cmd: str = ""
    timeout: float = field(default=300.0, metadata={"minimum": 1, "maximum": DAY})
    """Seconds a backup or restore may take."""
    mss_down: bool = False


@dataclass(frozen=True, slots=True)
class Expect:
    loss: str = field(default="after-backup", metadata={"choices": ("none", "after-backup")})
    rto_target: float | None = field(default=None, metadata={"positive": True})
    """Seconds from the disaster (damage complete) to clients served again."""
    rpo_target_seconds: float | None = field(default=None, metadata={"positive": True})
    """Seconds of acknowledged work a restore may lose (disaster - consistency point)."""
    rpo_target_messages: int | None = field(default=None, metadata={"positive": True})
    """Acknowledged messages a restore may lose."""
    fail_on_targets: bool = False
    """A missed (or unmeasured) target fails the drill; otherwise it is reported only."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str = ""
    path: str = ""
    population: Population = field(default_factory=Population)
    traffic: Traffic = field(default_factory=Traffic)
    backup: Backup = field(default_factory=Backup)
    disaster: Disaster = field(default_factory=Disaster)
    recovery: str = "auto"
    expect: Expect = field(default_factory=Expect)

    @property
    def kind(self) -> DisasterKind:
        return KINDS[self.disaster.kind]

    @property
    def category(self) -> Category:
        return self.kind.category

    @property
    def recovery_action(self) -> Recovery:
        """What recovers this drill: a restart through the logs or a restore."""
        if self.recovery == "auto":
            return self.kind.recovery
        return "restart" if self.recovery == "restart" else "restore"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values: every field (lists for tuples) and the derived recovery action
        and category."""
        data = dataclasses.asdict(self)
        data["traffic"]["mix"] = [list(pair) for pair in self.traffic.mix]
        data["disaster"]["servers"] = list(self.disaster.servers)
        data["recovery_action"] = self.recovery_action
        data["category"] = self.category
        return data

    @classmethod
    def from_json(cls, data: Any) -> Scenario:
        """The scenario of a saved record, validated again (InvalidScenario, for a value of
        the wrong type too)."""
        if not isinstance(data, Mapping):
            raise InvalidScenario(
                "report", "scenario", f"must be a table, not {type(data).__name__}"
            )
        name = str(data.get("name") or "drill")
        c = Check(f"report {name}")
        tables = {k: dict(c.table(data[k], k)) for k in _SECTIONS if k in data}
        tables["traffic"] = tables.get("traffic", {})
        try:
            tables["traffic"]["mix"] = dict(
                c.typed(tables["traffic"].get("mix") or [], "traffic.mix", list)
            )
        except (TypeError, ValueError):
            raise c.fail("traffic.mix", "must be a list of [kind, weight] pairs") from None
        tables["expect"] = {k: v for k, v in tables.get("expect", {}).items() if v is not None}
        raw = {"name": name, "description": data.get("description", ""), **tables}
        raw["recovery"] = data.get("recovery", "auto")
        scenario = parse_scenario(raw, path=f"report {name}", default_name=name)
        return dataclasses.replace(scenario, path=str(data.get("path", "")))


_SECTIONS: dict[str, type[Any]] = {
    "population": Population,
    "traffic": Traffic,
    "backup": Backup,
    "disaster": Disaster,
    "expect": Expect,
}


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file completely (InvalidScenario on any problem)."""
    data = read_toml(path)
    scenario = parse_scenario(data, path=str(path), default_name=path.stem)
    _set_in_vain(Check(str(path)), data, scenario)
    require_runnable(scenario)
    return scenario


def parse_scenario(data: Mapping[str, Any], *, path: str, default_name: str) -> Scenario:
    """A Scenario from a parsed TOML document (InvalidScenario naming `path`)."""
    c = Check(path)
    c.keys(data, "", {"name", "description", "recovery", *_SECTIONS})
    name = c.typed(data.get("name", default_name), "name", str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        taken = "" if "name" in data else " (taken from the file name: set name = ...)"
        raise c.fail("name", f"{name!r}: use lower-case letters, digits, '.', '_' and '-'{taken}")
    sections = {key: c.section(cls, data.get(key, {}), key) for key, cls in _SECTIONS.items()}
    c.choice(sections["disaster"].kind, "disaster.kind", list(KINDS))
    scenario = Scenario(
        name,
        description=c.typed(data.get("description", ""), "description", str),
        path=path,
        recovery=c.choice(data.get("recovery", "auto"), "recovery", ("auto", "restart", "restore")),
        **sections,
    )
    coherent(c, scenario)
    return scenario


def coherent(c: Check, s: Scenario) -> None:
    """Cross-field rules: what cannot happen together (and the disaster kind's own rules)."""
    b, dis, kind = s.backup, s.disaster, s.kind
    if b.procedure == "custom" and not (b.backup_cmd and b.restore_cmd):
        raise c.fail(
            "backup",
            "procedure 'custom' needs backup_cmd and restore_cmd (or --backup-cmd/--restore-cmd)",
        )
    if b.procedure != "custom" and (b.backup_cmd or b.restore_cmd):
        raise c.fail(
            "backup.backup_cmd", f"only procedure 'custom' runs commands, not {b.procedure!r}"
        )
    if dis.during_backup and not kind.during_backup:
        raise c.fail("disaster.during_backup", "only crashes can strike during the backup")
    if dis.during_backup and s.recovery_action == "restore":
        raise c.fail("recovery", "a crash during the backup leaves no backup to restore from")
    if dis.during_backup and dis.delay >= b.timeout:
        raise c.fail("disaster.delay", f"strikes after the backup timeout ({b.timeout:g}s)")
    broken = kind.validate(dis)
    if broken is not None:
        raise c.fail(*broken)
    if s.recovery_action == "restart" and kind.category == "hardware failure":
        raise c.fail(
            "recovery",
            f"a restart cannot recover from {dis.kind}: the data is gone, restore it "
            "(recovery = 'restore' or 'auto')",
        )
    if s.recovery_action == "restore" and s.expect.loss == "none":
        raise c.fail(
            "expect.loss",
            "a restore loses what was acknowledged after the backup's consistency point "
            "(traffic runs on through the backup itself): use loss = 'after-backup'",
        )
    if s.expect.loss == "after-backup" and s.recovery_action == "restart":
        raise c.fail(
            "expect.loss",
            "recovery through the logs (restart) must lose nothing: use loss = 'none'",
        )


def require_runnable(scenario: Scenario) -> None:
    """Refuse (InvalidScenario naming the field) a custom procedure whose commands cannot run
    here: checked before a drill starts, not when a report's record is read (its commands
    may be long gone, and the report is still worth reading)."""
    b = scenario.backup
    if b.procedure != "custom":
        return
    c = Check(scenario.path or scenario.name)
    for where, command in (("backup_cmd", b.backup_cmd), ("restore_cmd", b.restore_cmd)):
        runnable = _runnable(command)
        if runnable:
            raise c.fail(f"backup.{where}", runnable)


def _runnable(command: str) -> str:
    """Why `command` cannot run (it does not parse, is empty, or its program is not an
    executable file or on PATH); "" when it can."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return f"cannot be parsed: {exc}"
    if not argv:
        return "is empty"
    if shutil.which(argv[0]) is None:
        return f"cannot run {argv[0]!r}: no such executable (relative to where firedrill runs)"
    return ""


def _set_in_vain(c: Check, data: Mapping[str, Any], s: Scenario) -> None:
    """Fields a file sets that its scenario would ignore. Only for a file as written: a report
    records every field with its default, and replay parses that record."""
    disaster = data.get("disaster", {})
    for name in ("servers", "path", "count"):
        if name in disaster and name not in s.kind.uses:
            raise c.fail(f"disaster.{name}", f"{s.disaster.kind} does not use it: remove it")
    if "delay" in disaster and not s.disaster.during_backup:
        raise c.fail(
            "disaster.delay",
            "only applies with disaster.during_backup = true (seconds into the backup): "
            "set during_backup or remove delay",
        )


def absolute_commands(scenario: Scenario) -> Scenario:
    """The scenario with its custom commands' programs made absolute when they are relative
    paths (`./backup.sh`, `scripts/restore.sh`): relative to where firedrill was started, so
    the record (and `firedrill replay` from any directory) runs the same programs."""
    b = scenario.backup
    backup_cmd, restore_cmd = _absolute(b.backup_cmd), _absolute(b.restore_cmd)
    if (backup_cmd, restore_cmd) == (b.backup_cmd, b.restore_cmd):
        return scenario
    backup = dataclasses.replace(b, backup_cmd=backup_cmd, restore_cmd=restore_cmd)
    return dataclasses.replace(scenario, backup=backup)


def _absolute(command: str) -> str:
    try:
        argv = shlex.split(command)
    except ValueError:
        return command  # the procedure says it cannot be parsed, when it runs
    if not argv or "/" not in argv[0] or Path(argv[0]).is_absolute():
        return command
    return shlex.join([str(Path(argv[0]).absolute()), *argv[1:]])


def with_custom_commands(scenario: Scenario, backup_cmd: str, restore_cmd: str) -> Scenario:
    """The scenario with its procedure replaced by the operator's commands (--backup-cmd)."""
    backup = dataclasses.replace(
        scenario.backup, procedure="custom", backup_cmd=backup_cmd, restore_cmd=restore_cmd
    )
    changed = dataclasses.replace(scenario, backup=backup)
    coherent(Check(scenario.path or scenario.name), changed)
    require_runnable(changed)
    return changed


__all__ = [
    "Backup",
    "Disaster",
    "Expect",
    "InvalidScenario",
    "Population",
    "Scenario",
    "Traffic",
    "load_scenario",
    "parse_scenario",
    "require_runnable",
    "with_custom_commands",
]
