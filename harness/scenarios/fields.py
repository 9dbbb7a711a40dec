"""Validation driven by a dataclass's fields: a field's name, type and default are written once,
on the dataclass, and the checks read them with `dataclasses.fields()`.

Types a field may have: `bool`, `int`, `float` (an integer is accepted), `str`, `X | None`
(TOML has no null: absent means None), `tuple[str, ...]` (a list) and
`tuple[tuple[str, float], ...]` (a table of weights). A number must be finite (TOML has `nan`
and `inf`). Field metadata adds the rules: `minimum` and `maximum` (numbers), `positive` (a
target: more than 0), `choices` (strings), `upper` (a string compared
in upper case), `items` (the choices of a list's elements), `weights` (the keys a table of
weights may have; at least one weight positive).

Every problem raises InvalidScenario naming the file, the field path and the reason; a TOML
syntax error names the line (`read_toml`). A number must be finite (TOML's `nan` and `inf`,
which every comparison with a target would let through, are refused).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.errors import InvalidScenario

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at `path`; InvalidScenario for an unreadable file or a syntax error
    (`line N` when the parser says where)."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidScenario(shown, "file", reason) from exc
    try:
        return parse_toml(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        where = f"line {match.group(1)}" if match else "syntax"
        raise InvalidScenario(shown, where, f"TOML syntax error: {exc}") from exc


def parse_toml(text: str) -> dict[str, Any]:
    """A TOML document; TOMLDecodeError for a syntax error and for nesting too deep to read
    (arrays in arrays thousands deep: tomllib recurses)."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("nested too deeply") from None


class Check:
    """The checks of one file (`path`, named in every error)."""

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

    def section(self, cls: type[T], data: Any, where: str) -> T:
        """An instance of dataclass `cls` from a TOML table: every key a field, checked by its
        type and metadata; fields the table leaves out keep their defaults."""
        table = self.table(data, where)
        fields = dataclasses.fields(cls)
        self.keys(table, where, {f.name for f in fields})
        hints = typing.get_type_hints(cls)
        values = {
            f.name: self.value(table[f.name], f"{where}.{f.name}", hints[f.name], f.metadata)
            for f in fields
            if f.name in table
        }
        return cls(**values)

    def value(self, value: Any, where: str, kind: Any, rules: Mapping[str, Any]) -> Any:
        """`value` checked against type `kind` and the field's `rules`, converted (a list to a
        tuple, an integer to a float)."""
        args = typing.get_args(kind)
        if isinstance(kind, types.UnionType) and type(None) in args:
            kind = next(a for a in args if a is not type(None))
            args = typing.get_args(kind)
        if kind is bool:
            return self.typed(value, where, bool)
        if kind is int or kind is float:
            number = self.typed(value, where, int if kind is int else (int, float))
            return self.number(number, where, rules, float if kind is float else int)
        if kind is str:
            return self.string(value, where, rules)
        if typing.get_origin(kind) is tuple and args == (str, Ellipsis):
            items = self.typed(value, where, list)
            choices = rules.get("items")
            for n, item in enumerate(items):
                if choices is None:
                    self.typed(item, f"{where}[{n}]", str)
                else:
                    self.choice(item, f"{where}[{n}]", choices)
            return tuple(items)
        if "weights" in rules:
            return self.weights(value, where, rules["weights"])
        raise TypeError(f"{where}: no validation for fields of type {kind}")

    def typed(self, value: Any, where: str, kind: type | tuple[type, ...]) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(where, f"must be {_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail(where, f"must be {_name(kind)}, not {type(value).__name__} {value!r}")
        return value

    def number(self, value: float, where: str, rules: Mapping[str, Any], cast: type) -> Any:
        try:  # TOML has nan and inf; an integer may be too big for a float
            finite = math.isfinite(value)
        except OverflowError:
            raise self.fail(where, "too big a number") from None
        if not finite:
            raise self.fail(where, f"must be a finite number, not {value}")
        if rules.get("positive") and value <= 0:
            raise self.fail(where, f"a target must be more than 0, not {value}")
        minimum, maximum = rules.get("minimum"), rules.get("maximum")
        if minimum is not None and value < minimum:
            raise self.fail(where, f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise self.fail(where, f"must be at most {maximum}, not {value}")
        return cast(value)

    def string(self, value: Any, where: str, rules: Mapping[str, Any]) -> str:
        self.typed(value, where, str)
        if rules.get("upper"):
            value = value.upper()
        if "choices" in rules:
            return self.choice(value, where, rules["choices"])
        return str(value)

    def choice(self, value: Any, where: str, choices: tuple[str, ...] | list[str]) -> str:
        self.typed(value, where, str)
        if value not in choices:
            raise self.fail(where, f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    def weights(self, value: Any, where: str, names: tuple[str, ...]) -> tuple[Any, ...]:
        table = self.table(value, where)
        self.keys(table, where, set(names))
        pairs = tuple(
            (
                k,
                self.number(
                    self.typed(v, f"{where}.{k}", (int, float)), f"{where}.{k}", _WEIGHT, float
                ),
            )
            for k, v in sorted(table.items())
        )
        if pairs and sum(w for _, w in pairs) <= 0:
            raise self.fail(where, "at least one weight must be positive")
        return pairs


_WEIGHT = {"minimum": 0}


def _name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return "a number"
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list"}
    return names.get(kind, "a number" if kind is float else kind.__name__)
