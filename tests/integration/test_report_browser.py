"""report.html in a real browser: headless Chromium loads the failing sample report, its DOM
holds the verdict, the checklist and the timeline's bars, the page logs no error, and a
screenshot is kept in reports/test-artifacts/ for a person to look at.

Needs Debian's `chromium` package (`apt-get install -y chromium`); skipped, and said so,
without it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from harness.drill.report import DrillReport, load_report
from harness.report.checks import checks
from harness.report.html import write_html

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "reports" / "fail-live-copy"
ARTIFACTS = ROOT / "reports" / "test-artifacts"
WIDTH, HEIGHT = 1280, 2000


def chromium() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=180, check=False, stdin=subprocess.DEVNULL
    )


def console_errors(stderr: str) -> list[str]:
    """Lines where the page itself reported an error (uncaught exception, console.error)."""
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or re.search(r"ERROR:CONSOLE|CONSOLE\(\d+\)\].*[Ee]rror", line)
    ]


@pytest.fixture(scope="module")
def report() -> DrillReport:
    return load_report(SAMPLE)[1]


@pytest.fixture(scope="module")
def page(report: DrillReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    write_html(report, path)
    return path


def test_the_dom_holds_the_verdict_and_the_timeline(
    report: DrillReport, page: Path, tmp_path: Path
) -> None:
    result = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    verdict = re.search(
        r'<header id="verdict" class="banner fail" data-verdict="fail">(.*?)</header>', dom, re.S
    )
    assert verdict is not None, dom[:2000]
    assert report.judgement.verdict.value == "fail" and ">FAIL<" in verdict.group(1)
    svg = re.search(r'<svg id="timeline".*?</svg>', dom, re.S)
    assert svg is not None
    phases = [span.phase for span in report.record.timeline]
    bars = re.findall(r'<rect class="phase" data-phase="([^"]+)"', svg.group(0))
    assert bars == phases
    assert re.search(r'<line id="disaster" class="disaster"', svg.group(0))
    shown = re.findall(r'<li class="check ([a-z]+)[^"]*" data-status="\1"', dom)
    assert sorted(shown) == sorted(c.status for c in checks(report)) and "failed" in shown
    assert console_errors(result.stderr) == []


def test_a_screenshot_without_console_errors(page: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-screenshot.png"
    shot.unlink(missing_ok=True)
    result = run_chromium(
        tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(data) > 50_000  # a rendered page, not a blank one
    assert console_errors(result.stderr) == []


def test_the_console_check_does_catch_a_page_error(tmp_path: Path) -> None:
    """The check above is not vacuous: a page that throws is noticed."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>undefinedFunction();</script>")
    result = run_chromium(tmp_path, "--dump-dom", bad.as_uri())
    assert console_errors(result.stderr), result.stderr[-2000:]
