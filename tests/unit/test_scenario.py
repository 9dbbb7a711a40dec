"""Scenario files are validated completely before anything starts; errors name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InvalidScenario
from harness.scenarios.catalogue import catalogue
from harness.scenarios.scenario import load_scenario, parse_scenario
from tests.support.cli import firedrill


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", catalogue(), ids=lambda p: p.stem)
def test_every_catalogue_scenario_is_valid(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem and scenario.description


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("[traffic]\nrate = 20\nbefore_backup = = 3\n", "line 3", "syntax"),
        ('[population]\ntier = "XS"\nseeed = 4\n', "population.seeed", "unknown field"),
        ('colour = "red"\n', "colour", "unknown field"),
        ('[traffic]\nrate = "fast"\n', "traffic.rate", "must be a number"),
        ("[traffic]\nclients = 2.5\n", "traffic.clients", "must be an integer"),
        ('[backup]\nmss_down = "yes"\n', "backup.mss_down", "true or false"),
        ('[disaster]\nkind = "meteor"\n', "disaster.kind", "must be one of"),
        (
            '[disaster]\nkind = "server-crash"\nservers = ["mss", "ftpd"]\n',
            "disaster.servers[1]",
            "must be one of",
        ),
        ("[traffic]\nafter_backup = -1\n", "traffic.after_backup", "at least 0"),
        (
            '[disaster]\nkind = "lose-tree"\nduring_backup = true\n',
            "disaster.during_backup",
            "only crashes",
        ),
        (
            '[backup]\ntimeout = 5\n[disaster]\nkind = "machine-crash"\nduring_backup = true\n'
            'delay = 9\n[expect]\nloss = "none"\n',
            "disaster.delay",
            "after the backup timeout",
        ),
        (
            '[disaster]\nkind = "machine-crash"\n[expect]\nloss = "after-backup"\n',
            "expect.loss",
            "must lose nothing",
        ),
        (
            '[disaster]\nkind = "lose-tree"\n[expect]\nloss = "none"\n',
            "expect.loss",
            "acknowledged after the backup",
        ),
        ('[backup]\nprocedure = "custom"\n', "backup", "needs backup_cmd"),
        (
            '[disaster]\nkind = "lose-store"\npath = "etc/passwd"\n',
            "disaster.path",
            "lose-store needs",
        ),
        ("[expect]\nrto_target = -3\n", "expect.rto_target", "more than 0"),
        # impossible timing and targets
        ("[traffic]\nbefore_backup = -0.5\n", "traffic.before_backup", "at least 0"),
        ("[traffic]\nrate = 0\nbefore_backup = 5\n", "traffic.rate", "at least 0.1"),
        ("[traffic]\nrate = -20\n", "traffic.rate", "at least 0.1"),
        ("[traffic]\nclients = 0\n", "traffic.clients", "at least 1"),
        ("[traffic.mix]\ndeliver = 0\nread = 0\n", "traffic.mix", "one weight must be positive"),
        ("[traffic.mix]\ndeliver = -1\n", "traffic.mix.deliver", "at least 0"),
        ("[backup]\ntimeout = 0\n", "backup.timeout", "at least 1"),
        ("[backup]\ntimeout = -30\n", "backup.timeout", "at least 1"),
        (
            '[disaster]\nkind = "machine-crash"\nduring_backup = true\ndelay = -1\n'
            '[expect]\nloss = "none"\n',
            "disaster.delay",
            "at least 0",
        ),
        (
            '[backup]\ntimeout = 5\n[disaster]\nkind = "machine-crash"\nduring_backup = true\n'
            'delay = 5\n[expect]\nloss = "none"\n',
            "disaster.delay",
            "after the backup timeout",
        ),
        (
            '[disaster]\nkind = "machine-crash"\ndelay = 0.5\n[expect]\nloss = "none"\n',
            "disaster.delay",
            "only applies with disaster.during_backup = true",
        ),
        (
            '[disaster]\nkind = "machine-crash"\nduring_backup = false\ndelay = 0.5\n'
            '[expect]\nloss = "none"\n',
            "disaster.delay",
            "only applies with disaster.during_backup = true",
        ),
        (
            '[traffic]\nafter_backup = 0\n[disaster]\nkind = "lose-tree"\n'
            '[expect]\nloss = "none"\n',
            "expect.loss",
            "acknowledged after the backup",
        ),
        (
            'recovery = "restore"\n[traffic]\nafter_backup = 0\n[disaster]\n'
            'kind = "machine-crash"\n[expect]\nloss = "none"\n',
            "expect.loss",
            "acknowledged after the backup",
        ),
        ("[expect]\nrto_target = 0\n", "expect.rto_target", "more than 0"),
        ("[expect]\nrpo_target_seconds = 0\n", "expect.rpo_target_seconds", "more than 0"),
        ("[expect]\nrpo_target_seconds = -60\n", "expect.rpo_target_seconds", "more than 0"),
        ("[expect]\nrpo_target_messages = 0\n", "expect.rpo_target_messages", "more than 0"),
        ("[expect]\nrpo_target_messages = -2\n", "expect.rpo_target_messages", "more than 0"),
        ('[expect]\nrto_target = "soon"\n', "expect.rto_target", "must be a number"),
        # never outside the installation, never a value the drill cannot use
        (
            '[disaster]\nkind = "scramble-page"\npath = "../../../../tmp/victim.bin"\n',
            "disaster.path",
            "scramble-page needs one of db/mbox/mailboxes.db",
        ),
        ('[disaster]\nkind = "scramble-page"\npath = "/etc/passwd"\n', "disaster.path", "needs"),
        (
            '[disaster]\nkind = "overwrite-config-key"\npath = "not a key"\n',
            "disaster.path",
            "needs a config.db key",
        ),
        ('recovery = "restart"\n[disaster]\nkind = "lose-tree"\n', "recovery", "cannot recover"),
        ('[disaster]\nkind = "lose-tree"\ncount = 3\n', "disaster.count", "does not use it"),
        (
            '[disaster]\nkind = "machine-crash"\nservers = ["mss"]\n[expect]\nloss = "none"\n',
            "disaster.servers",
            "does not use it",
        ),
        ("[traffic]\nrate = nan\n", "traffic.rate", "must be a finite number"),
        ("[traffic]\nrate = inf\n", "traffic.rate", "must be a finite number"),
        ("[traffic]\nrate = 1e308\n", "traffic.rate", "at most"),
        ("[traffic]\nclients = 1000000000\n", "traffic.clients", "at most"),
        ("[traffic]\nbefore_backup = inf\n", "traffic.before_backup", "finite"),
        ("[backup]\ntimeout = nan\n", "backup.timeout", "finite"),
        ("[expect]\nrto_target = nan\n", "expect.rto_target", "finite"),
        ("[traffic.mix]\ndeliver = nan\n", "traffic.mix.deliver", "finite"),
        (
            '[backup]\nprocedure = "custom"\nbackup_cmd = "\'unterminated"\nrestore_cmd = "true"\n',
            "backup.backup_cmd",
            "cannot be parsed",
        ),
        (
            '[backup]\nprocedure = "custom"\nbackup_cmd = "/no/b.sh"\nrestore_cmd = "true"\n',
            "backup.backup_cmd",
            "no such executable",
        ),
        (
            '[backup]\nprocedure = "custom"\nbackup_cmd = "true"\nrestore_cmd = " "\n',
            "backup.restore_cmd",
            "is empty",
        ),
    ],
)
def test_a_malformed_scenario_names_the_field_and_the_problem(
    text: str, where: str, words: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidScenario) as caught:
        load_scenario(path)
    assert caught.value.where == where
    assert words in caught.value.reason
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        '[disaster]\nkind = "machine-crash"\n[expect]\nloss = "none"\n',
        '[traffic]\nafter_backup = 0\n[disaster]\nkind = "server-crash"\nservers = ["mss"]\n'
        '[expect]\nloss = "none"\nrpo_target_messages = 1\n',
        '[backup]\ntimeout = 5\n[disaster]\nkind = "machine-crash"\nduring_backup = true\n'
        'delay = 4.9\n[expect]\nloss = "none"\n',
        '[disaster]\nkind = "lose-tree"\n[expect]\nloss = "after-backup"\nrto_target = 0.5\n'
        "rpo_target_seconds = 0.1\nrpo_target_messages = 1\n",
    ],
    ids=["restart-loses-nothing", "restart-no-traffic-after", "delay-in-backup", "small-targets"],
)
def test_a_coherent_scenario_near_the_limits_is_accepted(text: str, tmp_path: Path) -> None:
    load_scenario(_write(tmp_path, text))


def test_a_recorded_scenario_with_the_default_delay_still_parses_for_replay() -> None:
    """A report records every field, delay included, even without during_backup: replay
    parses that record, so only a file as written is refused for setting delay in vain."""
    record = {"disaster": {"kind": "lose-tree", "during_backup": False, "delay": 0.2}}
    scenario = parse_scenario(record, path="report x", default_name="x")
    assert scenario.disaster.delay == 0.2 and not scenario.disaster.during_backup


def test_firedrill_run_with_a_bad_scenario_exits_2_with_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[traffic]\nrate = "fast"\n')
    done = firedrill("run", str(path), "--report-dir", str(tmp_path / "r"), timeout=60)
    assert done.returncode == 2
    assert "traffic.rate" in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()  # nothing started


def test_an_unknown_scenario_name_lists_the_catalogue(tmp_path: Path) -> None:
    done = firedrill("run", "no-such", "--report-dir", str(tmp_path), timeout=60)
    assert done.returncode == 2 and "default" in done.stderr
