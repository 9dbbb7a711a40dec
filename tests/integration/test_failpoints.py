"""Crash-point exploration: the server is killed at every named failpoint of the delivery,
expunge, purge, checkpoint and spool paths; after a restart through the logs no acknowledged
operation is lost and no pointer dangles (leaks are allowed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.topology import relocate
from harness import control, failpoints
from harness.checker.findings import Severity
from harness.checker.run import run_check
from harness.environments.network import lease_network
from harness.history import HistoryWriter
from harness.layout import Layout
from harness.store.config import ConfigKey, load, save
from harness.topology import PROGRAMS
from harness.workload.runner import Mix, Workload, WorkloadSpec
from tests.support.live import wait_spool_empty

pytestmark = pytest.mark.integration

ARMED = [  # failpoint, the server that reaches it, which occurrence crashes it
    ("deliver.after-msgfile-write", "mss", 4),
    ("deliver.after-msgfile-rename", "mss", 4),
    ("deliver.between-msgid-and-mbox-commit", "mss", 4),
    ("deliver.after-mbox-commit", "mss", 4),
    ("expunge.between-mbox-and-msgid-commit", "mss", 2),
    ("purge.after-record-delete", "mss", 1),
    ("checkpoint.mid", "mss", 5),
    ("checkpoint.before-log-removal", "mss", 5),
    ("spool.after-fsync", "mta", 4),
    ("spool.before-unlink", "mta", 4),
]


def test_the_table_covers_every_failpoint() -> None:
    assert sorted(name for name, _, _ in ARMED) == sorted(failpoints.NAMES)


@pytest.fixture
def fast_tree(tree_xs: Layout) -> Iterator[Layout]:
    with lease_network() as network:
        config = relocate(load(tree_xs.config), network)
        config.set(ConfigKey("*", "mss", "checkpointSeconds"), "0.5")
        config.set(ConfigKey("*", "mss", "purgeSeconds"), "0.5")
        save(config, tree_xs.config)
        try:
            yield tree_xs
        finally:
            try:
                control.stop(tree_xs)
            finally:
                control.kill(tree_xs)


@pytest.mark.parametrize(("name", "server", "nth"), ARMED, ids=[a[0] for a in ARMED])
def test_a_crash_at_the_failpoint_loses_nothing_acknowledged(
    name: str, server: str, nth: int, fast_tree: Layout, tmp_path: Path
) -> None:
    for program in PROGRAMS:
        armed = {"FIREDRILL_FAILPOINT": f"{name}:{nth}"} if program == server else None
        control.start(fast_tree, [program], env=armed)
    history = tmp_path / "history.jsonl"
    mix = Mix(deliver=0.6, read=0.05, flag=0.05, delete=0.3, provision=0, deprovision=0, config=0)
    with HistoryWriter(history) as ledger:
        workload = Workload(fast_tree, WorkloadSpec(seed=nth, rate=40, clients=4, mix=mix), ledger)
        workload.start()
        try:
            crashed = control.wait_gone(fast_tree, server, 30)
            ledger.event("fault", "failpoint", failpoint=name, server=server, crashed=crashed)
            time.sleep(0.5)
        finally:
            workload.stop()
    assert crashed, f"{server} never reached {name}"
    control.start(fast_tree)  # recovery: a restart through the logs, unarmed
    wait_spool_empty(fast_tree, timeout=60)
    report = run_check(fast_tree.root, history=history)
    assert report.errors == ()
    assert [str(f) for f in report.findings if f.severity is Severity.VIOLATION] == []
    assert report.stats.get("history_acknowledged", 0) > 0
