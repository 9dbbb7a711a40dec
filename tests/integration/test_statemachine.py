"""Stateful property-based drills (tests/support/statemachine.py).

The correct chapter 13.4 procedure keeps the installation equal to the reference model under
any sequence the profile explores; a deliberately broken restore is found, shrunk to a few
steps, printed as a sequence scenario, and `firedrill run` of that file fails again (and
passes with the correct procedure: the broken restore, not the sequence, is the cause).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from fixtures.populate import populate
from fixtures.tiers import tier
from harness.drill.sequence import load_sequence
from harness.layout import Layout
from tests.support.statemachine import PROFILES, DrillMachine

pytestmark = pytest.mark.integration
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "quick")
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


def test_a_broken_restore_is_found_shrunk_and_replayable(template: Layout, tmp_path: Path) -> None:
    broken = "tests.support.statemachine:RestoreWithoutMbox"
    hunt = settings(
        settings.get_profile("quick"),
        max_examples=30,
        stateful_step_count=5,
        phases=(Phase.generate, Phase.shrink),  # no explain phase: it reruns examples
    )
    with pytest.raises(AssertionError, match="differs from the model"):
        run_state_machine_as_test(machine(template, broken, tmp_path), settings=hunt)
    printed = tmp_path / "statemachine-failure.toml"
    sequence = load_sequence(printed)
    actions = [s.action for s in sequence.steps]
    assert len(actions) <= 5, printed.read_text()
    assert "backup" in actions and actions[-1] == "restore", printed.read_text()

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli.firedrill",
                "run",
                str(path),
                "--report-dir",
                str(tmp_path / "reports"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )

    again = run(printed)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "FAIL: statemachine-failure" in again.stdout
    correct = tmp_path / "correct.toml"
    correct.write_text(printed.read_text().replace(broken, "chapter13"))
    fine = run(correct)
    assert fine.returncode == 0, fine.stdout + fine.stderr
