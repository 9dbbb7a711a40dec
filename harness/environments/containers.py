"""The Docker backend: one container per server, created with testcontainers.

Every container runs the firedrill image (`python3 -m harness.servers PROGRAM --root ROOT`)
with `$INTERMAIL` bind-mounted at the same path, host networking (each server on its own
127.0.0.x address, no Docker network is ever created) and the host's pid namespace, so the
servers' pid and lock files mean the same inside and out and `imctrl` drains and stops them
with the same signals. Readiness is a protocol probe (a composable wait strategy), never a
sleep. Every container carries the run's label and its installation's root; `firedrill
cleanup` removes those whose installation is a stale sandbox or gone. Ryuk (the testcontainers
reaper) is disabled: it cannot be pulled here, and the labels do its job.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from harness import control
from harness.environments.probe import Answer, answer
from harness.errors import FiredrillError
from harness.layout import Layout
from harness.sandbox import wipe
from harness.store.config import load
from harness.topology import PROGRAMS, endpoint, spec
from harness.waiting import poll_last

IMAGE = os.environ.get("FIREDRILL_IMAGE", "firedrill/intermail:latest")
LABEL = "org.firedrill.run"
ROOT_LABEL = "org.firedrill.root"


class DockerUnavailable(FiredrillError):
    """No Docker engine answers, or the firedrill image is missing."""


class ProtocolReady(WaitStrategy):
    """Ready when the server answers its protocol on its 127.0.0.x address."""

    def __init__(self, program: str, address: str, port: int) -> None:
        super().__init__()
        self.program = program
        self.address = address
        self.port = port
        self.protocol = spec(program).protocol

    def _answers(self) -> bool:
        return answer(self.address, self.port, self.protocol, timeout=1) is Answer.OK

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        def ready() -> bool:
            if self._answers():
                return True
            container.reload()
            if container.status in ("exited", "dead"):
                logs = b"".join(container.get_logs()).decode(errors="replace")
                raise DockerUnavailable(
                    f"{self.program} container exited at start: "
                    f"{logs.strip().splitlines()[-1:] or '(no log)'}"
                )
            return False

        if poll_last(ready, self._startup_timeout, self._poll_interval):
            return
        raise DockerUnavailable(
            f"{self.program} did not answer {self.protocol} on {self.address}:{self.port} "
            f"within {self._startup_timeout:.0f}s (see `docker logs` of its container)"
        )


def _sdk() -> Any:
    """The Docker SDK (imported by name: the repo's docker/ folder shadows it for mypy)."""
    return importlib.import_module("docker")


def docker_client() -> Any:
    try:
        client = _sdk().from_env()
        client.ping()
    except Exception as exc:
        raise DockerUnavailable(f"no Docker engine answers: {exc}") from exc
    return client


def require_image(client: Any, image: str = IMAGE) -> None:
    try:
        client.images.get(image)
    except _sdk().errors.ImageNotFound:
        raise DockerUnavailable(f"image {image} is missing: build it with `make image`") from None


class DockerBackend:
    """Servers as containers; implements Backend, Killable, Pausable and DiskLosable."""

    name = "docker"

    def __init__(self, layout: Layout, *, image: str = IMAGE, run_id: str | None = None) -> None:
        self.layout = layout
        self.image = image
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.client = docker_client()
        require_image(self.client, image)
        self._containers: dict[str, DockerContainer] = {}

    def imctrl(self, workdir: Path) -> str:
        """A `$IMCTRL` whose start and restart start this run's containers: a script in
        `workdir` running `imctrl --docker-run RUN --image IMAGE`."""
        return self._script(workdir, "imctrl")

    def imboxmaint(self, workdir: Path) -> str:
        """A `$IMBOXMAINT` that runs each step inside a container of this run's image (see
        `run_tool`): a script in `workdir` running `imboxmaint --docker-run RUN --image IMAGE`."""
        return self._script(workdir, "imboxmaint")

    def _script(self, workdir: Path, tool: str) -> str:
        script = workdir / f"{tool}-{self.run_id}"
        script.write_text(
            "#!/bin/sh\n"
            f"exec {shlex.quote(sys.executable)} -m harness.cli.{tool} "
            f"--docker-run {shlex.quote(self.run_id)} --image {shlex.quote(self.image)} "
            '"$@"\n'
        )
        script.chmod(0o755)
        return str(script)

    def run_tool(self, tool: str, args: Sequence[str], *, timeout: float = 300) -> tuple[int, str]:
        """Run `python3 -m harness.cli.TOOL ARGS` once inside a container of this run's image
        (the Berkeley DB library the servers open the environments with, not the host's): the
        tree bind-mounted at the same path, the host's pid namespace (the tool sees which
        servers run), no network, this run's labels. Returns its exit status and its output
        (stdout and stderr together); the container is removed.

        Raises DockerUnavailable when the container cannot run or does not end in `timeout` s.
        """
        self._remove(tool)
        root = str(self.layout.root)
        try:
            container = self.client.containers.run(
                self.image,
                command=list(args),
                entrypoint=["python3", "-m", f"harness.cli.{tool}"],
                volumes={root: {"bind": root, "mode": "rw"}},
                network_mode="none",
                pid_mode="host",
                labels=self.labels(tool),
                name=f"firedrill-{self.run_id}-{tool}",
                detach=True,
            )
        except Exception as exc:
            raise DockerUnavailable(f"cannot run {tool} in {self.image}: {exc}") from exc
        try:
            status = int(container.wait(timeout=timeout)["StatusCode"])
            output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        except Exception as exc:
            raise DockerUnavailable(f"{tool} in {self.image} did not end: {exc}") from exc
        finally:
            container.remove(force=True)
        return status, output

    def labels(self, program: str) -> dict[str, str]:
        return {
            LABEL: self.run_id,
            "org.firedrill.program": program,
            ROOT_LABEL: str(self.layout.root),
        }

    def _container(self, program: str) -> DockerContainer:
        where = endpoint(load(self.layout.config), program)
        root = str(self.layout.root)
        return (
            DockerContainer(self.image)
            .with_command(f"{program} --root {root}")
            .with_volume_mapping(root, root, "rw")
            .with_name(f"firedrill-{self.run_id}-{program}")
            .with_kwargs(
                network_mode="host",
                pid_mode="host",
                labels=self.labels(program),
                stop_signal="SIGTERM",
            )
            .waiting_for(
                ProtocolReady(program, where.address, where.port)
                .with_startup_timeout(60)
                .with_poll_interval(0.1)
            )
        )

    def start(self, servers: Sequence[str] = ()) -> None:
        for program in control.select(servers):
            if control.running_pid(self.layout, program):
                continue
            self._remove(program)
            container = self._container(program)
            self._containers[program] = container
            container.start()

    def _remove(self, program: str) -> None:
        for found in self.client.containers.list(
            all=True,
            filters={"label": [f"{LABEL}={self.run_id}", f"org.firedrill.program={program}"]},
        ):
            found.remove(force=True)
        self._containers.pop(program, None)

    def stop(self, servers: Sequence[str] = ()) -> None:
        control.stop(self.layout, servers)  # SIGTERM to the same pids, through the lock files

    def drain(self, servers: Sequence[str] = ()) -> None:
        control.drain(self.layout, servers)

    def kill(self, servers: Sequence[str] = ()) -> list[str]:
        """A container-level crash: `docker kill` (SIGKILL) of the servers' containers, paused
        ones included (the engine thaws them to deliver it)."""
        killed = []
        for program in control.select(servers):
            for found in self._running(program):
                try:
                    found.kill()
                except _sdk().errors.APIError as exc:  # it exited since it was listed
                    if exc.status_code != 409:
                        raise
                    continue
                killed.append(program)
        for program in killed:
            control.wait_gone(self.layout, program, 10)
        return killed

    def pause(self, servers: Sequence[str] = ()) -> list[str]:
        """A hung host: the containers are frozen (their sockets stay open, nothing answers)."""
        paused = []
        for program in control.select(servers):
            for found in self._running(program):
                if found.status != "paused":
                    found.pause()
                    paused.append(program)
        return paused

    def resume(self, servers: Sequence[str] = ()) -> list[str]:
        resumed = []
        for program in control.select(servers):
            for found in self._running(program):
                if found.status == "paused":
                    found.unpause()
                    resumed.append(program)
        return resumed

    def lose_disk(self) -> list[str]:
        """Every container is killed and removed, and the bind-mounted tree is gone."""
        killed = self.kill()
        for program in PROGRAMS:
            self._remove(program)
        wipe(self.layout)
        return killed

    def _running(self, program: str) -> list[Any]:
        return list(
            self.client.containers.list(
                filters={"label": [f"{LABEL}={self.run_id}", f"org.firedrill.program={program}"]}
            )
        )

    def running(self) -> list[str]:
        return [p for p in PROGRAMS if control.running_pid(self.layout, p)]

    def close(self) -> None:
        """Remove every container of this run (running or not)."""
        try:
            self.resume()
            control.stop(self.layout)
        except FiredrillError:
            pass
        finally:
            remove_run(self.client, self.run_id)


def remove_run(client: Any, run_id: str) -> list[str]:
    """Remove the containers of one run (running or not)."""
    removed = []
    for found in client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
        found.remove(force=True)
        removed.append(found.name)
    return removed


def remove_abandoned(client: Any, abandoned: Callable[[Path], bool]) -> list[str]:
    """Remove the containers of firedrill runs whose installation root (ROOT_LABEL) is
    `abandoned`; a container without that label is left alone (whose it is cannot be told)."""
    removed = []
    for found in client.containers.list(all=True, filters={"label": LABEL}):
        root = (found.labels or {}).get(ROOT_LABEL)
        if root and abandoned(Path(root)):
            found.remove(force=True)
            removed.append(found.name)
    return removed
