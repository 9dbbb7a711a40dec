"""`firedrill replay REPORT_DIR`: run a drill again from its report (scenario, seed, procedure,
backend) and say whether the verdict and the loss classification are the same.

Reports of the older format 1 replay too: the scenario, seed, backend, procedure, verdict and
findings it needs are read from them as they were written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.drill.report import FORMAT, REPORT_NAME, DrillReport, ReportError, read_json
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
    path, data = read_json(where)
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("version") == 1:
        return _source_v1(data, str(path))
    report = DrillReport.from_json(data, source=str(path))
    record = report.record
    return Source(
        record.scenario, record.seed, record.backend, record.procedure, Outcome.of(report.judgement)
    )


def _source_v1(data: dict[str, Any], shown: str) -> Source:
    """Format 1: the scenario as recorded, the top-level verdict and findings, each of the
    type format 1 wrote (ReportError, one line, naming the first that is not)."""
    try:
        scenario = Scenario.from_json(data.get("scenario"))
        findings = _field(data, "findings", list, [])
        if not all(isinstance(f, dict) and isinstance(f.get("kind"), str) for f in findings):
            raise ValueError("findings: each an object with a kind")
        outcome = Outcome(
            _field(data, "verdict", str),
            tuple(sorted({f["kind"] for f in findings if f.get("classification") == "violation"})),
            any(f.get("classification") == "allowed" for f in findings),
        )
        procedure = _field(data, "procedure", str, "") or scenario.backup.procedure
        backend = _field(data, "backend", str, "local")
        return Source(scenario, _field(data, "seed", int), backend, procedure, outcome)
    except (ValueError, InvalidScenario) as exc:
        raise ReportError(f"{shown}: a format 1 report without what replay needs: {exc}") from None


T = TypeVar("T")


def _field(data: dict[str, Any], key: str, kind: type[T], default: T | None = None) -> T:
    """`data[key]`, of type `kind` (`default` when absent or null, if there is one);
    ValueError otherwise (an integer is not a boolean or a float: 1.9 is no seed)."""
    value = data.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    shown = "missing" if value is None else f"{value!r} is not {_KINDS.get(kind, kind.__name__)}"
    raise ValueError(f"{key}: {shown}")


_KINDS = {int: "an integer", str: "a string", list: "a list"}


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
