"""Network leases: parallel drills in one or several processes, of one or several users, never
share a loopback /24; nothing in the shared lease directory is trusted."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.environments import network as net
from harness.errors import FiredrillError
from harness.topology import SERVERS
from tests.support.other_user import Channel, as_other_user, require_root, shared_directory


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


def _plant_everywhere_but(directory: Path, keep: int, plant: Callable[[Path], None]) -> None:
    for network in range(net.FIRST, net.FIRST + net.COUNT):
        if network != keep:
            plant(directory / f"127.0.{network}.lock")


def test_a_symlinked_lock_file_is_never_followed_and_its_network_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone else's symlink in the shared directory must not make a drill truncate (or lock)
    the file it points to, root's files included."""
    leases, precious = tmp_path / "leases", tmp_path / "precious"
    leases.mkdir()
    precious.write_text("root's data\n")
    monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(leases))
    monkeypatch.setattr(net, "_unused", lambda n: True)
    _plant_everywhere_but(leases, 142, lambda lock: lock.symlink_to(precious))
    with net.lease_network() as network:
        assert network == "127.0.142"
        assert precious.read_text() == "root's data\n"
    assert precious.read_text() == "root's data\n"
    assert (leases / "127.0.100.lock").is_symlink()


def test_a_lock_file_that_is_not_a_plain_file_is_skipped_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(net, "_unused", lambda n: True)
    _plant_everywhere_but(tmp_path, 142, lambda lock: os.mkfifo(lock))
    with net.lease_network() as network:
        assert network == "127.0.142"


def test_a_lease_never_writes_its_lock_file(tmp_path: Path) -> None:
    """A lock file is only opened (read-only) and locked: one another user or an older
    firedrill made keeps its content."""
    for network in range(net.FIRST, net.FIRST + net.COUNT):
        (tmp_path / f"127.0.{network}.lock").write_text("4242\n")
    with net.lease_network():
        pass
    assert {p.read_text() for p in tmp_path.iterdir()} == {"4242\n"}


def test_a_lease_directory_that_is_a_symlink_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(tmp_path / "link"))
    with pytest.raises(FiredrillError, match="it is a symlink") as refused, net.lease_network():
        pass
    assert "\n" not in str(refused.value) and str(tmp_path / "link") in str(refused.value)
    assert list((tmp_path / "real").iterdir()) == []


def test_a_lease_directory_others_may_write_without_the_sticky_bit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "open").mkdir()
    (tmp_path / "open").chmod(0o777)
    monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(tmp_path / "open"))
    with pytest.raises(FiredrillError, match="without the sticky bit") as refused:
        net.lease_dir()
    assert "\n" not in str(refused.value)


def test_the_lease_directory_is_created_for_every_user_with_the_sticky_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(tmp_path / "new" / "leases"))
    with net.lease_network():
        pass
    mode = (tmp_path / "new" / "leases").stat().st_mode
    assert stat.S_IMODE(mode) == 0o1777


def _lease_or_why(channel: Channel) -> None:
    try:
        with net.lease_network() as network:
            channel.say(f"leased {network}")
    except FiredrillError as exc:
        channel.say(f"refused: {exc}")


def test_a_lease_directory_root_left_0755_is_refused_in_one_line_then_opened_by_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before leases were shared, root's first drill left the directory 0755: every other
    user's drill then failed with a PermissionError. It is now a one-line refusal saying what
    to do, and root's next drill opens the directory up (01777)."""
    require_root()
    with shared_directory() as shared:
        leases = shared / "leases"
        leases.mkdir(mode=0o755)
        monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(leases))
        with as_other_user(_lease_or_why) as user:
            said = user.hear()
        assert said.startswith("refused: cannot lease a network:") and "chmod 1777" in said
        net.lease_dir()
        assert stat.S_IMODE(leases.stat().st_mode) == 0o1777
        with as_other_user(_lease_or_why) as user:
            assert user.hear().startswith("leased 127.0.")


def test_drills_of_two_users_never_get_the_same_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ordinary user's lease and root's, in a directory root created: each user is kept off
    the network the other holds, through lock files the other one created (two networks only,
    so the third lease finds none)."""
    require_root()
    monkeypatch.setattr(net, "_unused", lambda n: n in (142, 143))

    def user_drill(channel: Channel) -> None:
        net._held.clear()  # forked from the test: this process holds no lease of its own
        with net.lease_network() as theirs:
            channel.say(theirs)
            assert channel.hear() == "lease again"
            _lease_or_why(channel)

    with shared_directory() as shared:
        monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(shared / "leases"))
        net.lease_dir()  # root creates it
        with as_other_user(user_drill) as user:
            theirs = user.hear()
            with net.lease_network() as mine:
                assert {mine, theirs} == {"127.0.142", "127.0.143"}, theirs
                with (
                    pytest.raises(FiredrillError, match="no free loopback network"),
                    net.lease_network(),
                ):
                    pass
                user.say("lease again")
                assert user.hear().startswith("refused: no free loopback network")
