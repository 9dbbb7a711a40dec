"""`firedrill list` and `firedrill run` end to end, as an operator runs them: small XS drills with
short traffic, written into tmp_path, reports always under tmp_path."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness.drill.report import DrillReport, load_report
from harness.drill.selftest import selftest
from harness.errors import FiredrillError
from harness.scenarios.catalogue import catalogue
from tests.support.cli import firedrill

pytestmark = pytest.mark.integration

PROCEDURES = Path(__file__).resolve().parents[1] / "support" / "procedures"

QUICK = """description = "a quick XS drill for the CLI tests"
[population]
tier = "XS"
[traffic]
rate = 15
clients = 2
before_backup = 0.5
after_backup = 0.5
[disaster]
kind = "{kind}"
[expect]
loss = "after-backup"
"""


def _scenario(directory: Path, name: str, kind: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(QUICK.format(kind=kind))
    return path


def _reports(done: subprocess.CompletedProcess[str]) -> list[DrillReport]:
    """The reports whose paths `run` printed, each checked to exist."""
    paths = [Path(p) for p in re.findall(r"^  report: (.+)$", done.stdout, re.MULTILINE)]
    assert paths and all(p.is_file() for p in paths), done.stdout
    return [load_report(p)[1] for p in paths]


def test_list_prints_a_header_and_one_line_per_catalogue_scenario() -> None:
    done = firedrill("list")
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split() == ["SCENARIO", "CATEGORY", "PROCEDURE", "DISASTER", "DESCRIPTION"]
    names = [p.stem for p in catalogue()]
    assert len(lines) == len(names) >= 10
    assert [line.split()[0] for line in lines] == names


def test_run_of_a_passing_xs_scenario_exits_0_and_prints_its_report(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "quick-deletes-account", "delete-account")
    done = firedrill("run", str(scenario), "--quiet", "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.startswith("PASS: quick-deletes-account")
    (report,) = _reports(done)
    assert report.judgement.verdict.value == "pass"
    assert str(tmp_path / "r") in done.stdout


@pytest.mark.parametrize(
    ("backup", "restore", "code", "finding"),  # the damaged config.db stays: config-* findings
    [
        ("good-backup.sh", "good-restore.sh", 0, None),
        ("no-config-backup.sh", "no-config-restore.sh", 1, "config-"),
    ],
    ids=["good", "forgets-config"],
)
def test_run_with_custom_commands_passes_a_good_procedure_and_fails_a_flawed_one(
    backup: str, restore: str, code: int, finding: str | None, tmp_path: Path
) -> None:
    scenario = _scenario(tmp_path, "quick-damaged-config", "damage-config")
    done = firedrill(
        "run",
        str(scenario),
        "--quiet",
        "--backup-cmd",
        str(PROCEDURES / backup),
        "--restore-cmd",
        str(PROCEDURES / restore),
        "--report-dir",
        str(tmp_path / "r"),
    )
    assert done.returncode == code, (done.stdout, done.stderr)
    (report,) = _reports(done)
    assert report.record.procedure == "custom"
    violations = {c.finding.kind for c in report.judgement.violations}
    if finding is None:
        assert report.judgement.verdict.value == "pass" and violations == set()
    else:
        assert report.judgement.verdict.value == "fail", report.judgement.reasons
        assert any(kind.startswith(finding) for kind in violations), sorted(violations)


def test_run_all_runs_every_scenario_of_the_scenarios_directory_where_it_is_started(
    tmp_path: Path,
) -> None:
    _scenario(tmp_path / "scenarios", "only-one", "empty-mailbox")
    done = firedrill("run", "--all", "--quiet", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 0, (done.stdout, done.stderr)
    (report,) = _reports(done)
    assert report.judgement.verdict.value == "pass"
    assert [line.split()[1] for line in done.stdout.splitlines() if ": " in line[:8]] == [
        "only-one"
    ]


def test_run_all_validates_every_scenario_before_the_first_drill(tmp_path: Path) -> None:
    _scenario(tmp_path / "scenarios", "a-good-one", "empty-mailbox")
    (tmp_path / "scenarios" / "b-bad-one.toml").write_text('[traffic]\nrate = "fast"\n')
    done = firedrill("run", "--all", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 2
    assert "b-bad-one.toml" in done.stderr and "traffic.rate" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()  # no drill started


def test_run_of_a_name_with_all_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()  # were the name ignored, --all would run nothing here
    done = firedrill("run", "default", "--all", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'default'" in done.stderr
    assert "--all" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()  # no drill started


def test_an_enforced_rpo_message_target_fails_the_drill_naming_it(tmp_path: Path) -> None:
    """The issue's example: a copy of the default drill (at tier XS) with
    rpo_target_messages = 1 and fail_on_targets = true loses messages acknowledged after the
    backup: exit 1, the reason names the RPO target, and junit.xml fails that target's case."""
    text = (Path(__file__).resolve().parents[2] / "scenarios" / "default.toml").read_text()
    text = text.replace('tier = "S"', 'tier = "XS"').replace(
        "rpo_target_seconds = 900",
        "rpo_target_seconds = 900\nrpo_target_messages = 1\nfail_on_targets = true",
    )
    scenario = tmp_path / "rpo-one.toml"
    scenario.write_text(text)
    done = firedrill("run", str(scenario), "--quiet", "--report-dir", str(tmp_path / "r"))
    (report,) = _reports(done)
    lost = report.judgement.metrics.rpo_messages
    assert lost is not None and lost > 1, "the drill must lose more than the target allows"
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout.startswith("FAIL: rpo-one")
    assert f"  target missed: RPO (messages) {lost} messages > target 1 message" in done.stdout
    junit = (Path(report.record.paths.history).parent / "junit.xml").read_text()
    assert 'name="RPO (messages) within target"' in junit
    case = junit.split('name="RPO (messages) within target"', 1)[1].split("</testcase>", 1)[0]
    assert "<failure" in case


@pytest.mark.parametrize(
    "argv",
    [
        ["selftest", "--seeds", "0"],
        ["selftest", "--seeds", "-3"],
        ["selftest", "--jobs", "0"],
        ["run", "machine-crash", "--seed", "-1"],
    ],
    ids=["no-seed", "negative-seeds", "no-job", "negative-seed"],
)
def test_counts_and_seeds_out_of_range_are_refused_before_anything_runs(
    argv: list[str], tmp_path: Path
) -> None:
    """A selftest of no drill would score perfect: refused, like a negative seed."""
    done = firedrill(*argv, "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "must be" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()


def test_a_selftest_of_no_seed_is_refused_by_the_library_too(tmp_path: Path) -> None:
    with pytest.raises(FiredrillError, match="at least one seed"):
        selftest(seeds=0, report_dir=tmp_path)
