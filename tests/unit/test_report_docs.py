"""The scheduling examples in docs/ parse, and the commands they run exist: each firedrill
command line is parsed by firedrill's own argument parser ("dry mode": nothing runs) and each
make target is in the Makefile.

`firedrill report ...` joins firedrill's parser through harness.report.cli.add_report_commands;
until build_parser() calls it, the test adds the commands itself, so the report command lines
are parsed either way.
"""

from __future__ import annotations

import argparse
import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli.firedrill import build_parser
from harness.report import cli as report_cli

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
SERVICE = DOCS / "firedrill-drill.service"
TIMER = DOCS / "firedrill-drill.timer"
CRONTAB = DOCS / "crontab"
WORKFLOW = DOCS / "ci" / "nightly-drill.yml"
GUIDE = DOCS / "scheduling.md"


def firedrill_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "run" in sub.choices
    if "report" not in sub.choices:  # not wired into build_parser yet: add it as the lead will
        report_cli.add_report_commands(sub)
    assert "report" in sub.choices
    return parser


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def identify(argv: list[str]) -> str:
    """Parse one command (argv) without running it; return what it is, e.g. `firedrill run`."""
    program = Path(argv[0]).name
    if program == "firedrill":
        try:
            args = firedrill_parser().parse_args(argv[1:])
        except SystemExit as exc:
            pytest.fail(f"firedrill cannot parse {shlex.join(argv)} (exit {exc.code})")
        assert callable(args.func)
        sub = getattr(args, "report_command", None)
        return f"firedrill {args.command}" + (f" {sub}" if args.command == "report" else "")
    if program == "make":
        words, skip = [], False
        for word in argv[1:]:
            if skip:
                skip = False
            elif word in ("-C", "-f"):
                skip = True
            elif not word.startswith("-") and "=" not in word:
                words.append(word)
        missing = set(words) - make_targets()
        assert not missing, f"no make target {missing} for {shlex.join(argv)}"
        return "make " + " ".join(words)
    raise AssertionError(f"unexpected program {program!r} in {shlex.join(argv)}")


_REDIRECT = re.compile(r"\s*\d*(?:>>|>&|&>|>|<)\s*[^\s;&|]+")


def commands_of(line: str, *, also: tuple[str, ...] = ()) -> list[str]:
    """The firedrill/make commands of a shell line (`cd`, redirections, sudo and the programs
    `also` allows dropped; any other program fails)."""
    found = []
    for part in re.split(r"&&|\|\||;", _REDIRECT.sub("", line)):
        argv = shlex.split(part, comments=True)
        if argv[:1] == ["sudo"]:
            argv = argv[3:] if argv[1:2] == ["-u"] else argv[1:]
        if not argv or argv[0] == "cd" or argv[0] in also:
            continue
        found.append(identify(argv))
    return found


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


def exec_command(value: str) -> list[str]:
    argv = shlex.split(value)
    argv[0] = argv[0].lstrip("-@:+!")  # systemd's exec prefixes
    assert argv[0].startswith("/"), f"systemd needs an absolute path: {value}"
    return argv


# -- systemd ---------------------------------------------------------------------------------


def test_the_service_runs_the_catalogue_then_the_trend_check() -> None:
    service = unit(SERVICE)
    assert service["Unit"]["Description"]
    s = service["Service"]
    assert s["Type"] == "oneshot"
    run = exec_command(s["ExecStart"])
    assert identify(run) == "firedrill run"
    assert "--all" in run and "--report-dir" in run
    reports = run[run.index("--report-dir") + 1]
    trend = exec_command(s["ExecStopPost"])
    assert identify(trend) == "firedrill report trend"
    assert "--fail-on-regression" in trend and reports in trend
    assert reports.startswith(f"/var/lib/{s['StateDirectory']}/")
    assert s["WorkingDirectory"].startswith("/")
    assert Path(run[0]).parent.parent.parent == Path(s["WorkingDirectory"])


def test_the_timer_starts_the_service_nightly() -> None:
    timer = unit(TIMER)
    t = timer["Timer"]
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:\d\d", t["OnCalendar"])
    assert t["Unit"] == SERVICE.name
    assert t["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


# -- cron ------------------------------------------------------------------------------------

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))  # fmt: skip


