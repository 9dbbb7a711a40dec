"""Sequence scenarios: an explicit list of steps on a live installation, as a TOML file.

The state machine (tests/support/statemachine.py) shrinks a failure to such a sequence and
prints it; `firedrill run FILE` runs it again with the same engine (`harness.drill.stepper`)::

    description = "..."
    procedure = "chapter13"        # "image", "flaw:<name>" or "package.module:Class"
    [population]
    tier = "XS"
    seed = 1
    [[step]]
    action = "deliver"             # deliver read flag expunge provision deprovision config
    actor = 0                      #   backup crash corrupt restore
    number = 1

A step names accounts and messages by position (`actor`, `pick`, taken modulo what the
reference model holds at that moment), so every sequence is valid wherever it is shortened.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import InvalidScenario
from harness.procedures import Procedure, procedure_for
from harness.procedures.flaws import flaw
from harness.scenarios.fields import Check, parse_toml, read_toml
from harness.scenarios.scenario import Population
from harness.workload.runner import CONFIG_CHOICES

FLAGS = ("\\Seen", "\\Flagged", "\\Answered")
FIELDS: dict[str, tuple[str, ...]] = {
    "deliver": ("actor", "number"),
    "read": ("actor", "pick"),
    "flag": ("actor", "pick", "flag"),
    "expunge": ("actor", "pick"),
    "provision": ("number",),
    "deprovision": ("actor",),
    "config": ("key", "value"),
    "backup": (),
    "crash": (),
    "corrupt": ("actor", "pick"),
    "restore": (),
}
"""Each action with the fields it takes."""
ACTIONS = tuple(FIELDS)
NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
"""A sequence's name, as a scenario's: it names its report directory."""


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    actor: int = 0
    pick: int = 0
    number: int = 0
    flag: str = ""
    key: str = ""
    value: str = ""

    def fields(self) -> dict[str, int | str]:
        return {name: getattr(self, name) for name in FIELDS[self.action]}

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.fields().items())
        return f"{self.action}({args})"


@dataclass(frozen=True, slots=True)
class Sequence:
    name: str
    steps: tuple[Step, ...]
    description: str = ""
    procedure: str = "chapter13"
    tier: str = "XS"
    seed: int = 1

    def to_toml(self) -> str:
        lines = [
            f"# {self.name}: {len(self.steps)} step(s); run it with `firedrill run FILE`",
            f"description = {json.dumps(self.description, ensure_ascii=False)}",
            f"procedure = {json.dumps(self.procedure)}",
            "",
            "[population]",
            f"tier = {json.dumps(self.tier)}",
            f"seed = {self.seed}",
        ]
        for step in self.steps:
            lines += ["", "[[step]]", f"action = {json.dumps(step.action)}"]
            lines += [
                f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in step.fields().items()
            ]
        return "\n".join(lines) + "\n"


def is_sequence(path: Path) -> bool:
    """True when the TOML file at `path` is a sequence (it has [[step]] tables)."""
    try:
        return "step" in parse_toml(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def load_sequence(path: Path) -> Sequence:
    """Read and validate a sequence file (InvalidScenario, as for a scenario)."""
    return parse_sequence(read_toml(path), path=str(path), default_name=path.stem)


def parse_sequence(data: Mapping[str, Any], *, path: str, default_name: str) -> Sequence:
    """A Sequence from a parsed TOML document; InvalidScenario (file, field, reason) as for a
    scenario, the population checked by the same fields."""
    c = Check(path)
    c.keys(data, "", {"name", "description", "procedure", "population", "step"})
    population = c.section(Population, data.get("population", {}), "population")
    if population.tier not in ("XS", "S"):
        raise c.fail("population.tier", "a sequence runs on tier XS or S")
    procedure = c.typed(data.get("procedure", "chapter13"), "procedure", str)
    resolve_procedure(procedure, path=path)
    raw = data.get("step")
    if not isinstance(raw, list) or not raw:
        raise c.fail("step", "at least one [[step]] table")
    steps = tuple(_step(c, item, n) for n, item in enumerate(raw, 1))
    name = c.typed(data.get("name", default_name), "name", str)
    if not NAME.fullmatch(name):
        raise c.fail("name", f"{name!r}: use lower-case letters, digits, '.', '_' and '-'")
    description = c.typed(data.get("description", ""), "description", str)
    return Sequence(name, steps, description, procedure, population.tier, population.seed)


def _step(c: Check, item: Any, n: int) -> Step:
    where = f"step {n}"
    table = c.table(item, where)
    action = table.get("action")
    if action not in FIELDS:
        raise c.fail(f"{where}.action", f"one of {', '.join(ACTIONS)}")
    c.keys(table, where, {"action", *FIELDS[action]})
    values: dict[str, Any] = {}
    for name in FIELDS[action]:
        if name not in table:
            raise c.fail(where, f"{action} needs {name}")
        kind: type = int if name in ("actor", "pick", "number") else str
        values[name] = c.value(table[name], f"{where}.{name}", kind, {"minimum": 0})
    if action == "flag":
        c.choice(values["flag"], f"{where}.flag", FLAGS)
    if action == "config":
        c.choice(values["key"], f"{where}.key", sorted(CONFIG_CHOICES))
        c.choice(values["value"], f"{where}.value", CONFIG_CHOICES[values["key"]])
    return Step(action, **values)


def resolve_procedure(name: str, *, path: str = "sequence") -> Procedure:
    """chapter13, image, flaw:<name>, or an importable `package.module:Class` (a class with
    backup and restore methods, e.g. a test's), made with no arguments. InvalidScenario for
    anything else, in one line."""
    if name in ("chapter13", "image"):
        return procedure_for(name)
    if name.startswith("flaw:"):
        try:
            return flaw(name).procedure()
        except KeyError:
            raise InvalidScenario(path, "procedure", f"no flaw {name!r} in the catalogue") from None
    module, _, attr = name.partition(":")
    if not module or not attr or not all(p.isidentifier() for p in (*module.split("."), attr)):
        raise InvalidScenario(
            path, "procedure", f"{name!r}: not chapter13, image, flaw:<name> or module:Class"
        )
    if str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # a procedure of the project run from its directory
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidScenario(path, "procedure", f"cannot import {name}: {exc}") from exc
    if not (isinstance(factory, type) and _has_steps(factory)):
        raise InvalidScenario(path, "procedure", f"{name} is not a class with backup and restore")
    try:
        procedure: Procedure = factory()
    except Exception as exc:
        raise InvalidScenario(path, "procedure", f"{name}() failed: {exc}") from exc
    return procedure


def _has_steps(cls: type) -> bool:
    return callable(getattr(cls, "backup", None)) and callable(getattr(cls, "restore", None))
