"""Backend compliance: every implementation (noop, local, docker) passes the same contract for
the required interface and for each optional capability it declares.

Real backends run a tiny XS installation on a private loopback /24 and are judged from outside,
by protocol probes; the noop backend is judged by what it says (its model of up and paused).
Docker cases skip with one line when no engine answers, unless FIREDRILL_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.topology import relocate
from harness.drill import runner
from harness.environments.backend import (
    Backend,
    DiskLosable,
    Killable,
    MissingCapability,
    NoopBackend,
    Pausable,
    capabilities,
)
from harness.environments.local import LocalBackend
from harness.environments.network import lease_network
from harness.environments.probe import Answer, answer
from harness.faults.kinds import inflict, require
from harness.faults.record import FaultContext
from harness.faults.spec import Disaster
from harness.history import HistoryWriter
from harness.layout import Layout
from harness.scenarios.scenario import Scenario
from harness.store.config import load, save
from harness.store.messagestore import MessageStore
from harness.topology import PROGRAMS, endpoint, spec
from tests.support.docker_engine import require_docker

pytestmark = pytest.mark.integration

PROBE = 1.0
"""Seconds a probe waits for an answer: a paused server times out."""
DECLARED = {
    "noop": ["Killable", "Pausable", "DiskLosable"],
    "local": ["Killable", "Pausable", "DiskLosable"],
    "docker": ["Killable", "Pausable", "DiskLosable"],
}
"""The capabilities each implementation declares; each one's contract runs against it."""


@dataclass
class Subject:
    """A backend under test, and how its servers answer as seen from outside."""

    backend: Backend
    answers: Callable[[str], Answer]
    layout: Layout | None = None
    leftovers: Callable[[], list[str]] = lambda: []
    """What outlives `close()`: processes or containers."""


def _relocated(layout: Layout, network: str) -> None:
    save(relocate(load(layout.config), network), layout.config)


def _probed(layout: Layout) -> Callable[[str], Answer]:
    """Probes on the addresses placed before the test (they outlive a lost disk)."""
    config = load(layout.config)
    where = {p: endpoint(config, p) for p in PROGRAMS}
    return lambda p: answer(where[p].address, where[p].port, spec(p).protocol, timeout=PROBE)


def _noop() -> Subject:
    backend = NoopBackend()

    def answers(program: str) -> Answer:
        if program not in backend.running():
            return Answer.REFUSED
        return Answer.TIMEOUT if program in backend.paused else Answer.OK

    return Subject(backend, answers)


def _docker(layout: Layout) -> Subject:
    require_docker()
    from harness.environments.containers import LABEL, DockerBackend

    backend = DockerBackend(layout)

    def leftovers() -> list[str]:
        found = backend.client.containers.list(
            all=True, filters={"label": f"{LABEL}={backend.run_id}"}
        )
        return [c.name for c in found] + backend.running()

    return Subject(backend, _probed(layout), layout, leftovers)


@pytest.fixture(params=["noop", "local", pytest.param("docker", marks=pytest.mark.docker)])
def subject(request: pytest.FixtureRequest, tree_xs: Layout) -> Iterator[Subject]:
    if request.param == "noop":
        yield _noop()
        return
    with lease_network() as network:
        _relocated(tree_xs, network)
        if request.param == "docker":
            made = _docker(tree_xs)
        else:
            local = LocalBackend(tree_xs)
            made = Subject(local, _probed(tree_xs), tree_xs, local.running)
        try:
            yield made
        finally:
            made.backend.close()


def _capable(subject: Subject, capability: str) -> None:
    """Only implementations that declare a capability run its contract."""
    name = subject.backend.name
    if capability not in DECLARED[name]:
        pytest.skip(f"the {name} backend does not declare {capability}")


# -- the required interface -------------------------------------------------------------------


def test_start_stop_and_drain_change_what_runs_and_what_answers(subject: Subject) -> None:
    backend = subject.backend
    assert backend.running() == []
    backend.start(["confserv", "dirserv"])
    assert backend.running() == ["dirserv", "confserv"]  # start order, whatever the call's
    assert subject.answers("dirserv") is subject.answers("confserv") is Answer.OK
    backend.start(["dirserv"])  # already up: nothing changes
    assert backend.running() == ["dirserv", "confserv"]
    backend.stop(["confserv"])
    assert backend.running() == ["dirserv"]
    assert subject.answers("confserv") is Answer.REFUSED
    backend.stop(["confserv"])  # already down: nothing changes
    backend.drain(["dirserv"])
    assert backend.running() == []
    assert subject.answers("dirserv") is Answer.REFUSED