def valid_cron_field(text: str, low: int, high: int) -> bool:
    for item in text.split(","):
        m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", item)
        if not m:
            return False
        numbers = [int(n) for n in m.groups()[1:3] if n is not None]
        if any(not low <= n <= high for n in numbers) or (m.group(4) and int(m.group(4)) < 1):
            return False
    return True


def cron_jobs(text: str) -> list[tuple[list[str], str]]:
    jobs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", line):  # SHELL=, MAILTO=, PATH=
            continue
        parts = line.split(None, 5)
        assert len(parts) == 6, f"not 5 time fields and a command: {line}"
        jobs.append((parts[:5], parts[5]))
    return jobs


def test_the_crontab_line() -> None:
    (job,) = cron_jobs(CRONTAB.read_text())
    fields, command = job
    for value, (name, low, high) in zip(fields, _FIELDS, strict=True):
        assert valid_cron_field(value, low, high), f"bad {name}: {value}"
    assert fields[2:] == ["*", "*", "*"]  # every night
    assert commands_of(command) == ["firedrill run", "firedrill report trend"]


def test_the_cron_field_check_itself() -> None:
    assert valid_cron_field("*/15", 0, 59) and valid_cron_field("1-5,7", 0, 7)
    assert not valid_cron_field("60", 0, 59) and not valid_cron_field("*/0", 0, 59)
    assert not valid_cron_field("mon", 0, 7)


# -- CI --------------------------------------------------------------------------------------


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def test_the_workflow_runs_nightly() -> None:
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 (PyYAML) reads the key `on` as true
    assert isinstance(triggers, dict)
    (schedule,) = triggers["schedule"]
    fields = schedule["cron"].split()
    assert len(fields) == 5
    for value, (name, low, high) in zip(fields, _FIELDS, strict=True):
        assert valid_cron_field(value, low, high), f"bad {name}: {value}"


def test_the_workflow_drills_checks_the_trend_and_publishes() -> None:
    (job,) = workflow()["jobs"].values()
    steps = job["steps"]
    commands = [c for s in steps for c in commands_of(s.get("run", ""), also=("apt-get",))]
    assert commands == ["make drill", "firedrill report trend"]
    trend = next(s for s in steps if "report trend" in s.get("run", ""))
    assert "--fail-on-regression" in trend["run"] and trend["if"] == "always()"
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    paths = upload["with"]["path"]
    assert "reports/*/junit.xml" in paths and "reports/*/report.html" in paths
    assert upload["if"] == "always()"


def _run_lines(text: str) -> list[str]:
    return [line for line in text.replace("\\\n", " ").splitlines() if line.strip()]


# -- the guide -------------------------------------------------------------------------------


def guide_commands() -> list[str]:
    text = GUIDE.read_text()
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        lines += _run_lines(block)
    lines += re.findall(r"`((?:firedrill|make) [^`\[]+)`", text)
    found = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if words[:1] == ["sudo"]:
            words = words[3:] if words[1:2] == ["-u"] else words[1:]
        if words and Path(words[0]).name in ("firedrill", "make"):
            found += commands_of(shlex.join(words))
    return found


def test_the_guides_commands_exist() -> None:
    found = guide_commands()
    for expected in (
        "firedrill run",
        "firedrill report show",
        "firedrill report trend",
        "firedrill report render",
        "make drill",
    ):
        assert expected in found
    assert len(found) >= 10


def test_the_guide_links_every_example() -> None:
    text = GUIDE.read_text()
    for path in (SERVICE, TIMER, CRONTAB, WORKFLOW):
        assert f"]({path.relative_to(DOCS).as_posix()})" in text


def test_the_command_splitter_itself() -> None:
    line = "cd /x && .venv/bin/firedrill list >>/tmp/log 2>&1; make test || make lint"
    assert commands_of(line) == ["firedrill list", "make test", "make lint"]
    assert commands_of("sudo -u firedrill make -C /opt/firedrill drill") == ["make drill"]
    with pytest.raises(AssertionError, match="unexpected program 'rm'"):
        commands_of("rm -rf reports")
    with pytest.raises(pytest.fail.Exception, match="cannot parse"):
        commands_of("firedrill run --no-such-option")
    with pytest.raises(AssertionError, match="no make target"):
        commands_of("make no-such-target")
