"""Helpers for tests against running servers."""

from __future__ import annotations

from harness.accounts import LabLogin, lab_accounts
from harness.layout import Layout
from harness.store.spool import wait_drained
from harness.workload.clients import Endpoints
from harness.workload.runner import endpoints_of


def endpoints(layout: Layout) -> Endpoints:
    return endpoints_of(layout)


def active_logins(layout: Layout) -> list[LabLogin]:
    return [a for a in lab_accounts(layout.root) if a.status == "active"]


def wait_spool_empty(layout: Layout, timeout: float = 30.0) -> None:
    """Until mta/spool holds no queue file; WaitTimeout naming what is left after `timeout` s."""
    wait_drained(layout.spool, timeout, strict=True)
