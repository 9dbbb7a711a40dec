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
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import InvalidScenario
from harness.procedures import Procedure, procedure_for
from harness.procedures.flaws import flaw
from harness.scenarios.fields import read_toml
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
            f"description = {json.dumps(self.description)}",
            f"procedure = {json.dumps(self.procedure)}",
            "",
            "[population]",
            f"tier = {json.dumps(self.tier)}",
            f"seed = {self.seed}",
        ]
        for step in self.steps:
            lines += ["", "[[step]]", f"action = {json.dumps(step.action)}"]
            lines += [f"{k} = {json.dumps(v)}" for k, v in step.fields().items()]
        return "\n".join(lines) + "\n"


def is_sequence(path: Path) -> bool:
    """True when the TOML file at `path` is a sequence (it has [[step]] tables)."""
    try:
        return "step" in tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def load_sequence(path: Path) -> Sequence:
    """Read and validate a sequence file (InvalidScenario, as for a scenario)."""
    return parse_sequence(read_toml(path), path=str(path), default_name=path.stem)


def parse_sequence(data: Mapping[str, Any], *, path: str, default_name: str) -> Sequence:
    def fail(where: str, reason: str) -> InvalidScenario:
        return InvalidScenario(path, where, reason)

    unknown = set(data) - {"name", "description", "procedure", "population", "step"}
    if unknown:
        raise fail(", ".join(sorted(unknown)), "unknown key in a sequence")
    population = data.get("population", {})
    if not isinstance(population, Mapping) or set(population) - {"tier", "seed"}:
        raise fail("population", "a table with tier and seed only")
    tier, seed = population.get("tier", "XS"), population.get("seed", 1)
    if tier not in ("XS", "S"):
        raise fail("population.tier", "a sequence runs on tier XS or S")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise fail("population.seed", "a non-negative integer")
    procedure = data.get("procedure", "chapter13")
    if not isinstance(procedure, str):
        raise fail("procedure", "a string")
    resolve_procedure(procedure, path=path)
    raw = data.get("step")
    if not isinstance(raw, list) or not raw:
        raise fail("step", "at least one [[step]] table")
    steps = tuple(_step(item, n, fail) for n, item in enumerate(raw, 1))
    name, description = data.get("name", default_name), data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise fail("name/description", "strings")
    return Sequence(name, steps, description, procedure, tier, seed)


def _step(item: Any, n: int, fail: Any) -> Step:
    where = f"step {n}"
    if not isinstance(item, Mapping):
        raise fail(where, "a table")
    action = item.get("action")
    if action not in FIELDS:
        raise fail(f"{where}.action", f"one of {', '.join(ACTIONS)}")
    extra = set(item) - {"action", *FIELDS[action]}
    if extra:
        raise fail(where, f"{action} does not take {', '.join(sorted(extra))}")
    values: dict[str, Any] = {}
    for name in FIELDS[action]:
        if name not in item:
            raise fail(where, f"{action} needs {name}")
        value = item[name]
        if name in ("actor", "pick", "number"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise fail(f"{where}.{name}", "a non-negative integer")
        elif not isinstance(value, str):
            raise fail(f"{where}.{name}", "a string")
        values[name] = value
    if action == "flag" and values["flag"] not in FLAGS:
        raise fail(f"{where}.flag", f"one of {', '.join(FLAGS)}")
    if action == "config" and values["key"] not in CONFIG_CHOICES:
        raise fail(f"{where}.key", f"one of {', '.join(sorted(CONFIG_CHOICES))}")
    return Step(action, **values)


def resolve_procedure(name: str, *, path: str = "sequence") -> Procedure:
    """chapter13, image, flaw:<name>, or an importable `package.module:Class` (e.g. a test's)."""
    if name in ("chapter13", "image"):
        return procedure_for(name)
    if name.startswith("flaw:"):
        try:
            return flaw(name).procedure()
        except KeyError:
            raise InvalidScenario(path, "procedure", f"no flaw {name!r} in the catalogue") from None
    module, _, attr = name.partition(":")
    if not module or not attr:
        raise InvalidScenario(
            path, "procedure", f"{name!r}: not chapter13, image, flaw:<name> or module:Class"
        )
    if str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # a procedure of the project run from its directory
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidScenario(path, "procedure", f"cannot import {name}: {exc}") from exc
    procedure = factory()
    if not (callable(getattr(procedure, "backup", None)) and callable(procedure.restore)):
        raise InvalidScenario(path, "procedure", f"{name} has no backup and restore methods")
    return procedure  # type: ignore[no-any-return]
