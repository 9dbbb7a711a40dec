"""The phases of a drill: each a function that takes what it needs and returns a frozen record
(harness.drill.record). They act on the running `Lab` (resources, not results); the runner
composes their records. Verify is in harness.drill.evidence; the restart cycle after it
(`restart`) is the last one here.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.checker.run import run_check
from harness.checker.served import Access
from harness.checker.tree_state import TreeState
from harness.drill.evidence import (
    check_again,
    manifest_of,
    recovery_point,
    served,
    spooled_ids,
)
from harness.drill.lab import Sandbox
from harness.drill.record import (
    BackupPhase,
    DetectionRecord,
    ReadyRecord,
    RecoveryRecord,
    RestartRecord,
    SpoolRecord,
    StartRecord,
)
from harness.environments.backend import Backend
from harness.environments.probe import (
    Answer,
    Credentials,
    describe,
    serving,
    survey,
    wait_until_serving,
)
from harness.errors import FiredrillError, ProcedureFailed, ProcedureInterrupted
from harness.faults.kinds import inflict
from harness.faults.record import FaultContext, FaultRecord
from harness.history import HistoryWriter, Stamp
from harness.layout import Layout
from harness.procedures import (
    Procedure,
    ProcedureContext,
    Restart,
    restart_through_logs,
    run_restore,
    take_backup,
)
from harness.scenarios.scenario import Scenario
from harness.store.spool import wait_drained
from harness.workload.clients import Endpoints
from harness.workload.runner import Mix, Workload, WorkloadSpec

READY_TIMEOUT = 120.0
"""Seconds the servers may take to serve clients after start, and after recovery."""
SPOOL_TIMEOUT = 90.0
"""Seconds queued mail may take to be delivered once service is back."""
HANG_TIMEOUT = 3.0
"""Detection: a server that accepts a connection and says nothing for this long hangs."""
STRAGGLER_TIMEOUT = 60.0
"""Seconds operations stuck in the disaster may take to end after the recovery."""
IN_FLIGHT = 0.3
"""Seconds operations in flight meet the disaster before the workload stops."""


@dataclass(frozen=True, slots=True)
class Lab:
    """The running lab the phases act on: the sandbox, its backend, the history, where the
    clients connect and with which login the probes check service, the report directory, and
    the lab accounts' passwords as they were when it started (address, lower case ->
    password: the served comparison logs in with them after a disaster destroyed the tree's
    own record of them)."""

    box: Sandbox
    backend: Backend
    history: HistoryWriter
    endpoints: Endpoints
    prober: Credentials
    report_dir: Path
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def layout(self) -> Layout:
        return self.box.layout

    @property
    def access(self) -> Access:
        """How the served comparison reaches the servers."""
        return Access(self.endpoints, self.passwords)


def stamp_at(mono: float) -> Stamp:
    """The Stamp of a monotonic moment in the recent past."""
    return Stamp(mono, time.time() - (time.monotonic() - mono))


def start(lab: Lab) -> StartRecord:
    """Start every server and wait until clients are served (FiredrillError if never)."""
    lab.backend.start()
    at = wait_until_serving(lab.endpoints, lab.prober, READY_TIMEOUT)
    if at is None:
        raise FiredrillError(f"the servers did not serve clients within {READY_TIMEOUT:g}s")
    return StartRecord(stamp_at(at))


def traffic(lab: Lab, scenario: Scenario, seed: int) -> Workload:
    """Start the workload and let it run `before_backup` seconds (with the MSS stopped first
    when the scenario wants mail waiting in the spool). The caller stops it."""
    t = scenario.traffic
    mix = Mix(**dict(t.mix)) if t.mix else Mix()
    spec = WorkloadSpec(seed=seed, rate=t.rate, clients=t.clients, mix=mix)
    workload = Workload(lab.layout, spec, lab.history)
    workload.start()
    time.sleep(t.before_backup)
    if scenario.backup.mss_down:
        lab.history.event("setup", "mss-down", reason="mail waits in the spool")
        lab.backend.stop(["mss"])
        time.sleep(1.5)
    return workload


def fault_context(lab: Lab, seed: int) -> FaultContext:
    return FaultContext(lab.layout, lab.backend, lab.history, random.Random(f"disaster:{seed}"))


class Striker:
    """The disaster striking in the background, `delay` seconds into the backup; a disaster
    that takes the machine takes the running procedure with it (`ctx.crashed`)."""

    def __init__(self, fault: FaultContext, scenario: Scenario, ctx: ProcedureContext) -> None:
        self.fault: FaultRecord | None = None
        self.error: BaseException | None = None
        self._args = (fault, scenario, ctx)
        self._timer = threading.Timer(scenario.disaster.delay, self._strike)

    def _strike(self) -> None:
        fault, scenario, ctx = self._args
        try:
            if scenario.kind.takes_the_machine:
                ctx.crashed.set()
            self.fault = inflict(fault, scenario.disaster)
        except BaseException as exc:  # raised again in the drill's thread, by join()
            self.error = exc

    def __enter__(self) -> Striker:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.join()

    def struck(self) -> FaultRecord | None:
        """The fault, once the timer ran; raises what the strike raised."""
        if self.error is not None:
            raise self.error
        return self.fault


def backup(
    lab: Lab, scenario: Scenario, procedure: Procedure, ctx: ProcedureContext, seed: int
) -> tuple[BackupPhase, FaultRecord | None]:
    """Take the backup under test (and strike during it when the scenario says so). A backup
    that fails or is interrupted is recorded, not raised."""
    striker = Striker(fault_context(lab, seed), scenario, ctx)
    taken, interrupted, failed = None, "", ""
    with contextlib.ExitStack() as scope:
        if scenario.disaster.during_backup:
            scope.enter_context(striker)
        try:
            taken = take_backup(
                procedure,
                ctx,
                lab.box.work / "backup",
                manifest_path=lab.report_dir / "backup.manifest.jsonl",
            )
        except ProcedureInterrupted as exc:  # the machine crashed under it: no backup
            interrupted = str(exc)
        except ProcedureFailed as exc:
            failed = str(exc)
        except FiredrillError as exc:  # e.g. a server the procedure restarts does not start
            failed = f"the backup procedure failed: {exc}"
    fault = striker.struck()
    output = "\n".join(ctx.outputs) if failed else ""
    if taken is None:
        return BackupPhase(procedure.name, None, interrupted, failed, output), fault
    phase = BackupPhase(
        procedure.name,
        taken,
        spooled=spooled_ids(taken.manifest),
        recovery_point=recovery_point(taken),
    )
    return phase, fault


def disaster(lab: Lab, scenario: Scenario, seed: int, workload: Workload) -> FaultRecord:
    """Strike (unless it struck during the backup), let operations in flight meet it, stop
    the workload (operations stuck on a hung server end after the recovery)."""
    fault = inflict(fault_context(lab, seed), scenario.disaster)
    time.sleep(IN_FLIGHT)
    workload.stop(timeout=HANG_TIMEOUT)
    return fault


def detection(lab: Lab, scenario: Scenario, manifest: Path | None) -> DetectionRecord:
    """Crashes: which servers refuse or hang, or whether clients are refused. Damage:
    `firedrill check` (against the backup's manifest) sees a violation, or nothing does."""
    if scenario.recovery_action == "restart":
        answers = survey(lab.layout, timeout=HANG_TIMEOUT)
        unresponsive = tuple(p for p, a in answers.items() if a is Answer.TIMEOUT)
        what = describe(answers, HANG_TIMEOUT)
        if not what and not serving(lab.endpoints, lab.prober):
            what = "clients are refused"
        what = what or "the procedure's own restart recovered it"
        return DetectionRecord(Stamp.now(), what, unresponsive)
    try:
        report = run_check(lab.layout.root, against=manifest)
        seen = report.violations
        what = f"{len(seen)} violation(s), first: {seen[0]}" if seen else ""
    except FiredrillError as exc:
        what = str(exc)
    return DetectionRecord(Stamp.now() if what else None, what)


def recovery(
    lab: Lab,
    scenario: Scenario,
    procedure: Procedure,
    ctx: ProcedureContext,
    unresponsive: tuple[str, ...],
    restart: Restart | None = None,
) -> RecoveryRecord:
    """A restart through the logs (hung servers killed first), or the restore under test. A
    restore that fails is recorded (what it left is the evidence), not raised."""
    if scenario.recovery_action == "restart":
        (restart or restart_through_logs)(ctx, unresponsive)
        return RecoveryRecord("restart")
    try:
        return RecoveryRecord("restore", run_restore(procedure, ctx, lab.box.work / "backup"))
    except FiredrillError as exc:
        return RecoveryRecord("restore", None, str(exc), "\n".join(ctx.outputs))


def operations_ended(workload: Workload) -> None:
    """Operations stuck when the disaster struck have ended (failed or acknowledged) before
    anything is checked against the history."""
    if not workload.join(STRAGGLER_TIMEOUT):
        raise FiredrillError(
            f"workload operations still running {STRAGGLER_TIMEOUT:g}s after recovery"
        )


def ready(lab: Lab, failed: bool, timeout: float) -> ReadyRecord:
    """Wait until every protocol serves a client (an eighth of `timeout` after a failed
    restore: what it left rarely serves, and the drill has failed already)."""
    limit = timeout / (8 if failed else 1)
    at = wait_until_serving(lab.endpoints, lab.prober, limit)
    return ReadyRecord(None if at is None else stamp_at(at), limit)


def spool(lab: Lab, served: bool, ready_timeout: float) -> SpoolRecord:
    """Wait until the MTA delivered what is queued (briefly when service is not back)."""
    timeout = SPOOL_TIMEOUT if served else ready_timeout / 8
    return SpoolRecord(wait_drained(lab.layout.spool, timeout), timeout)


def restart(
    lab: Lab,
    scenario: Scenario,
    backup: BackupPhase | None,
    seed: int,
    timeout: float,
    before: TreeState | None = None,
) -> RestartRecord:
    """Invariant 10's clean restart of the recovered installation: `imctrl stop allservers`
    then `start allservers` through the backend, wait until every protocol serves a client
    again (the probe of `ready`, at most `timeout` seconds), then the offline check and the
    served comparison again. A stop or start that fails is recorded (`failed`), not raised;
    the offline check runs whatever happened (it reads the tree), the served comparison only
    when the service came back. The offline check again is `check_again` against `before`,
    the state verify's check read: the environments recovered again, the rest compared, the
    whole check only when something changed (bench/README.md has what the cycle costs).
    Raises FiredrillError only when the offline check cannot start (the tree is no
    installation any more), as verify does."""
    began = time.monotonic()
    failed = ""
    try:
        lab.backend.stop()
    except FiredrillError as exc:
        failed = f"imctrl stop allservers: {exc}"
    stopped = time.monotonic()
    at = None
    if not failed:
        try:
            lab.backend.start()
            at = wait_until_serving(lab.endpoints, lab.prober, timeout)
        except FiredrillError as exc:
            failed = f"imctrl start allservers: {exc}"
    started = time.monotonic() if at is None else at
    check, compared = check_again(
        lab.layout,
        before,
        history=lab.history.path,
        against=manifest_of(scenario, backup),
        restored=scenario.recovery_action == "restore",
    )
    again = (
        None
        if at is None
        else served(lab.layout, lab.access, lab.history.path, scenario, seed, identities=False)
    )
    return RestartRecord(
        round(stopped - began, 3),
        round(started - stopped, 3),
        None if at is None else stamp_at(at),
        timeout,
        check,
        again,
        failed,
        compared,
    )
