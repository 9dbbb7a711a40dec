"""`firedrill replay REPORT_DIR`: run a drill again from its report (scenario, seed, procedure,
backend) and say whether the verdict and the loss classification are the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.drill.runner import DrillOptions, DrillResult, run_drill
from harness.errors import FiredrillError
from harness.procedures import Procedure
from harness.procedures.flaws import FLAWS
from harness.scenarios.scenario import Scenario, parse_scenario


@dataclass(frozen=True, slots=True)
class Replay:
    original: str
    again: str
    same_verdict: bool
    same_classification: bool
    classification_before: dict[str, Any]
    classification_after: dict[str, Any]
    report: Path

    @property
    def reproduced(self) -> bool:
        return self.same_verdict and self.same_classification


def load_report(report_dir: Path) -> dict[str, Any]:
    path = report_dir / "report.json" if report_dir.is_dir() else report_dir
    try:
        report: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FiredrillError(f"cannot read a drill report at {path}: {exc}") from exc
    if report.get("format") != "firedrill-report":
        raise FiredrillError(f"{path} is not a firedrill drill report")
    return report


def scenario_of(report: dict[str, Any]) -> Scenario:
    """The scenario exactly as it was run, from its record in the report."""
    s = dict(report["scenario"])
    traffic = dict(s["traffic"])
    traffic["mix"] = dict(traffic.get("mix") or [])
    expect = {k: v for k, v in s["expect"].items() if v is not None}
    data = {
        "name": s["name"],
        "description": s.get("description", ""),
        "population": s["population"],
        "traffic": traffic,
        "backup": s["backup"],
        "disaster": s["disaster"],
        "recovery": s.get("recovery", "auto"),
        "expect": expect,
    }
    return parse_scenario(data, path=f"report {s['name']}", default_name=s["name"])


def procedure_of(report: dict[str, Any]) -> Procedure | None:
    name = report.get("procedure") or ""
    for flaw in FLAWS:
        if flaw.name == name:
            return flaw.procedure()
    return None  # the scenario's own procedure


def classification(report: dict[str, Any]) -> dict[str, Any]:
    """The loss classification: which kinds of finding failed the drill, and whether some
    acknowledged operations were lost as allowed (counts vary with timing; these must not)."""
    findings = report.get("findings") or []
    return {
        "violations": sorted(
            {f["kind"] for f in findings if f.get("classification") == "violation"}
        ),
        "allowed_loss": any(f.get("classification") == "allowed" for f in findings),
    }


def replay(report_dir: Path, *, out: Path, progress: bool = False) -> tuple[Replay, DrillResult]:
    original = load_report(report_dir)
    scenario = scenario_of(original)
    result = run_drill(
        scenario,
        DrillOptions(
            report_dir=out,
            seed=int(original["seed"]),
            backend=str(original.get("backend", "local")),
            progress=progress,
            procedure=procedure_of(original),
        ),
    )
    before, after = classification(original), classification(result.report)
    outcome = Replay(
        str(original["verdict"]),
        result.verdict.value,
        original["verdict"] == result.verdict.value,
        before == after,
        before,
        after,
        result.report_dir / "report.json",
    )
    return outcome, result
