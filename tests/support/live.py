"""Helpers for tests against running servers."""

from __future__ import annotations

import time

from harness.accounts import LabLogin, lab_accounts
from harness.layout import Layout
from harness.store.spool import Spool
from harness.workload.clients import Endpoints
from harness.workload.runner import endpoints_of


def endpoints(layout: Layout) -> Endpoints:
    return endpoints_of(layout)


def active_logins(layout: Layout) -> list[LabLogin]:
    return [a for a in lab_accounts(layout.root) if a.status == "active"]


def wait_spool_empty(layout: Layout, timeout: float = 30.0) -> None:
    spool = Spool(layout.spool)
    deadline = time.monotonic() + timeout
    while spool.paths():
        if time.monotonic() > deadline:
            raise AssertionError(f"spool not drained: {[p.name for p in spool.paths()]}")
        time.sleep(0.1)
