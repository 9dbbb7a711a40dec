"""Finding scenarios: by path, or by name in the catalogue directory `scenarios/`."""

from __future__ import annotations

from pathlib import Path

import harness
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
    """A scenario file: a path as given, or the catalogue's `NAME.toml` (InvalidScenario)."""
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
