"""`firedrill cleanup` removes only drill sandboxes no live run holds (stopping the servers a
killed drill left running), and only the containers of those; never anything else.

Each test gets a private temporary directory (tempfile.tempdir), so cleanup never sees the
sandboxes of drills other processes of this machine are running.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fixtures.topology import relocate
from harness import control
from harness.drill.lab import sandbox
from harness.environments import network as net
from harness.environments.cleanup import cleanup
from harness.layout import Layout
from harness.sandbox import DRILL_LOCK, KEPT, init_tree
from harness.store.config import load, save
from harness.topology import PROGRAMS
from tests.support.docker_engine import require_docker
from tests.support.other_user import Channel, as_other_user, require_root, shared_directory

pytestmark = pytest.mark.integration


def _private_tmp(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make `path` the temporary directory of this test (network leases stay machine-wide)."""
    monkeypatch.setenv("FIREDRILL_LEASE_DIR", str(net._lease_path()))
    path.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _private_tmp(tmp_path / "tmp", monkeypatch)


def _sandbox(prefix: str) -> Path:
    """A drill's work directory in the temporary directory, with a marked installation tree."""
    work = Path(tempfile.mkdtemp(prefix=f"firedrill-{prefix}-"))
    init_tree(work / "intermail")
    return work


@pytest.fixture
def live_run(private_tmp: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A sandbox whose DRILL_LOCK a live process holds (a drill populating: no server runs)."""
    work = _sandbox("populating")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True); sys.stdin.read()",
            str(work / DRILL_LOCK),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield work, holder
    finally:
        holder.kill()
        holder.wait()


def test_cleanup_removes_a_dead_drill_sandbox_and_nothing_else(
    live_xs: Layout, private_tmp: Path, tmp_path: Path
) -> None:
    dead = _sandbox("dead")
    unmarked = Path(tempfile.mkdtemp(prefix="firedrill-notmine-"))
    (unmarked / "intermail").mkdir()
    (unmarked / "intermail" / "data").write_text("keep me")
    loose = Path(tempfile.mkdtemp(prefix="firedrill-loose-"))
    elsewhere = tmp_path / "elsewhere"  # a dead sandbox, but reached only through a symlink
    init_tree(elsewhere / "intermail")
    (private_tmp / "firedrill-link-1").symlink_to(elsewhere)
    (private_tmp / "firedrill-tree-1").mkdir()
    (private_tmp / "firedrill-tree-1" / "intermail").symlink_to(elsewhere / "intermail")

    assert cleanup(docker=False) == [f"sandbox {dead}"] and not dead.exists()
    assert (unmarked / "intermail" / "data").read_text() == "keep me"
    assert loose.exists() and (elsewhere / "intermail").is_dir()
    assert (private_tmp / "firedrill-link-1").is_symlink()
    assert control.running_pid(live_xs, "mss")  # a live installation is left alone


def test_a_sandbox_a_live_run_holds_is_kept_though_no_server_runs(
    live_run: tuple[Path, subprocess.Popen[str]],
) -> None:
    """A drill populating its installation, or taking an `image` backup, runs no server: its
    lock, not its servers, says it is alive. Once its process is gone, it is a leftover."""
    work, holder = live_run
    assert cleanup(docker=False) == []
    assert (work / "intermail").is_dir()
    holder.kill()
    holder.wait()
    assert cleanup(docker=False) == [f"sandbox {work}"] and not work.exists()


def test_a_drills_own_sandbox_is_spared_while_the_drill_runs(private_tmp: Path) -> None:
    """The lock harness.drill.lab takes is the one cleanup asks about (same file); a tree the
    operator kept (`--keep`) is left after the run too, until its mark is removed."""
    with sandbox("running", keep=True) as box:
        init_tree(box.layout.root)
        assert cleanup(docker=False) == [] and box.layout.root.is_dir()
    assert cleanup(docker=False) == [] and (box.work / KEPT).is_file()
    (box.work / KEPT).unlink()
    assert cleanup(docker=False) == [f"sandbox {box.work}"]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_stale_sandbox_with_running_servers_has_them_stopped_and_is_removed(
    golden_xs: Layout, private_tmp: Path
) -> None:
    """A drill killed with kill -9 leaves its servers running and its lock free: cleanup
    stops them and removes the sandbox (it used to report 0 leftovers forever). A sandbox from
    before the lock, servers running, is still a live drill's."""
    work = Path(tempfile.mkdtemp(prefix="firedrill-killed-"))
    tree = Layout(work / "intermail")
    shutil.copytree(golden_xs.root, tree.root, symlinks=True)
    with net.lease_network() as network:
        save(relocate(load(tree.config), network), tree.config)
        control.start(tree)
        try:
            pids = [control.running_pid(tree, p) for p in PROGRAMS]
            assert cleanup(docker=False) == []  # no lock file: servers running say it lives
            assert [control.running_pid(tree, p) for p in PROGRAMS] == pids
            (work / DRILL_LOCK).touch()  # the killed drill's lock, which nobody holds now
            assert cleanup(docker=False) == [f"sandbox {work}"]
            assert not work.exists()
            assert all(pid and _gone(pid) for pid in pids)
        finally:
            if work.exists():
                control.kill(tree)


def test_an_ordinary_users_cleanup_passes_over_sandboxes_it_cannot_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Root's sandboxes are private (0700): another user's cleanup leaves them, in one piece
    and without a traceback."""
    require_root()

    def user_cleanup(channel: Channel) -> None:
        channel.say(repr(cleanup(docker=False)))

    with shared_directory(0o1777) as shared:
        _private_tmp(shared, monkeypatch)
        roots = _sandbox("roots")
        with as_other_user(user_cleanup) as user:
            assert user.hear() == "[]"
        assert (roots / "intermail").is_dir()


@pytest.mark.docker
def test_cleanup_removes_only_the_containers_of_stale_or_vanished_sandboxes(
    live_run: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    """Containers are judged by their installation root: a live drill's stay, so do those of
    trees that are not drill sandboxes; a stale sandbox's go, and those whose tree is gone."""
    require_docker()
    from harness.environments.containers import IMAGE, LABEL, ROOT_LABEL, docker_client

    live, _ = live_run
    stale = _sandbox("killed")
    (stale / DRILL_LOCK).touch()
    (tmp_path / "mine" / "intermail").mkdir(parents=True)
    roots = {
        "live": live / "intermail",
        "stale": stale / "intermail",
        "gone": Path(tempfile.gettempdir()) / "firedrill-gone-x" / "intermail",
        "mine": tmp_path / "mine" / "intermail",
    }
    client, run = docker_client(), uuid.uuid4().hex[:12]
    for what, root in roots.items():
        client.containers.create(
            IMAGE,
            "--help",
            name=f"firedrill-{run}-{what}",
            labels={LABEL: run, ROOT_LABEL: str(root)},
        )
    try:
        removed = cleanup(docker=True)
        left = client.containers.list(all=True, filters={"label": f"{LABEL}={run}"})
        assert sorted(c.name for c in left) == [f"firedrill-{run}-live", f"firedrill-{run}-mine"]
        for what in ("stale", "gone"):
            assert f"container firedrill-{run}-{what}" in removed
        assert f"sandbox {stale}" in removed and live.exists() and not stale.exists()
    finally:
        for found in client.containers.list(all=True, filters={"label": f"{LABEL}={run}"}):
            found.remove(force=True)
