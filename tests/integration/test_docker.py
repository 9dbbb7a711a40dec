"""The docker backend: the catalogue passes on containers, verdicts agree with the local
backend, a flawed procedure is caught, and nothing is left behind after a pass, a failure or a
SIGINT. Without a Docker engine these tests skip with one line, unless
FIREDRILL_REQUIRE_DOCKER=1 (CI), which turns a missing engine into a failure."""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.checker.findings import Verdict
from harness.drill.runner import DrillOptions, DrillResult, run_drill
from harness.drill.sequence_run import run_sequence
from harness.procedures import Procedure
from harness.procedures.flaws import flaw
from harness.scenarios.catalogue import catalogue, find
from harness.scenarios.scenario import Scenario, load_scenario, with_custom_commands
from harness.scenarios.sequence import parse_sequence
from tests.support.docker_engine import require_docker
from tests.support.interrupt import interrupt_drill

pytestmark = [pytest.mark.docker, pytest.mark.integration]


@pytest.fixture(scope="module", autouse=True)
def docker_or_skip() -> None:
    require_docker()


def _xs(scenario: Scenario) -> Scenario:
    return dataclasses.replace(
        scenario, population=dataclasses.replace(scenario.population, tier="XS")
    )


def _drill(
    scenario: Scenario,
    tmp_path: Path,
    backend: str,
    seed: int = 1,
    procedure: Procedure | None = None,
) -> DrillResult:
    options = DrillOptions(
        report_dir=tmp_path / backend,
        seed=seed,
        backend=backend,
        progress=False,
        procedure=procedure,
    )
    return run_drill(_xs(scenario), options)


def _labelled_containers() -> list[str]:
    done = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=org.firedrill.run"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()


def _work_trees(*scenarios: str) -> set[Path]:
    """Drill sandboxes of these scenarios (other drills may run on the machine meanwhile)."""
    return {
        p
        for name in scenarios
        for p in Path(tempfile.gettempdir()).glob(f"firedrill-{name}-*")
        if (p / "intermail").exists()
    }


def test_the_whole_catalogue_passes_on_docker(tmp_path: Path) -> None:
    scenarios = [load_scenario(p) for p in catalogue()]
    before = _work_trees(*(s.name for s in scenarios))
    with ThreadPoolExecutor(max_workers=4) as pool:  # the drills mostly wait: 4 on 2 cores
        results = list(pool.map(lambda s: _drill(s, tmp_path, "docker"), scenarios))
    failed = {
        s.name: (r.report.judgement.reasons, r.report.record.error)
        for s, r in zip(scenarios, results, strict=True)
        if r.verdict is not Verdict.PASS
    }
    assert failed == {}
    assert all(r.report.record.backend == "docker" for r in results)
    assert _labelled_containers() == []
    assert _work_trees(*(s.name for s in scenarios)) == before


def _classes(result: DrillResult) -> tuple[str, set[str]]:
    kinds: set[str] = {
        c.classification.value
        for c in result.report.judgement.findings
        if c.classification.value in ("allowed", "violation")
    }
    return result.verdict.value, kinds


def test_the_same_scenario_and_seed_give_the_same_verdict_on_both_backends(tmp_path: Path) -> None:
    scenario = load_scenario(find("operator-deletes-account"))
    local = _drill(scenario, tmp_path, "local", seed=5)
    docker = _drill(scenario, tmp_path, "docker", seed=5)
    assert _classes(local) == _classes(docker) == ("pass", {"allowed"})

    def victims(result: DrillResult) -> list[tuple[str, str]]:  # "before" counts vary with timing
        fault = result.report.record.fault
        return [(d.kind, d.id) for d in fault.damaged] if fault else []

    assert victims(local) == victims(docker)


def test_a_flawed_procedure_is_caught_on_docker_and_leaves_nothing(tmp_path: Path) -> None:
    broken = flaw("msgfiles-db-apart")
    scenario = dataclasses.replace(load_scenario(find(broken.scenario)))
    result = _drill(scenario, tmp_path, "docker", procedure=broken.procedure())
    assert result.verdict is Verdict.FAIL
    kinds = {c.finding.kind for c in result.report.judgement.violations}
    assert kinds & broken.caught_by
    assert _labelled_containers() == []


def test_sigint_in_the_middle_of_a_docker_drill_leaves_no_container(tmp_path: Path) -> None:
    before = _work_trees("machine-crash")
    interrupt_drill(tmp_path, "machine-crash", "--backend", "docker", timeout=120)
    assert _labelled_containers() == []
    assert _work_trees("machine-crash") == before


def test_an_operators_procedure_restarts_containers_through_imctrl(tmp_path: Path) -> None:
    """$IMCTRL is backend-aware: the custom restore's `$IMCTRL start allservers` starts this
    drill's containers (nothing in harness.control knows about docker)."""
    procedures = Path(__file__).resolve().parents[1] / "support" / "procedures"
    scenario = with_custom_commands(
        load_scenario(find("default")),
        str(procedures / "good-backup.sh"),
        str(procedures / "good-restore.sh"),
    )
    result = _drill(scenario, tmp_path, "docker")
    assert result.verdict is Verdict.PASS, result.report.judgement.reasons
    assert result.report.judgement.metrics.rto_seconds is not None
    assert _labelled_containers() == []


def test_a_sequence_runs_on_docker(tmp_path: Path) -> None:
    """The step engine runs on the drill's backends: a committed sequence with the chapter 13.4
    procedure passes on containers."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "sequences"
    text = (fixture / "restore-without-mbox.toml").read_text()
    procedure = next(line for line in text.splitlines() if line.startswith("procedure"))
    sequence = parse_sequence(
        tomllib.loads(text.replace(procedure, 'procedure = "chapter13"')),
        path="sequence",
        default_name="on-docker",
    )
    result = run_sequence(sequence, tmp_path, backend="docker", say=lambda line: None)
    assert result.passed, result.report.judgement.reasons
    assert result.report.record.backend == "docker"
    assert _labelled_containers() == []
