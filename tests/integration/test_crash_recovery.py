"""Crash recovery is real: kill -9 in the middle of writing, reopen through the logs, and the
checker finds no violation (leaks allowed) and no acknowledged delivery missing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.checker.findings import Severity
from harness.checker.run import run_check
from harness.layout import Layout
from harness.store.messagestore import MessageStore
from harness.store.recovery import recover_installation

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _kill_after(
    cmd: list[str],
    delay: float,
    stdout: int | None = None,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(cmd, proc.returncode, out or b"", b"")


def _violations(root: Path) -> list[str]:
    report = run_check(root)
    assert report.errors == [], report.errors
    return [str(f) for f in report.findings if f.severity is Severity.VIOLATION]


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_population_killed_at_a_seeded_moment_recovers_without_violation(
    seed: int, tmp_path: Path
) -> None:
    root = tmp_path / "intermail"
    delay = random.Random(seed).uniform(0.3, 1.6)
    done = _kill_after(
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
        delay,
    )
    assert done.returncode == -signal.SIGKILL, "population finished before the kill: raise S?"
    recover_installation(Layout(root))
    assert _violations(root) == []


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_delivery_stream_killed_at_a_seeded_moment_keeps_every_acknowledged_message(
    seed: int, tree_xs: Layout
) -> None:
    delay = random.Random(seed).uniform(0.5, 2.0)
    done = _kill_after(
        [sys.executable, "-m", "tests.support.deliver_stream", str(tree_xs.root), str(seed)],
        delay,
        stdout=subprocess.PIPE,
    )
    assert done.returncode == -signal.SIGKILL
    lines = done.stdout.decode().split("\n")[:-1]  # a partial last line was never acknowledged
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
    assert len([ln for ln in lines if ln.startswith("ack")]) > 5, "too few deliveries to judge"
    recover_installation(tree_xs)
    assert _violations(tree_xs.root) == []
    with MessageStore(tree_xs) as store:
        present = {str(r.key): r.msgid for r in store.rows()}
    lost = {k: m for k, m in expected.items() if present.get(k) != m and k not in maybe_gone}
    assert lost == {}
