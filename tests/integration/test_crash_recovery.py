"""Crash recovery is real: kill -9 in the middle of writing, reopen through the logs, and the
checker finds no violation (leaks allowed) and no acknowledged delivery missing."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures.populate import BATCH_MESSAGES
from fixtures.tiers import tier
from harness.checker.findings import Severity
from harness.checker.run import run_check
from harness.layout import Layout
from harness.store.messagestore import MessageStore
from harness.store.recovery import recover_installation
from harness.waiting import poll_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _files(directory: Path) -> int:
    """Files under `directory`, temporary ones included (0 while it does not exist)."""
    return sum(len(names) for _, _, names in os.walk(directory))


def _kill_when(
    cmd: list[str],
    moment: Callable[[subprocess.Popen[bytes]], bool],
    *,
    interval: float = 0.0,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[bytes]:
    """Run `cmd` and SIGKILL it as soon as `moment(proc)` says so (polled every `interval` s,
    or as fast as `moment` returns when it blocks on a read) or it exited by itself."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        poll_until(
            lambda: proc.poll() is not None or moment(proc),
            timeout,
            interval,
            f"the kill moment of {' '.join(cmd[2:4])}",
        )
    finally:
        proc.send_signal(signal.SIGKILL)  # a no-op once the process has been reaped
    out, _ = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(cmd, proc.returncode, out or b"", b"")


def _violations(root: Path) -> list[str]:
    report = run_check(root)
    assert report.errors == (), report.errors
    return [str(f) for f in report.findings if f.severity is Severity.VIOLATION]


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_population_killed_at_a_seeded_moment_recovers_without_violation(
    seed: int, tmp_path: Path
) -> None:
    """The kill lands after a seeded number of message files was written (staged, renamed or
    committed, whichever the batch is at), never before the first or after the last."""
    root = tmp_path / "intermail"
    total = tier("S").messages
    after = random.Random(seed).randrange(1, total - BATCH_MESSAGES)

    def written(_: subprocess.Popen[bytes]) -> bool:
        return _files(root / "msgfiles") >= after

    done = _kill_when(
        [
            sys.executable,
            "-m",
            "harness.cli.firedrill",
            "populate",
            "--root",
            str(root),
            "--tier",
            "S",
            "--seed",
            str(seed),
            "--quiet",
        ],
        written,
        interval=0.002,
    )
    assert done.returncode == -signal.SIGKILL, "population finished before the kill"
    assert after <= _files(root / "msgfiles") < total, "the kill did not land mid-population"
    recover_installation(Layout(root))
    assert _violations(root) == []


def test_population_makes_each_batch_of_files_durable_before_its_records_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bulk loading skips the fsync before rename, but a batch's records commit only after
    one syncfs made its files and their names durable (a record never outlives its file)."""
    from fixtures import populate as population
    from harness.store import bdb, messagestore
    from harness.store.fsync import syncfs as real_syncfs

    events: list[str] = []
    root = tmp_path / "intermail"
    real_transaction = bdb.Environment.transaction

    def syncfs(path: Path) -> None:
        events.append(f"syncfs {_files(root / 'msgfiles')}")
        real_syncfs(path)

    @contextlib.contextmanager
    def transaction(self: bdb.Environment) -> Iterator[bdb.Txn]:
        with real_transaction(self) as txn:
            yield txn
        events.append(f"commit {self.name}")

    monkeypatch.setattr(messagestore, "syncfs", syncfs)
    monkeypatch.setattr(bdb.Environment, "transaction", transaction)
    monkeypatch.setattr(population, "BATCH_MESSAGES", 64)
    population.populate(root, tier("XS"), 3, progress=False)
    delivery = [e for e in events if e.startswith(("syncfs", "commit msgid"))]
    assert delivery == [
        "syncfs 64",
        "commit msgid",
        "syncfs 128",
        "commit msgid",
        "syncfs 192",
        "commit msgid",
        "syncfs 200",
        "commit msgid",
    ]


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_delivery_stream_killed_at_a_seeded_moment_keeps_every_acknowledged_message(
    seed: int, tree_xs: Layout
) -> None:
    """The kill lands right after a seeded number of acknowledgements: inside the next
    delivery or expunge."""
    acks_wanted = random.Random(seed).randint(10, 60)
    seen: list[bytes] = []

    def acknowledged(proc: subprocess.Popen[bytes]) -> bool:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        seen.append(line)
        return sum(ln.startswith(b"ack ") for ln in seen) >= acks_wanted

    done = _kill_when(
        [sys.executable, "-m", "tests.support.deliver_stream", str(tree_xs.root), str(seed)],
        acknowledged,
    )
    assert done.returncode == -signal.SIGKILL
    lines = (b"".join(seen) + done.stdout).decode().split("\n")[:-1]  # a torn last line: no ack
    expected: dict[str, str] = {}
    maybe_gone: set[str] = set()
    for line in lines:
        word, *rest = line.split()
        if word == "ack":
            msgid, *keys = rest
            expected.update((k, msgid) for k in keys)
        elif word == "intent":
            maybe_gone = set(rest)
        elif word == "expunged":
            for key in rest:
                expected.pop(key, None)
            maybe_gone = set()
    assert len([ln for ln in lines if ln.startswith("ack")]) >= acks_wanted
    recover_installation(tree_xs)
    assert _violations(tree_xs.root) == []
    with MessageStore(tree_xs) as store:
        present = {str(r.key): r.msgid for r in store.rows()}
    lost = {k: m for k, m in expected.items() if present.get(k) != m and k not in maybe_gone}
    assert lost == {}
