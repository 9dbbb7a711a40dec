"""Crash: traffic runs while the MTA and the MSS are killed with SIGKILL at seeded moments and
restarted with imctrl; after the spool drains no acknowledged message is missing and no
pointer dangles."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from harness import control
from harness.checker.findings import Severity
from harness.checker.run import run_check
from harness.history import HistoryWriter
from harness.layout import Layout
from harness.workload.runner import Workload, WorkloadSpec
from tests.support.live import wait_spool_empty

pytestmark = pytest.mark.integration


def crash_rounds(layout: Layout, history: Path, *, seed: int, rounds: int) -> dict[str, int]:
    rng = random.Random(seed)
    with HistoryWriter(history) as ledger:
        workload = Workload(layout, WorkloadSpec(seed=seed, rate=30, clients=4), ledger)
        workload.start()
        try:
            for _ in range(rounds):
                time.sleep(rng.uniform(0.2, 1.2))
                victims = rng.choice((["mss"], ["mta"], ["mss", "mta"]))
                ledger.event("fault", "kill", servers=victims)
                control.kill(layout, victims)
                time.sleep(rng.uniform(0.0, 0.4))
                control.start(layout)
                ledger.event("fault", "restarted", servers=victims)
            time.sleep(0.5)
        finally:
            workload.stop()
    wait_spool_empty(layout, timeout=60)
    report = run_check(layout.root, history=history)
    assert report.errors == ()
    violations = [str(f) for f in report.findings if f.severity is Severity.VIOLATION]
    assert violations == []
    assert report.stats.get("history_acknowledged", 0) > 10, report.stats
    return dict(workload.stats)


@pytest.mark.parametrize("seed", [31, 32])
def test_killing_mta_and_mss_under_traffic_loses_no_acknowledged_message(
    seed: int, live_xs: Layout, tmp_path: Path
) -> None:
    stats = crash_rounds(live_xs, tmp_path / "history.jsonl", seed=seed, rounds=3)
    assert stats.get("deliver:ok", 0) > 0


@pytest.mark.slow
def test_fifty_crash_rounds_lose_no_acknowledged_message(live_xs: Layout, tmp_path: Path) -> None:
    crash_rounds(live_xs, tmp_path / "history.jsonl", seed=41, rounds=50)