def test_close_leaves_nothing_running_even_a_paused_server(subject: Subject) -> None:
    backend = subject.backend
    backend.start()
    assert len(backend.running()) == 6
    if isinstance(backend, Pausable):
        backend.pause(["mss"])
    backend.close()
    assert backend.running() == []
    assert subject.leftovers() == []
    assert subject.answers("mta") is Answer.REFUSED


def test_its_imctrl_starts_and_stops_what_it_runs(subject: Subject, tmp_path: Path) -> None:
    """`$IMCTRL` of an operator's procedure: `start` starts servers the way this backend does
    (processes, or this drill's containers), `stop` stops them."""
    command = subject.backend.imctrl(tmp_path)
    assert Path(command).name.startswith("imctrl")
    if subject.layout is None:
        return  # the noop backend runs no server: its imctrl is the installed one
    env = {**os.environ, "INTERMAIL": str(subject.layout.root)}

    def imctrl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    started = imctrl("start", "dirserv")
    assert started.returncode == 0, started.stdout + started.stderr
    assert subject.backend.running() == ["dirserv"]
    assert subject.answers("dirserv") is Answer.OK
    stopped = imctrl("stop", "allservers")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert subject.backend.running() == []


def _uidvalidities(layout: Layout) -> dict[tuple[str, str], tuple[int, int]]:
    """(mailbox, folder) -> (UIDVALIDITY, UIDNEXT) of every folder (servers stopped)."""
    with MessageStore(layout) as store:
        return {(f.mailbox, f.folder): (f.uidvalidity, f.uidnext) for f in store.folders()}


def test_its_imboxmaint_renews_every_uidvalidity_where_the_servers_run(
    subject: Subject, tmp_path: Path
) -> None:
    """`$IMBOXMAINT` of an operator's procedure, the step the built-in restores run: on the
    stopped installation `newuidvalidity` gives every folder a greater UIDVALIDITY (on docker,
    inside a container of the servers' image, which is gone after); refused while a server
    runs."""
    command = subject.backend.imboxmaint(tmp_path)
    assert Path(command).name.startswith("imboxmaint")
    if subject.layout is None:
        return  # the noop backend runs no server: its imboxmaint is the installed one
    root = str(subject.layout.root)

    def imboxmaint() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, "--root", root, "newuidvalidity"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    before = _uidvalidities(subject.layout)
    done = imboxmaint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        done.stdout == f"imboxmaint: newuidvalidity: {len(before)} folders got a new UIDVALIDITY\n"
    )
    after = _uidvalidities(subject.layout)
    assert after.keys() == before.keys()
    assert all(after[k][0] > before[k][0] and after[k][1] == before[k][1] for k in before)
    assert not any("imboxmaint" in left for left in subject.leftovers())

    subject.backend.start(["dirserv"])
    refused = imboxmaint()
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "servers are running (dirserv)" in refused.stderr
    subject.backend.stop()
    assert _uidvalidities(subject.layout) == after


def test_capabilities_are_what_the_implementation_declares(subject: Subject) -> None:
    backend = subject.backend
    present = {
        "Killable": isinstance(backend, Killable),
        "Pausable": isinstance(backend, Pausable),
        "DiskLosable": isinstance(backend, DiskLosable),
    }
    assert [name for name, has in present.items() if has] == DECLARED[backend.name]
    assert capabilities(backend) == capabilities(type(backend)) == DECLARED[backend.name]


# -- Killable ---------------------------------------------------------------------------------


def test_a_killed_server_stops_answering_and_start_brings_it_back(subject: Subject) -> None:
    _capable(subject, "Killable")
    backend = subject.backend
    assert isinstance(backend, Killable)
    backend.start(["dirserv", "confserv"])
    assert backend.kill(["confserv"]) == ["confserv"]
    assert backend.running() == ["dirserv"]
    assert subject.answers("confserv") is Answer.REFUSED
    assert backend.kill(["confserv"]) == []  # nothing left to kill
    backend.start()
    assert "confserv" in backend.running()
    assert subject.answers("confserv") is Answer.OK


