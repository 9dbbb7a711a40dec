"""`firedrill report show`: one drill in the terminal, rendered with rich."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.report.show import render_show

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reports"
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if (p / "report.json").is_file())


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "report.json").read_text())
    return data


def show(report: dict[str, Any], width: int = 140, report_dir: Path | None = None) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False)
    render_show(report, console, report_dir=report_dir)
    return console.export_text()


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("width", [60, 80, 140])
def test_every_sample_renders(name: str, width: int) -> None:
    text = show(load(name), width)
    assert load(name)["verdict"].upper() in text


def test_a_failing_drill() -> None:
    text = show(load("fail-live-copy"))
    assert "FAIL" in text and "default" in text
    assert "15 violations: message-file-missing ×15" in text
    assert "RTO" in text and "3.60 s" in text and "≤ 60 s" in text
    assert "Checks that need a look" in text and "invariant 1" in text
    assert "Findings by kind" in text
    assert "message-file-missing" in text and "acknowledged-message-lost" in text
    assert "Lost acknowledged operations: 45 (45 allowed)" in text
    assert load("fail-live-copy")["history"] in text


def test_a_passing_drill() -> None:
    text = show(load("pass-restart"))
    assert "PASS" in text and "crash-mss-mta" in text
    assert "All 13 checks passed." in text
    assert "No findings." in text
    assert "Lost acknowledged operations: 0" in text


def test_an_unknown_drill_shows_the_error() -> None:
    report = copy.deepcopy(load("pass-restart"))
    report.update(verdict="unknown", error="interrupted (Ctrl-C)")
    text = show(report)
    assert "UNKNOWN" in text and "error: interrupted (Ctrl-C)" in text


def test_markup_in_the_report_is_not_interpreted() -> None:
    report = copy.deepcopy(load("fail-live-copy"))
    report["scenario"]["description"] = "[bold red]not markup[/bold red] [link=x]"
    report["findings"][0]["remedy"] = "[/]"
    text = show(report)
    assert "[bold red]not markup[/bold red] [link=x]" in text


def test_the_files_beside_the_report(tmp_path: Path) -> None:
    for name in ("report.json", "report.html", "junit.xml"):
        (tmp_path / name).write_text("x")
    text = show(load("pass-restart"), report_dir=tmp_path, width=200)
    for name in ("report.json", "report.html", "junit.xml"):
        assert str(tmp_path / name) in text
