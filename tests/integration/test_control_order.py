"""`imctrl start allservers` starts the servers in the order of the chapter: directory and
configuration, then the store, then the MTA, then POP3 and IMAP, each tier listening before
the next one is spawned."""

from __future__ import annotations

import psutil
import pytest

from harness import control
from harness.layout import Layout

pytestmark = pytest.mark.integration


def test_restart_allservers_starts_tier_after_tier(live_xs: Layout) -> None:
    control.restart(live_xs)
    born = {}
    for server in control.status(live_xs):
        assert server.state == "running" and server.pid is not None, server
        born[server.name] = psutil.Process(server.pid).create_time()
    tiers = [max(born[p] for p in tier) for tier in control.START_TIERS]
    firsts = [min(born[p] for p in tier) for tier in control.START_TIERS]
    for n in range(1, len(tiers)):
        # Spawned only once the previous tier listened (Python start-up takes > 50 ms).
        assert firsts[n] > tiers[n - 1], (control.START_TIERS[n], born)
