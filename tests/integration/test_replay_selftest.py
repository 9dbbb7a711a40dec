"""Replay reproduces a passing and a failing drill; selftest scores the flaw catalogue."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.checker.findings import Verdict
from harness.drill.replay import read_source, replay
from harness.drill.report import load_report
from harness.drill.runner import DrillOptions, run_drill
from harness.drill.selftest import selftest
from harness.procedures.flaws import FLAWS, flaw
from harness.procedures.selective import CORRECT
from harness.scenarios.catalogue import catalogue, find
from harness.scenarios.scenario import load_scenario
from tests.support.drills import assert_passing_drill, leftovers, sandboxes

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("scenario", "procedure", "verdict"),
    [
        ("crash-mss-mta", None, Verdict.PASS),
        ("corrupt-messages", "restore-without-removing", Verdict.FAIL),  # fails fast
    ],
)
def test_replay_reproduces_the_verdict_and_the_classification(
    scenario: str, procedure: str | None, verdict: Verdict, tmp_path: Path
) -> None:
    drill = load_scenario(find(scenario))
    drill = dataclasses.replace(drill, population=dataclasses.replace(drill.population, tier="XS"))
    chosen = flaw(procedure).procedure() if procedure else None
    first = run_drill(
        drill, DrillOptions(report_dir=tmp_path / "first", seed=4, progress=False, procedure=chosen)
    )
    assert first.verdict is verdict
    outcome, again = replay(first.report_dir, out=tmp_path / "again")
    assert outcome.reproduced, outcome
    assert again.report.record.seed == 4
    assert again.report.record.procedure == first.report.record.procedure


def test_replay_reads_a_report_of_format_1(tmp_path: Path) -> None:
    """A report written before format 2 still gives its scenario, seed and outcome."""
    older = Path(__file__).parents[1] / "fixtures" / "reports-v1" / "pass-restore"
    source = read_source(older)
    assert (source.scenario.name, source.seed, source.backend) == ("default", 1, "local")
    assert source.outcome.verdict == "pass" and source.outcome.allowed_loss


def test_the_catalogue_has_at_least_twelve_documented_flaws() -> None:
    assert len(FLAWS) >= 12
    assert all(f.mistake and f.caught_by for f in FLAWS)
    assert len({f.name for f in FLAWS}) == len(FLAWS)


def test_selftest_catches_every_flaw_without_false_alarm_at_two_seeds(tmp_path: Path) -> None:
    """Every flaw caught at seeds 1 and 2, and every catalogue scenario passes with its own
    procedure, as do the other correct procedures (an archive, config.db alone put back) on
    theirs (at seed 1 here, the docker catalogue test runs them again, the slow test at ten
    seeds: its report shows what a passing drill must), nothing left behind."""
    scenarios = {p.stem: load_scenario(p) for p in catalogue()}
    before = {p for name in scenarios for p in sandboxes(name)}
    score = selftest(seeds=2, report_dir=tmp_path, jobs=4, correct_seeds=1)
    missed = [t for t in score.trials if not t.ok]
    assert missed == []
    assert (score.caught, score.total, score.false_alarms) == (len(FLAWS), len(FLAWS), 0)
    correct = [t for t in score.trials if t.kind == "correct"]
    assert sorted({t.scenario for t in correct}) == sorted(scenarios)
    assert len(correct) == len(scenarios) + len(CORRECT)
    others = sorted((t.procedure, t.scenario) for t in correct if t.procedure in OTHERS)
    assert others == sorted((kind.name, name) for kind, name in CORRECT)
    assert {t.seed for t in score.trials if t.kind == "flaw"} == {1, 2}
    for trial in score.trials:
        directory, report = load_report(Path(trial.report))
        assert report.record.seed == trial.seed
        assert leftovers(report, before) == [], trial
        if trial.kind == "correct":
            assert_passing_drill(report, directory, scenarios[trial.scenario])
    assert {p for name in scenarios for p in sandboxes(name)} == before
    archived = next(t for t in correct if t.procedure == "archive")
    backup = load_report(Path(archived.report))[1].record.backup
    assert backup and backup.backup and backup.backup.manifest_source == "consistency point"


OTHERS = {kind.name for kind, _ in CORRECT}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 270 drills: about 20 minutes on 2 cores
def test_selftest_at_ten_seeds(tmp_path: Path) -> None:
    score = selftest(seeds=10, report_dir=tmp_path, jobs=4)
    assert [t for t in score.trials if not t.ok] == []
