"""The lab a drill (or a sequence) runs in, shared by both engines: a report directory of its
own, a private sandbox on its own loopback network with a populated installation, and the
servers of the chosen backend. Each scope is a context manager that cleans up after pass,
fail, error and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fixtures.populate import PopulationSummary, populate
from fixtures.tiers import tier
from harness.accounts import lab_accounts
from harness.environments import backend_class
from harness.environments.backend import Backend
from harness.environments.network import lease_network
from harness.environments.probe import Credentials
from harness.errors import FiredrillError
from harness.layout import Layout
from harness.sandbox import DRILL_LOCK, KEPT

SAME_SECOND = 1000
"""Runs of the same scenario started in one second get `-2`, `-3`, ... suffixes up to this."""


def new_report_dir(root: Path, name: str) -> Path:
    """A new directory `root/<UTC timestamp>-<name>[-N]` for one run (never one that exists:
    runs started in the same second, in this process or another, get their own)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, SAME_SECOND):
        path = root / (f"{stamp}-{name}" if n == 1 else f"{stamp}-{name}-{n}")
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return path
    raise FiredrillError(f"{SAME_SECOND} runs of {name} started in one second under {root}")


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A private work directory (`work`) holding the installation (`layout`) and what the
    procedures write (backups), on its own loopback network (`network`, e.g. 127.0.142)."""

    work: Path
    layout: Layout
    network: str


@contextlib.contextmanager
def sandbox(name: str, *, keep: bool = False, logs_to: Path | None = None) -> Iterator[Sandbox]:
    """A sandbox for a run of `name`, removed afterwards unless `keep`; the servers' logs are
    copied to `logs_to` first. The network lease, and the sandbox's own lock (DRILL_LOCK: this
    run is alive), are held until the block ends."""
    work = Path(tempfile.mkdtemp(prefix=f"firedrill-{name}-"))
    layout = Layout(work / "intermail")
    alive = os.open(work / DRILL_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    fcntl.flock(alive, fcntl.LOCK_EX)  # held while the run lives: `firedrill cleanup` spares it
    try:
        with lease_network() as network:
            yield Sandbox(work, layout, network)
    finally:
        try:
            if logs_to is not None and layout.logs.is_dir():
                shutil.copytree(layout.logs, logs_to, dirs_exist_ok=True)
            if keep:
                (work / KEPT).touch()  # `firedrill cleanup` leaves what the operator kept
            else:
                shutil.rmtree(work, ignore_errors=True)
        finally:
            os.close(alive)  # only now: `firedrill cleanup` must not remove the logs being copied


def populated(box: Sandbox, tier_name: str, seed: int) -> PopulationSummary:
    """Populate the sandbox's installation (tier, seed) on its network."""
    return populate(box.layout.root, tier(tier_name), seed, network=box.network, progress=False)


def prober(layout: Layout) -> Credentials:
    """A lab account the probes log in with (an active one with a password)."""
    for account in lab_accounts(layout.root):
        if account.status == "active" and account.password:
            return Credentials(account.login, account.password)
    raise FiredrillError(f"no active lab account with a password in {layout.root}")


def passwords(layout: Layout) -> dict[str, str]:
    """Address (lower case) -> password of every lab account that has one, as the tree's
    record of them says now."""
    return {a.address.lower(): a.password for a in lab_accounts(layout.root) if a.password}


@contextlib.contextmanager
def servers(layout: Layout, backend: str) -> Iterator[Backend]:
    """The backend called `backend` for this installation; closed (every server down, none
    left paused, containers removed) when the block ends."""
    running: Backend = backend_class(backend)(layout)
    try:
        yield running
    finally:
        running.close()


def elapsed(since: float) -> float:
    """Seconds on the monotonic clock since `since`."""
    return time.monotonic() - since
