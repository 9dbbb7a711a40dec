"""`firedrill report trend|show|render` (harness.report.cli) and write_outputs, the runner's
hook: junit.xml and report.html beside report.json, a line in the reports' drills.jsonl."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from junitparser import JUnitXml

from harness.drill.outputs import write_outputs
from harness.drill.report import DrillReport, save
from harness.errors import FiredrillError
from harness.report.cli import add_report_commands
from harness.report.trend import HISTORY_FILE, load_history
from tests.support.reports import raw, sample, sequence_sample, write
from tests.unit.test_report_trend import later

OLDER = Path(__file__).parents[1] / "fixtures" / "reports-v1"


def firedrill(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="firedrill")
    sub = parser.add_subparsers(dest="command", required=True)
    add_report_commands(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def drill_dir(root: Path, name: str, report: DrillReport | None = None) -> Path:
    return write(root / name, report or sample(name))


def test_write_outputs(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    directory = drill_dir(reports, "20261126T044151Z-default", sample("fail-live-copy"))
    write_outputs(directory, sample("fail-live-copy"))
    assert sorted(p.name for p in directory.iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
    ]
    suite = next(iter(JUnitXml.fromfile(str(directory / "junit.xml"))))
    assert suite.name == "default" and suite.failures == 1
    assert "FAIL" in (directory / "report.html").read_text()
    (entry,) = load_history(reports)
    assert entry.report == "20261126T044151Z-default/report.json"
    assert entry.verdict == "fail"
    assert (reports / HISTORY_FILE).is_file()


def test_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = drill_dir(tmp_path, "pass-restore")
    assert firedrill("report", "show", str(directory)) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "default" in out and "schema" not in out
    assert firedrill("report", "show", str(directory / "report.json")) == 0


def test_a_report_off_the_schema_is_refused_naming_the_field(tmp_path: Path) -> None:
    report = raw("pass-restore")
    report["record"]["seed"] = "one"
    (tmp_path / "report.json").write_text(json.dumps(report))
    with pytest.raises(FiredrillError) as raised:
        firedrill("report", "show", str(tmp_path))
    assert "report.record.seed" in str(raised.value) and raised.value.exit_code == 2


@pytest.mark.parametrize("content", [None, "{not json", '{"format": "other"}', "[1]"])
def test_show_bad_input(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "report.json").write_text(content)
    with pytest.raises(FiredrillError) as raised:
        firedrill("report", "show", str(tmp_path))
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)


@pytest.mark.parametrize("command", ["show", "render"])
def test_a_report_of_format_1_is_refused_in_one_line(command: str) -> None:
    with pytest.raises(FiredrillError) as raised:
        firedrill("report", command, str(OLDER / "pass-restore"))
    message = str(raised.value)
    assert raised.value.exit_code == 2 and "format 1" in message and "\n" not in message


def test_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = drill_dir(tmp_path, "pass-restart")
    assert firedrill("report", "render", str(directory)) == 0
    assert (directory / "junit.xml").is_file() and (directory / "report.html").is_file()
    assert not (tmp_path / HISTORY_FILE).exists()  # rendering again records no drill
    assert "wrote" in capsys.readouterr().out


def _history(root: Path, rtos: list[float]) -> None:
    for n, rto in enumerate(rtos):
        report = later(sample("pass-restore"), n, rto)
        write_outputs(drill_dir(root, f"{n:02d}-default", report), report)


def test_trend_without_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(tmp_path, [3.6, 3.7, 3.5, 3.6])
    assert firedrill("report", "trend", str(tmp_path), "--fail-on-regression") == 0
    out = capsys.readouterr().out
    assert "default" in out and "no regressions" in out
    assert (tmp_path / "trend.html").is_file()


def test_trend_with_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(tmp_path, [3.6, 3.7, 3.5, 9.0])
    assert firedrill("report", "trend", str(tmp_path)) == 0  # reported, not failed
    assert "1 regression(s)" in capsys.readouterr().out
    assert firedrill("report", "trend", str(tmp_path), "--fail-on-regression") == 1
    assert 'class="chart regressed"' in (tmp_path / "trend.html").read_text()
    assert firedrill("report", "trend", str(tmp_path), "--margin", "2", "--fail-on-regression") == 0
    assert (
        firedrill("report", "trend", str(tmp_path), "--min-delta", "10", "--fail-on-regression")
        == 0
    )
    assert firedrill("report", "trend", str(tmp_path), "--window", "1") == 0  # 1 previous: no
    assert 'class="chart regressed"' not in (tmp_path / "trend.html").read_text()


def test_trend_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FiredrillError):
        firedrill("report", "trend", str(tmp_path / "missing"))
    assert firedrill("report", "trend", str(tmp_path)) == 0
    assert "no drills recorded" in capsys.readouterr().out
    for bad in (["--window", "0"], ["--margin", "-1"]):
        with pytest.raises(SystemExit):
            firedrill("report", "trend", str(tmp_path), *bad)


def test_trend_default_directory_is_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _history(tmp_path / "reports", [3.6, 3.6, 3.6])
    assert firedrill("report", "trend") == 0
    assert (tmp_path / "reports" / "trend.html").is_file()


def test_the_commands_join_firedrills_parser() -> None:
    """What the lead wires: add_report_commands on build_parser's subcommands."""
    from harness.cli.firedrill import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "report" not in sub.choices:
        add_report_commands(sub)
    args = parser.parse_args(["report", "trend", "reports", "--window", "7"])
    assert args.window == 7 and args.margin == 0.2 and callable(args.func)
    args = parser.parse_args(["report", "show", "reports/x"])
    assert args.dir == Path("reports/x")
    with pytest.raises(SystemExit):
        parser.parse_args(["report"])


def _sequence_report(directory: Path) -> Path:
    directory.mkdir(parents=True)
    save(directory, sequence_sample())
    return directory


def test_show_and_render_a_sequence_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _sequence_report(tmp_path / "seq")
    assert firedrill("report", "show", str(directory)) == 0
    out = re.sub(r"[│\s]+", " ", capsys.readouterr().out)  # the lines as one, no borders
    assert "FAIL" in out and "restore-without-mbox" in out and "1 of 1 step(s) run" in out
    assert "inbox-differs user1@example.com" in out
    assert firedrill("report", "render", str(directory)) == 0
    suite = next(iter(JUnitXml.fromfile(str(directory / "junit.xml"))))
    assert [c.name for c in suite] == ["step 0: start", "step 1: restore()"]
    assert suite.failures == 1
