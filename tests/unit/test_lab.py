"""The lab both engines share: a report directory of its own for every run, even for runs of
the same scenario started in the same second, in threads or processes."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.drill.lab import new_report_dir


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda _: new_report_dir(tmp_path, "default"), range(24)))
    assert len(set(made)) == 24 and all(p.is_dir() for p in made)
    names = sorted(p.name for p in made)
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-default(-\d+)?", n) for n in names), names


def test_an_existing_directory_is_never_reused(tmp_path: Path) -> None:
    first = new_report_dir(tmp_path, "x")
    (first / "report.json").write_text("{}")
    second = new_report_dir(tmp_path, "x")
    assert second != first and (first / "report.json").read_text() == "{}"
