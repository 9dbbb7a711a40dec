"""Network leases: parallel drills in one or several processes never share a loopback /24."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.environments import network as net
from harness.errors import FiredrillError
from harness.topology import SERVERS


@pytest.fixture(autouse=True)
def private_leases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(tmp_path))


def test_leases_held_at_once_are_distinct_and_released_after() -> None:
    with net.lease_network() as a, net.lease_network() as b:
        assert a != b and a.startswith("127.0.") and b.startswith("127.0.")
    assert not net._held


def test_a_network_leased_by_another_process_is_not_given_out(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            "for n in range(100, 250):\n"
            f"    fd = os.open('{tmp_path}/127.0.' + str(n) + '.lock', os.O_RDWR | os.O_CREAT)\n"
            "    if n != 142: fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with net.lease_network() as only:
            assert only == "127.0.142"
            with (
                pytest.raises(FiredrillError, match="no free loopback network"),
                net.lease_network(),
            ):
                pass
    finally:
        holder.kill()
        holder.wait()
    with net.lease_network():  # the dead holder's leases went with it
        pass


def test_a_network_someone_listens_on_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(net, "_unused", lambda n: n == 200)
    with net.lease_network() as network:
        assert network == "127.0.200"


def test_connections_in_time_wait_do_not_make_a_network_look_used() -> None:
    """An earlier drill's closed connections linger in TIME_WAIT on its servers' addresses;
    servers bind with SO_REUSEADDR, so the network is free again. A listener is not."""
    server = SERVERS[0]
    where = (f"127.0.99.{server.host_number}", server.port)  # outside the leased range
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(where)
        listener.listen()
        assert not net._unused(99)  # someone listens
        client = socket.create_connection(where)
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        client.close()
    assert net._unused(99)
