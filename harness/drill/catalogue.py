"""Finding scenarios: by path, or by name in the catalogue directory `scenarios/`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import harness
from harness.drill.scenario import Scenario, _Check, _coherent, load_scenario
from harness.errors import InvalidScenario

DEFAULT = "default"


def catalogue_dir() -> Path:
    """./scenarios when it exists, else the one beside the installed package (a checkout)."""
    here = Path.cwd() / "scenarios"
    if here.is_dir():
        return here
    return Path(harness.__file__).resolve().parent.parent / "scenarios"


def catalogue() -> list[Path]:
    return sorted(catalogue_dir().glob("*.toml"))


def find(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or "/" in name_or_path:
        if not path.is_file():
            raise InvalidScenario(name_or_path, "file", "no such scenario file")
        return path
    candidate = catalogue_dir() / f"{name_or_path}.toml"
    if not candidate.is_file():
        names = ", ".join(p.stem for p in catalogue())
        raise InvalidScenario(name_or_path, "name", f"no such scenario (catalogue: {names})")
    return candidate


def with_custom_commands(scenario: Scenario, backup_cmd: str, restore_cmd: str) -> Scenario:
    """The scenario with its procedure replaced by the operator's commands (--backup-cmd)."""
    backup = dataclasses.replace(
        scenario.backup, procedure="custom", backup_cmd=backup_cmd, restore_cmd=restore_cmd
    )
    changed = dataclasses.replace(scenario, backup=backup)
    _coherent(_Check(scenario.path or scenario.name), changed)
    return changed


__all__ = ["DEFAULT", "catalogue", "find", "load_scenario", "with_custom_commands"]
