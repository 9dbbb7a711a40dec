"""`firedrill report show`: one drill in the terminal, rendered with rich."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rich.console import Console

from harness.checker.findings import OrphanMessageFile
from harness.drill.report import DrillReport
from harness.report.show import render_show
from tests.support.reports import SAMPLES, changed, sample, stopped


def show(report: DrillReport, width: int = 140, report_dir: Path | None = None) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False)
    render_show(report, console, report_dir=report_dir)
    return console.export_text()


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("width", [60, 80, 140])
def test_every_sample_renders(name: str, width: int) -> None:
    report = sample(name)
    assert report.judgement.verdict.value.upper() in show(report, width)


def test_a_failing_drill() -> None:
    report = sample("fail-live-copy")
    text = show(report)
    violations = report.judgement.violations
    assert "FAIL" in text and "default" in text
    assert f"{len(violations)} violations: message-file-missing ×{len(violations)}" in text
    assert "RTO" in text and "≤ 60 s" in text
    assert "Checks that need a look" in text and "invariant 1" in text
    assert "Findings by kind" in text
    assert "message-file-missing" in text and "acknowledged-message-lost" in text
    operations = len({x.op for x in report.judgement.lost})
    losses = len(report.judgement.lost)
    per = f"; {losses} losses, per recipient" if losses != operations else ""
    assert f"Lost acknowledged operations: {operations} ({operations} allowed{per})" in text
    assert report.record.paths.history in text


def test_a_passing_drill() -> None:
    text = show(sample("pass-restart"))
    assert "PASS" in text and "crash-mss-mta" in text
    assert "All 14 checks passed." in text
    assert "No findings." in text
    assert "Lost acknowledged operations: 0" in text


def test_an_unknown_drill_shows_the_error() -> None:
    text = show(stopped(sample("pass-restart"), "interrupted (Ctrl-C)"))
    assert "UNKNOWN" in text and "error: interrupted (Ctrl-C)" in text


def test_a_partial_record_says_so() -> None:
    text = show(changed(sample("pass-restart"), complete=False, verify=None, spool=None))
    assert "UNKNOWN" in text and "partial record" in text


def test_markup_in_the_report_is_not_interpreted() -> None:
    report = sample("fail-live-copy")
    scenario = dataclasses.replace(
        report.record.scenario, description="[bold red]not markup[/bold red] [link=x]"
    )
    verify = report.record.verify
    assert verify is not None
    hostile = OrphanMessageFile("msgfiles/[/]/[red]x", "[bold]detail[/bold]")
    check = dataclasses.replace(verify.check, findings=(*verify.check.findings, hostile))
    text = show(changed(report, scenario=scenario, verify=dataclasses.replace(verify, check=check)))
    assert "[bold red]not markup[/bold red] [link=x]" in text
    assert "msgfiles/[/]/[red]x" in text


def test_the_files_beside_the_report(tmp_path: Path) -> None:
    for name in ("report.json", "report.html", "junit.xml"):
        (tmp_path / name).write_text("x")
    text = show(sample("pass-restart"), report_dir=tmp_path, width=200)
    for name in ("report.json", "report.html", "junit.xml"):
        assert str(tmp_path / name) in text
