"""`firedrill replay REPORT_DIR`: run a drill again from its report (scenario, seed, procedure,
backend) and say whether the verdict and the loss classification are the same.

Reports of the older format 1 replay too: the scenario, seed, backend, procedure, verdict and
findings it needs are read from them as they were written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.drill.report import FORMAT, REPORT_NAME, DrillReport, ReportError
from harness.drill.runner import DrillOptions, DrillResult, run_drill
from harness.drill.verdict import Classification, Judgement
from harness.errors import InvalidScenario
from harness.procedures import Procedure
from harness.procedures.flaws import FLAWS
from harness.scenarios.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Outcome:
    """What must come out the same: the verdict, which kinds of finding failed the drill, and
    whether acknowledged operations were lost as allowed (counts vary with timing; these must
    not)."""

    verdict: str
    violations: tuple[str, ...]
    allowed_loss: bool

    @classmethod
    def of(cls, judgement: Judgement) -> Outcome:
        return cls(
            judgement.verdict.value,
            tuple(sorted({c.finding.kind for c in judgement.violations})),
            any(c.classification is Classification.ALLOWED for c in judgement.findings),
        )


@dataclass(frozen=True, slots=True)
class Source:
    """What a drill is run again from."""

    scenario: Scenario
    seed: int
    backend: str
    procedure: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Replay:
    before: Outcome
    after: Outcome
    report: Path

    @property
    def same_verdict(self) -> bool:
        return self.before.verdict == self.after.verdict

    @property
    def reproduced(self) -> bool:
        return self.before == self.after


def read_source(where: Path) -> Source:
    """The replay source of a report directory (or its report.json), format 2 or 1."""
    path = where / REPORT_NAME if where.is_dir() else where
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: not a readable report: {exc}") from exc
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("version") == 1:
        return _source_v1(data, str(path))
    report = DrillReport.from_json(data, source=str(path))
    record = report.record
    return Source(
        record.scenario, record.seed, record.backend, record.procedure, Outcome.of(report.judgement)
    )


def _source_v1(data: dict[str, Any], shown: str) -> Source:
    """Format 1: the scenario as recorded, the top-level verdict and findings."""
    try:
        scenario = Scenario.from_json(data["scenario"])
        findings = [f for f in data.get("findings") or [] if isinstance(f, dict)]
        outcome = Outcome(
            str(data["verdict"]),
            tuple(
                sorted({str(f["kind"]) for f in findings if f.get("classification") == "violation"})
            ),
            any(f.get("classification") == "allowed" for f in findings),
        )
        procedure = str(data.get("procedure") or scenario.backup.procedure)
        return Source(
            scenario, int(data["seed"]), str(data.get("backend", "local")), procedure, outcome
        )
    except (KeyError, TypeError, ValueError, InvalidScenario) as exc:
        raise ReportError(f"{shown}: a format 1 report without what replay needs: {exc}") from None


def procedure_named(name: str) -> Procedure | None:
    """The flaw a report names as its procedure (selftest), else None: the scenario's own."""
    return next((flaw.procedure() for flaw in FLAWS if flaw.name == name), None)


def replay(report_dir: Path, *, out: Path, progress: bool = False) -> tuple[Replay, DrillResult]:
    source = read_source(report_dir)
    result = run_drill(
        source.scenario,
        DrillOptions(
            report_dir=out,
            seed=source.seed,
            backend=source.backend,
            progress=progress,
            procedure=procedure_named(source.procedure),
        ),
    )
    again = Outcome.of(result.report.judgement)
    return Replay(source.outcome, again, result.report_dir / REPORT_NAME), result
