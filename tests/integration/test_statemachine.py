"""Stateful property-based drills (tests/support/statemachine.py).

The correct chapter 13.4 procedure keeps the installation equal to the reference model under
any sequence the profile explores; a deliberately broken restore is found, shrunk to a few
steps, printed as a sequence scenario, and `firedrill run` of that file fails again (and
passes with the correct procedure: the broken restore, not the sequence, is the cause).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from fixtures.populate import populate
from fixtures.tiers import tier
from harness.drill.report import SequenceReport, load_any
from harness.layout import Layout
from harness.scenarios.sequence import load_sequence
from tests.support.cli import firedrill
from tests.support.statemachine import PROFILES, DrillMachine

pytestmark = pytest.mark.integration
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "quick")
REPO = Path(__file__).resolve().parents[2]
BROKEN = "tests.support.statemachine:RestoreWithoutMbox"
SEED = 1


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    root = tmp_path_factory.mktemp("sm") / "intermail"
    populate(root, tier("XS"), SEED, progress=False)
    yield Layout(root)


def machine(template: Layout, procedure: str, out_dir: Path) -> type[DrillMachine]:
    return type(
        "Machine",
        (DrillMachine,),
        {"template": template, "procedure": procedure, "seed": SEED, "out_dir": out_dir},
    )


def test_the_profile_is_known() -> None:
    assert PROFILE in PROFILES, f"HYPOTHESIS_PROFILE={PROFILE}: choose one of {PROFILES}"


def test_chapter13_keeps_every_invariant_at_every_step(template: Layout, tmp_path: Path) -> None:
    run_state_machine_as_test(
        machine(template, "chapter13", tmp_path),
        settings=settings(settings.get_profile(PROFILE)),
    )
    assert not (tmp_path / "statemachine-failure.toml").exists()


def _run(path: Path, report_dir: Path) -> subprocess.CompletedProcess[str]:
    return firedrill("run", str(path), "--report-dir", str(report_dir), cwd=REPO, timeout=300)


def test_the_sequence_of_a_broken_restore_fails_and_the_correct_one_passes(
    tmp_path: Path,
) -> None:
    """The printed-file path of the state machine: the broken restore's minimal sequence fails
    under `firedrill run`, and the same steps with chapter 13.4 pass."""
    failing = REPO / "tests/fixtures/sequences/restore-without-mbox.toml"
    again = _run(failing, tmp_path / "reports")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "FAIL: restore-without-mbox (3/3 step(s))" in again.stdout
    assert "checker-unexpected " in again.stdout and ": dangling-row:" in again.stdout
    (out,) = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    _, report = load_any(out)
    assert isinstance(report, SequenceReport) and report.judgement.verdict.value == "fail"
    assert (out / "junit.xml").is_file()
    correct = tmp_path / "correct.toml"
    correct.write_text(failing.read_text().replace(BROKEN, "chapter13"))
    fine = _run(correct, tmp_path / "reports")
    assert fine.returncode == 0, fine.stdout + fine.stderr


@pytest.mark.slow  # 1.5 to 6 minutes: the search and the shrinking restart servers each run
def test_a_broken_restore_is_found_shrunk_and_replayable(template: Layout, tmp_path: Path) -> None:
    hunt = settings(
        settings.get_profile("quick"),
        max_examples=20,
        stateful_step_count=4,
        phases=(Phase.generate, Phase.shrink),  # no explain phase: it reruns examples
    )
    with pytest.raises(AssertionError, match="differs from the model"):
        run_state_machine_as_test(machine(template, BROKEN, tmp_path), settings=hunt)
    printed = tmp_path / "statemachine-failure.toml"
    sequence = load_sequence(printed)
    actions = [s.action for s in sequence.steps]
    assert len(actions) <= 5, printed.read_text()
    assert actions[0] == "backup" and "restore" in actions, printed.read_text()
    again = _run(printed, tmp_path / "reports")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "FAIL: statemachine-failure" in again.stdout
    correct = tmp_path / "correct.toml"
    correct.write_text(printed.read_text().replace(BROKEN, "chapter13"))
    fine = _run(correct, tmp_path / "reports")
    assert fine.returncode == 0, fine.stdout + fine.stderr
