"""JSON for the drill's records: one cattrs converter that turns the frozen records into plain
JSON values and back (`unstructure` / `structure`), field by field.

The few types that are not plain dataclasses get hooks: a path is a string, a finding is its
`to_json()` form (kind, severity, invariant, id, detail, remedy, op) read back through the
registry of kinds, and a scenario is validated again when it is read (InvalidScenario).
Structuring raises `cattrs` validation errors; `harness.drill.report_file` turns them into one
line naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import cattrs

from harness.checker.findings import Finding, finding_from_json
from harness.scenarios.scenario import Scenario

converter = cattrs.Converter(forbid_extra_keys=True, unstruct_collection_overrides={tuple: list})
converter.register_unstructure_hook(Path, str)
converter.register_structure_hook(Path, lambda value, _: Path(value))
converter.register_unstructure_hook(Finding, lambda finding: finding.to_json())
converter.register_structure_hook(Finding, lambda value, _: finding_from_json(value))
converter.register_unstructure_hook(Scenario, lambda scenario: scenario.to_json())


def _scenario(value: Any, _: type) -> Scenario:
    return Scenario.from_json(value)


converter.register_structure_hook(Scenario, _scenario)


class Jsonable:
    """A frozen record that is written and read as plain JSON values, field by field."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = converter.unstructure(self)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """The record `to_json` wrote (cattrs errors name the field that does not fit)."""
        record: Self = converter.structure(data, cls)
        return record
