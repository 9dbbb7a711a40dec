"""Benchmark: the docker backend against the local one.

    python -m bench.docker [--tier S] [--rounds 3] [--parts drill,start] [--data DIR]
                           [--json OUT] [--keep]

1. **drill**: the default scenario (`scenarios/default.toml`) at `--tier`, run in the same
   invocation on the local backend, then on the docker backend (same seed, same machine, one
   after the other). Per phase and in total: local, docker, and the ratio docker / local.
2. **start**: one fresh installation at `--tier` on a leased loopback network; `--rounds`
   times, every server started in start order, each measured alone:
   - docker: `containers.create` (same options as `DockerBackend`: host network, host pid
     namespace, the tree bind-mounted, the run's label) → `start` → the protocol probe
     answering (greeting or wire ping, polled every 5 ms). Create, start and create → ready.
   - local: `control.start` of the one server (it returns once the pid holds the lock and the
     port accepts, polled every 50 ms) → the same probe answering.
   Then the whole set through each backend's `start()` until SMTP, POP3 and IMAP serve clients
   (the drill's "start" phase), then stop. Min and median over the rounds.

Needs a Docker engine and the image (`bash .ci/provision-docker`). Everything goes into one
scratch directory under `--data`, deleted unless `--keep`; containers carry the bench's run
label and are removed at the end whatever happens. Exit 0 when both drills pass.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.drills import PHASES, SEED, DrillRun, drill, say, table
from fixtures.populate import populate
from fixtures.tiers import tier
from harness import control
from harness.accounts import lab_accounts
from harness.environments.backend import Backend
from harness.environments.local import LocalBackend
from harness.environments.network import lease_network
from harness.environments.probe import Answer, Credentials, answer, wait_until_serving
from harness.layout import Layout
from harness.store.config import load
from harness.topology import PROGRAMS, endpoint, spec
from harness.waiting import poll_last
from harness.workload.runner import endpoints_of

POLL = 0.005
READY_TIMEOUT = 60.0


@dataclass
class ServerStart:
    program: str
    docker_create_s: list[float] = field(default_factory=list)
    docker_start_s: list[float] = field(default_factory=list)
    docker_ready_s: list[float] = field(default_factory=list)  # create -> probe answers
    local_ready_s: list[float] = field(default_factory=list)  # control.start -> probe answers


@dataclass
class StartRun:
    tier: str
    rounds: int
    servers: list[ServerStart]
    docker_all_s: list[float] = field(default_factory=list)  # start() -> clients served
    local_all_s: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _until_answers(layout: Layout, program: str, since: float) -> float:
    where = endpoint(load(layout.config), program)
    protocol = spec(program).protocol
    if not poll_last(
        lambda: answer(where.address, where.port, protocol, timeout=1) is Answer.OK,
        READY_TIMEOUT - (time.perf_counter() - since),
        POLL,
    ):
        raise SystemExit(f"bench: {program} did not answer within {READY_TIMEOUT:g}s")
    return time.perf_counter() - since


def _docker_round(layout: Layout, backend: Any, starts: dict[str, ServerStart]) -> None:
    root = str(layout.root)
    for program in PROGRAMS:
        t0 = time.perf_counter()
        container = backend.client.containers.create(
            backend.image,
            command=[program, "--root", root],
            name=f"firedrill-{backend.run_id}-{program}",
            volumes={root: {"bind": root, "mode": "rw"}},
            network_mode="host",
            pid_mode="host",
            labels=backend.labels(program),
            stop_signal="SIGTERM",
        )
        created = time.perf_counter() - t0
        container.start()
        started = time.perf_counter() - t0
        starts[program].docker_ready_s.append(_until_answers(layout, program, t0))
        starts[program].docker_create_s.append(created)
        starts[program].docker_start_s.append(started)
    control.stop(layout)
    backend.close()


def _local_round(layout: Layout, starts: dict[str, ServerStart]) -> None:
    for program in PROGRAMS:
        t0 = time.perf_counter()
        control.start(layout, [program])
        starts[program].local_ready_s.append(_until_answers(layout, program, t0))
    control.stop(layout)


def _all_ready(backend: Backend, layout: Layout) -> float:
    login = next(a for a in lab_accounts(layout.root) if a.status == "active" and a.password)
    t0 = time.monotonic()
    backend.start()
    ready = wait_until_serving(
        endpoints_of(layout), Credentials(login.login, login.password), READY_TIMEOUT
    )
    if ready is None:
        raise SystemExit(f"bench: the {backend.name} backend did not serve clients")
    backend.stop()
    return ready - t0


def starting(tier_name: str, scratch: Path, rounds: int) -> StartRun:
    from harness.environments.containers import DockerBackend, remove_run

    root = scratch / f"start-{tier_name}" / "intermail"
    starts = {p: ServerStart(p) for p in PROGRAMS}
    run = StartRun(tier_name, rounds, list(starts.values()))
    with lease_network() as network:
        say(f"populating tier {tier_name} on {network}.0/24")
        populate(root, tier(tier_name), SEED, network=network, progress=False)
        layout = Layout(root)
        docker = DockerBackend(layout, run_id=f"bench-{uuid.uuid4().hex[:8]}")
        try:
            for n in range(rounds):
                say(f"start round {n + 1}/{rounds}: docker, then local, server by server")
                _docker_round(layout, docker, starts)
                _local_round(layout, starts)
                say(f"start round {n + 1}/{rounds}: all servers until clients are served")
                run.docker_all_s.append(_all_ready(docker, layout))
                docker.close()
                run.local_all_s.append(_all_ready(LocalBackend(layout), layout))
        finally:
            docker.close()
            remove_run(docker.client, docker.run_id)
            LocalBackend(layout).close()
    return run


# -- output ------------------------------------------------------------------------------------


def _ratio(docker: float | None, local: float | None) -> str:
    return f"{docker / local:.2f}×" if docker is not None and local else "-"


def drill_comparison(local: DrillRun, docker: DrillRun) -> str:
    rows = []
    for name in PHASES:
        a, b = local.phases.get(name), docker.phases.get(name)
        rows.append(
            [
                name,
                "-" if a is None else f"{a:.2f} s",
                "-" if b is None else f"{b:.2f} s",
                _ratio(b, a),
            ]
        )
    rows.append(
        [
            "total (end of verdict)",
            f"{local.total_s:.2f} s",
            f"{docker.total_s:.2f} s",
            _ratio(docker.total_s, local.total_s),
        ]
    )
    rows.append(
        [
            "run_drill wall",
            f"{local.wall_s:.2f} s",
            f"{docker.wall_s:.2f} s",
            _ratio(docker.wall_s, local.wall_s),
        ]
    )
    rto = [r.metrics.get("rto_seconds") for r in (local, docker)]
    rows.append(["RTO", *(f"{v:.2f} s" if v is not None else "-" for v in rto), _ratio(*rto[::-1])])
    rows.append(["verdict", local.verdict, docker.verdict, ""])
    rows.append(["peak 1-min load", f"{local.load_peak:.1f}", f"{docker.load_peak:.1f}", ""])
    return table(["phase", "local", "docker", "docker / local"], rows)


def _min_med(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.3f} / {statistics.median(values):.3f} s"


def start_table(run: StartRun) -> str:
    rows = [
        [
            s.program,
            _min_med(s.docker_create_s),
            _min_med(s.docker_start_s),
            _min_med(s.docker_ready_s),
            _min_med(s.local_ready_s),
            _ratio(
                statistics.median(s.docker_ready_s) if s.docker_ready_s else None,
                statistics.median(s.local_ready_s) if s.local_ready_s else None,
            ),
        ]
        for s in run.servers
    ]
    rows.append(
        [
            "all, start() → clients served",
            "",
            "",
            _min_med(run.docker_all_s),
            _min_med(run.local_all_s),
            _ratio(
                statistics.median(run.docker_all_s) if run.docker_all_s else None,
                statistics.median(run.local_all_s) if run.local_all_s else None,
            ),
        ]
    )
    header = [
        "server",
        "docker create",
        "docker start (from create)",
        "docker create → ready",
        "local start → ready",
        "docker / local (median)",
    ]
    return table(header, rows) + f"\nmin / median of {run.rounds} round(s), tier {run.tier}"


# -- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.docker", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tier", default="S", help="tier of the drill and the installation")
    parser.add_argument("--rounds", type=int, default=3, help="start-to-ready rounds (3)")
    parser.add_argument("--parts", default="drill,start", help="drill,start (default both)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    tier_name = args.tier.upper()
    tier(tier_name)
    parts = {p.strip() for p in args.parts.split(",")}
    if not parts <= {"drill", "start"}:
        parser.error("--parts takes drill and/or start")
    from harness.environments.containers import DockerUnavailable, docker_client, require_image

    try:
        require_image(docker_client())
    except DockerUnavailable as exc:
        raise SystemExit(f"bench: {exc} (run `bash .ci/provision-docker`)") from None
    args.data.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-docker-", dir=args.data)).absolute()
    drills: list[DrillRun] = []
    start: StartRun | None = None
    try:
        if "drill" in parts:
            drills = [drill(tier_name, scratch, "local"), drill(tier_name, scratch, "docker")]
        if "start" in parts:
            start = starting(tier_name, scratch, args.rounds)
    finally:
        if args.keep:
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        document = {
            "machine": {"platform": platform.platform()},
            "seed": SEED,
            "drills": [d.to_json() for d in drills],
            "start": start.to_json() if start else None,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nmachine: {platform.platform()}; seed {SEED}")
    if drills:
        print(f"\n## drill default at tier {tier_name}: docker vs local (same invocation)\n")
        print(drill_comparison(*drills))
        for d in drills:
            if d.verdict != "pass":
                print(f"{d.backend}: verdict {d.verdict}: {d.reasons} {d.error or ''}")
    if start:
        print("\n## start to ready, per server\n")
        print(start_table(start))
    return 0 if all(d.verdict == "pass" for d in drills) else 1


if __name__ == "__main__":
    sys.exit(main())
