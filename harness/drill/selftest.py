"""`firedrill selftest`: does firedrill catch every flaw of the catalogue, and does it leave
correct procedures alone? The detection score: caught / total flaws, and false alarms."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from harness.checker.findings import Verdict
from harness.drill.report import REPORT_NAME
from harness.drill.runner import DrillOptions, run_drill
from harness.errors import FiredrillError
from harness.procedures import Procedure
from harness.procedures.flaws import FLAWS, Flaw
from harness.procedures.selective import CORRECT
from harness.scenarios.catalogue import catalogue, find
from harness.scenarios.scenario import Scenario, load_scenario

SELFTEST_TIER = "XS"


@dataclass(frozen=True, slots=True)
class Trial:
    kind: str
    """'flaw' (must fail with one of the expected findings) or 'correct' (must pass)."""
    procedure: str
    scenario: str
    seed: int
    verdict: str
    ok: bool
    evidence: str
    report: str

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Score:
    caught: int
    total: int
    false_alarms: int
    correct_runs: int
    trials: tuple[Trial, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "caught": self.caught,
            "total": self.total,
            "false_alarms": self.false_alarms,
            "correct_runs": self.correct_runs,
            "trials": [t.to_json() for t in self.trials],
        }


def _small(scenario: Scenario, mix: dict[str, float] | None = None) -> Scenario:
    population = dataclasses.replace(scenario.population, tier=SELFTEST_TIER)
    traffic = scenario.traffic
    if mix:
        traffic = dataclasses.replace(traffic, mix=tuple(sorted(mix.items())))
    return dataclasses.replace(scenario, population=population, traffic=traffic)


def _flaw_trial(flaw: Flaw, seed: int, report_dir: Path) -> Trial:
    scenario = _small(load_scenario(find(flaw.scenario)), flaw.mix)
    result = run_drill(
        scenario,
        DrillOptions(report_dir=report_dir, seed=seed, progress=False, procedure=flaw.procedure()),
    )
    judgement = result.report.judgement
    violations = [c.finding for c in judgement.violations]
    hits = [f for f in violations if f.kind in flaw.caught_by]
    if hits:
        evidence = f"{hits[0].kind} {hits[0].subject}"
    elif violations:
        seen = sorted({f"{f.kind} {f.subject}: {f.detail}" for f in violations})
        evidence = "no expected finding; violations: " + "; ".join(seen)
    else:
        why = "; ".join(judgement.reasons) or "no violation"
        evidence = f"verdict {result.verdict.value}: {why}"
    return Trial(
        "flaw",
        flaw.name,
        scenario.name,
        seed,
        result.verdict.value,
        result.verdict is Verdict.FAIL and bool(hits),
        _short(evidence),
        str(result.report_dir / REPORT_NAME),
    )


def _correct_trial(
    path: Path, seed: int, report_dir: Path, procedure: Procedure | None = None
) -> Trial:
    """A correct procedure must pass: the scenario's own, or `procedure` (selective.CORRECT)."""
    scenario = _small(load_scenario(path))
    options = DrillOptions(report_dir=report_dir, seed=seed, progress=False, procedure=procedure)
    result = run_drill(scenario, options)
    passed = result.verdict is Verdict.PASS
    evidence = "passed" if passed else "; ".join(result.report.judgement.reasons)
    return Trial(
        "correct",
        procedure.name if procedure else scenario.backup.procedure,
        scenario.name,
        seed,
        result.verdict.value,
        passed,
        _short(evidence),
        str(result.report_dir / REPORT_NAME),
    )


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def selftest(
    *,
    seeds: int,
    report_dir: Path,
    jobs: int = 3,
    on_trial: Callable[[Trial], None] | None = None,
    correct_seeds: int | None = None,
) -> Score:
    """Run every flaw at seeds 1..`seeds`, and every catalogue scenario with its own procedure
    and the other correct procedures (`harness.procedures.selective.CORRECT`: an archive, the
    smallest restore after damage to config.db) at seeds 1..`correct_seeds` (default:
    `seeds`), `jobs` at a time (FiredrillError unless each is at least 1: a score of no
    drill would be a perfect one)."""
    correct_seeds = seeds if correct_seeds is None else correct_seeds
    if min(seeds, jobs, correct_seeds) < 1:
        raise FiredrillError(
            f"selftest needs at least one seed and one job, not {seeds}, {jobs}, {correct_seeds}"
        )
    work: list[Callable[[], Trial]] = []
    for seed in range(1, seeds + 1):
        work += [partial(_flaw_trial, f, seed, report_dir) for f in FLAWS]
        if seed <= correct_seeds:
            work += [partial(_correct_trial, p, seed, report_dir) for p in catalogue()]
            work += [
                partial(_correct_trial, find(name), seed, report_dir, kind())
                for kind, name in CORRECT
            ]
    trials: list[Trial] = []
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="selftest") as pool:
        for trial in pool.map(lambda job: job(), work):
            trials.append(trial)
            if on_trial is not None:
                on_trial(trial)
    flaw_names = {f.name for f in FLAWS}
    caught = sum(all(t.ok for t in trials if t.procedure == name) for name in flaw_names)
    correct = [t for t in trials if t.kind == "correct"]
    return Score(
        caught, len(flaw_names), sum(not t.ok for t in correct), len(correct), tuple(trials)
    )
