"""Scenarios: one TOML file each, validated completely before anything starts.

    name = "hardware-loss"            # defaults to the file name
    description = "..."
    [population]  tier = "XS", seed = 1
    [traffic]     rate = 20, clients = 4, before_backup = 3, after_backup = 3
    [backup]      procedure = "chapter13" | "image" | "custom", backup_cmd, restore_cmd, timeout,
                  mss_down = false   (stop the MSS first so mail waits in the spool)
    [disaster]    kind = ..., servers = [...], path = "...", count = 1, during_backup = false,
                  delay = 0.2   (only with during_backup: seconds into the backup)
    recovery = "auto" | "restart" | "restore"   (a top-level key; auto: what the disaster needs)
    [expect]      loss = "none" (restart) | "after-backup" (restore), rto_target,
                  rpo_target_seconds, rpo_target_messages (targets > 0), fail_on_targets = false

Errors name the file, the field path and, for syntax errors, the line (InvalidScenario).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InvalidScenario
from harness.layout import BACKUP_PATHS
from harness.topology import PROGRAMS

DISASTERS: dict[str, str] = {
    "server-crash": "restart",
    "machine-crash": "restart",
    "hang": "restart",
    "lose-store": "restore",
    "lose-tree": "restore",
    "corrupt-messages": "restore",
    "scramble-page": "restore",
    "damage-config": "restore",
    "delete-account": "restore",
    "empty-mailbox": "restore",
    "overwrite-config-key": "restore",
    "remove-msgfiles": "restore",
}
"""Each disaster kind with the recovery chapter 13 prescribes for it."""
CATEGORY = {
    "server-crash": "crash",
    "machine-crash": "crash",
    "hang": "crash",
    "lose-store": "hardware failure",
    "lose-tree": "hardware failure",
    "corrupt-messages": "data corruption",
    "scramble-page": "data corruption",
    "damage-config": "data corruption",
    "delete-account": "operator error",
    "empty-mailbox": "operator error",
    "overwrite-config-key": "operator error",
    "remove-msgfiles": "operator error",
}
PROCEDURES = ("chapter13", "image", "custom")
TIERS = ("XS", "S", "M", "L")


@dataclass(frozen=True, slots=True)
class Population:
    tier: str = "XS"
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Traffic:
    rate: float = 20.0
    clients: int = 4
    before_backup: float = 3.0
    after_backup: float = 3.0
    mix: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Backup:
    procedure: str = "chapter13"
    backup_cmd: str = ""
    restore_cmd: str = ""
    timeout: float = 300.0
    mss_down: bool = False


@dataclass(frozen=True, slots=True)
class Disaster:
    kind: str = "lose-tree"
    servers: tuple[str, ...] = ()
    path: str = ""
    count: int = 1
    during_backup: bool = False
    delay: float = 0.2
    """During a backup: seconds after the backup started."""


@dataclass(frozen=True, slots=True)
class Expect:
    loss: str = "after-backup"
    rto_target: float | None = None
    rpo_target_seconds: float | None = None
    rpo_target_messages: int | None = None
    fail_on_targets: bool = False


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
    def recovery_action(self) -> str:
        return DISASTERS[self.disaster.kind] if self.recovery == "auto" else self.recovery

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["recovery_action"] = self.recovery_action
        data["category"] = CATEGORY[self.disaster.kind]
        return data


# -- validation ------------------------------------------------------------------------------

_SECTIONS: dict[str, type[Any]] = {
    "population": Population,
    "traffic": Traffic,
    "backup": Backup,
    "disaster": Disaster,
    "expect": Expect,
}
_NUMBER = (int, float)


class _Check:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, reason: str) -> InvalidScenario:
        return InvalidScenario(self.path, where, reason)

    def table(self, data: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(where, f"must be a table, not {type(data).__name__}")
        return data

    def keys(self, data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}" if where else unknown[0],
                f"unknown field (allowed: {', '.join(sorted(allowed))})",
            )

    def typed(
        self, value: Any, where: str, kind: type | tuple[type, ...], *, minimum: float | None = None
    ) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(where, f"must be {_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail(where, f"must be {_name(kind)}, not {type(value).__name__} {value!r}")
        if minimum is not None and isinstance(value, int | float) and value < minimum:
            raise self.fail(where, f"must be at least {minimum}, not {value}")
        return value

    def choice(self, value: Any, where: str, choices: tuple[str, ...] | list[str]) -> str:
        self.typed(value, where, str)
        if value not in choices:
            raise self.fail(where, f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value)


def _name(kind: type | tuple[type, ...]) -> str:
    if kind == _NUMBER:
        return "a number"
    names = {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        float: "a number",
        list: "a list",
    }
    return names.get(kind, str(kind)) if isinstance(kind, type) else "a number"


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file completely (InvalidScenario on any problem)."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidScenario(shown, "file", exc.strerror or str(exc)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        where = f"line {match.group(1)}" if match else "syntax"
        raise InvalidScenario(shown, where, f"TOML syntax error: {exc}") from exc
    scenario = parse_scenario(data, path=shown, default_name=path.stem)
    _set_in_vain(_Check(shown), data, scenario)
    return scenario


def parse_scenario(data: Mapping[str, Any], *, path: str, default_name: str) -> Scenario:
    c = _Check(path)
    c.keys(data, "", {"name", "description", "recovery", *_SECTIONS})
    name = c.typed(data.get("name", default_name), "name", str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise c.fail("name", "use lower-case letters, digits, '.', '_' and '-'")
    description = c.typed(data.get("description", ""), "description", str)
    population = _population(c, c.table(data.get("population", {}), "population"))
    traffic = _traffic(c, c.table(data.get("traffic", {}), "traffic"))
    backup = _backup(c, c.table(data.get("backup", {}), "backup"))
    disaster = _disaster(c, c.table(data.get("disaster", {}), "disaster"))
    recovery = c.choice(data.get("recovery", "auto"), "recovery", ("auto", "restart", "restore"))
    expect = _expect(c, c.table(data.get("expect", {}), "expect"))
    scenario = Scenario(
        name, description, path, population, traffic, backup, disaster, recovery, expect
    )
    _coherent(c, scenario)
    return scenario


def _population(c: _Check, d: Mapping[str, Any]) -> Population:
    c.keys(d, "population", {"tier", "seed"})
    return Population(
        tier=c.choice(
            str(d.get("tier", "XS")).upper()
            if isinstance(d.get("tier", "XS"), str)
            else d.get("tier"),
            "population.tier",
            TIERS,
        ),
        seed=c.typed(d.get("seed", 1), "population.seed", int, minimum=0),
    )


def _traffic(c: _Check, d: Mapping[str, Any]) -> Traffic:
    c.keys(d, "traffic", {"rate", "clients", "before_backup", "after_backup", "mix"})
    mix_table = c.table(d.get("mix", {}), "traffic.mix")
    kinds = {"deliver", "read", "flag", "delete", "provision", "deprovision", "config"}
    c.keys(mix_table, "traffic.mix", kinds)
    mix = tuple(
        (k, float(c.typed(v, f"traffic.mix.{k}", _NUMBER, minimum=0)))
        for k, v in sorted(mix_table.items())
    )
    if mix and sum(w for _, w in mix) <= 0:
        raise c.fail("traffic.mix", "at least one weight must be positive")
    return Traffic(
        rate=float(c.typed(d.get("rate", 20.0), "traffic.rate", _NUMBER, minimum=0.1)),
        clients=c.typed(d.get("clients", 4), "traffic.clients", int, minimum=1),
        before_backup=float(
            c.typed(d.get("before_backup", 3.0), "traffic.before_backup", _NUMBER, minimum=0)
        ),
        after_backup=float(
            c.typed(d.get("after_backup", 3.0), "traffic.after_backup", _NUMBER, minimum=0)
        ),
        mix=mix,
    )


def _backup(c: _Check, d: Mapping[str, Any]) -> Backup:
    c.keys(d, "backup", {"procedure", "backup_cmd", "restore_cmd", "timeout", "mss_down"})
    return Backup(
        procedure=c.choice(d.get("procedure", "chapter13"), "backup.procedure", PROCEDURES),
        backup_cmd=c.typed(d.get("backup_cmd", ""), "backup.backup_cmd", str),
        restore_cmd=c.typed(d.get("restore_cmd", ""), "backup.restore_cmd", str),
        timeout=float(c.typed(d.get("timeout", 300.0), "backup.timeout", _NUMBER, minimum=1)),
        mss_down=c.typed(d.get("mss_down", False), "backup.mss_down", bool),
    )


def _disaster(c: _Check, d: Mapping[str, Any]) -> Disaster:
    c.keys(d, "disaster", {"kind", "servers", "path", "count", "during_backup", "delay"})
    servers = c.typed(d.get("servers", []), "disaster.servers", list)
    for n, server in enumerate(servers):
        c.choice(server, f"disaster.servers[{n}]", list(PROGRAMS))
    return Disaster(
        kind=c.choice(d.get("kind", "lose-tree"), "disaster.kind", list(DISASTERS)),
        servers=tuple(servers),
        path=c.typed(d.get("path", ""), "disaster.path", str),
        count=c.typed(d.get("count", 1), "disaster.count", int, minimum=1),
        during_backup=c.typed(d.get("during_backup", False), "disaster.during_backup", bool),
        delay=float(c.typed(d.get("delay", 0.2), "disaster.delay", _NUMBER, minimum=0)),
    )


def _expect(c: _Check, d: Mapping[str, Any]) -> Expect:
    c.keys(
        d,
        "expect",
        {"loss", "rto_target", "rpo_target_seconds", "rpo_target_messages", "fail_on_targets"},
    )

    def optional(key: str, kind: type | tuple[type, ...]) -> Any:
        """A target: none, or more than 0 (no recovery takes 0s or loses less than nothing;
        a recovery that must lose nothing is loss = 'none')."""
        value = d.get(key)
        if value is None:
            return None
        c.typed(value, f"expect.{key}", kind)
        if value <= 0:
            raise c.fail(f"expect.{key}", f"a target must be more than 0, not {value}")
        return value

    rto = optional("rto_target", _NUMBER)
    rpo_s = optional("rpo_target_seconds", _NUMBER)
    return Expect(
        loss=c.choice(d.get("loss", "after-backup"), "expect.loss", ("none", "after-backup")),
        rto_target=None if rto is None else float(rto),
        rpo_target_seconds=None if rpo_s is None else float(rpo_s),
        rpo_target_messages=optional("rpo_target_messages", int),
        fail_on_targets=c.typed(d.get("fail_on_targets", False), "expect.fail_on_targets", bool),
    )


def _coherent(c: _Check, s: Scenario) -> None:
    """Cross-field rules: what cannot happen together."""
    b, dis = s.backup, s.disaster
    if b.procedure == "custom" and not (b.backup_cmd and b.restore_cmd):
        raise c.fail(
            "backup",
            "procedure 'custom' needs backup_cmd and restore_cmd (or --backup-cmd/--restore-cmd)",
        )
    if b.procedure != "custom" and (b.backup_cmd or b.restore_cmd):
        raise c.fail(
            "backup.backup_cmd", f"only procedure 'custom' runs commands, not {b.procedure!r}"
        )
    if dis.during_backup and dis.kind not in ("server-crash", "machine-crash"):
        raise c.fail("disaster.during_backup", "only crashes can strike during the backup")
    if dis.during_backup and s.recovery_action == "restore":
        raise c.fail("recovery", "a crash during the backup leaves no backup to restore from")
    if dis.during_backup and dis.delay >= b.timeout:
        raise c.fail("disaster.delay", f"strikes after the backup timeout ({b.timeout:g}s)")
    if dis.kind == "server-crash" and not dis.servers:
        raise c.fail("disaster.servers", "server-crash needs the servers to kill")
    if dis.kind == "hang" and len(dis.servers) != 1:
        raise c.fail("disaster.servers", "hang needs the one server to freeze")
    if dis.kind == "lose-store" and dis.path not in BACKUP_PATHS:
        raise c.fail("disaster.path", f"lose-store needs one of {', '.join(BACKUP_PATHS)}")
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


def _set_in_vain(c: _Check, data: Mapping[str, Any], s: Scenario) -> None:
    """Fields a file sets that its scenario would ignore. Only for a file as written: a report
    records every field with its default, and replay parses that record."""
    disaster = data.get("disaster", {})
    if "delay" in disaster and not s.disaster.during_backup:
        raise c.fail(
            "disaster.delay",
            "only applies with disaster.during_backup = true (seconds into the backup): "
            "set during_backup or remove delay",
        )