# -- Pausable ---------------------------------------------------------------------------------


def test_a_paused_server_times_out_and_resume_makes_it_answer(subject: Subject) -> None:
    _capable(subject, "Pausable")
    backend = subject.backend
    assert isinstance(backend, Pausable)
    backend.start(["dirserv", "confserv"])
    assert backend.pause(["confserv"]) == ["confserv"]
    assert backend.running() == ["dirserv", "confserv"]  # up: it holds its lock and socket
    assert subject.answers("confserv") is Answer.TIMEOUT
    assert subject.answers("dirserv") is Answer.OK
    assert backend.resume(["confserv"]) == ["confserv"]
    assert subject.answers("confserv") is Answer.OK
    assert backend.resume() == []  # nothing left paused


def test_a_paused_server_can_be_killed_and_started_again(subject: Subject) -> None:
    _capable(subject, "Pausable")
    backend = subject.backend
    assert isinstance(backend, Pausable) and isinstance(backend, Killable)
    backend.start(["dirserv", "confserv"])
    backend.pause(["confserv"])
    assert backend.kill(["confserv"]) == ["confserv"]
    assert subject.answers("confserv") is Answer.REFUSED
    backend.start(["confserv"])
    assert subject.answers("confserv") is Answer.OK


# -- DiskLosable ------------------------------------------------------------------------------


def test_a_lost_disk_takes_every_server_and_the_whole_tree(subject: Subject) -> None:
    _capable(subject, "DiskLosable")
    backend = subject.backend
    assert isinstance(backend, DiskLosable)
    backend.start(["dirserv", "confserv"])
    assert backend.lose_disk() == ["dirserv", "confserv"]
    assert backend.running() == []
    assert subject.answers("dirserv") is Answer.REFUSED
    if subject.layout is not None:
        left = [p.name for p in subject.layout.root.iterdir()]
        assert left == [subject.layout.marker.name]


# -- a backend without capabilities -----------------------------------------------------------


class _Minimal:
    """A backend with the required interface only."""

    name = "minimal"

    def __init__(self, layout: Layout | None = None) -> None:
        self.up: list[str] = []

    def start(self, servers: Sequence[str] = ()) -> None:
        self.up = list(servers)

    def stop(self, servers: Sequence[str] = ()) -> None:
        self.up = []

    def drain(self, servers: Sequence[str] = ()) -> None:
        self.up = []

    def running(self) -> list[str]:
        return self.up

    def close(self) -> None:
        self.up = []

    def imctrl(self, workdir: Path) -> str:
        return "imctrl"

    def imboxmaint(self, workdir: Path) -> str:
        return "imboxmaint"


def test_a_fault_needing_a_missing_capability_is_refused_in_one_line(
    tree_xs: Layout, tmp_path: Path
) -> None:
    assert capabilities(_Minimal) == []
    with pytest.raises(MissingCapability) as refused:
        require("hang", _Minimal, "minimal")
    assert str(refused.value) == (
        "the minimal backend cannot pause servers (Pausable), which the hang disaster needs"
    )
    require("delete-account", _Minimal, "minimal")  # needs nothing optional
    with HistoryWriter(tmp_path / "history.jsonl") as history:
        ctx = FaultContext(tree_xs, _Minimal(), history, random.Random(1))
        with pytest.raises(MissingCapability, match="cannot lose its disk"):
            inflict(ctx, Disaster(kind="lose-tree"))
    assert tree_xs.msgfiles.is_dir()  # refused before anything was destroyed


def test_a_drill_the_backend_cannot_inflict_is_refused_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = Scenario("hang-x", disaster=Disaster(kind="hang", servers=("mss",)))
    monkeypatch.setattr(runner, "backend_class", lambda name: _Minimal)
    with pytest.raises(MissingCapability, match="cannot pause servers"):
        runner.run_drill(hang, runner.DrillOptions(report_dir=tmp_path, progress=False))
    assert list(tmp_path.iterdir()) == []  # no sandbox, no report: nothing started
