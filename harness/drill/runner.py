"""The drill runner: a scenario in, a verdict and a report out.

1. populate        a fresh seeded installation in a private sandbox
2. start           every server, then wait until clients are served
3. traffic         the workload runs (and keeps running through 4-6)
4. backup          the procedure under test, watched for its consistency point
5. traffic         continues after the backup
6. disaster        strikes (or struck during 4: a machine crash there interrupts the backup,
                   which leaves no backup, and the traffic of 5 is skipped)
7. detection       servers refuse (crash) or do not answer (hang), or `firedrill check` sees
                   the damage
8. recovery        a restart through the logs (hung servers killed first), or the restore
9. service ready   SMTP banner, POP3 and IMAP logins answer again
10. spool drained  queued mail delivered
11. verify         invariants 1-7 against the history and the backup manifest
12. verdict        findings classified, losses listed, metrics against targets

Phases are methods; scopes (the sandbox, the servers, the workload) are context managers that
clean up after pass, fail, error and Ctrl-C. The record is saved to report.json at the end.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fixtures.populate import populate
from fixtures.tiers import tier
from harness.accounts import lab_accounts
from harness.checker.findings import (
    DamageNotRepaired,
    DisasterUndetected,
    Finding,
    ProcedureError,
    ServiceNotRestored,
    SpoolNotDrained,
    Verdict,
)
from harness.checker.run import CheckReport, run_check
from harness.drill import report as reporting
from harness.drill.verdict import Judgement, classify, judge
from harness.environments.backend import Backend
from harness.environments.local import LocalBackend
from harness.environments.network import lease_network
from harness.environments.probe import (
    Answer,
    Credentials,
    describe,
    serving,
    survey,
    wait_until_serving,
)
from harness.errors import FiredrillError, ProcedureFailed, ProcedureInterrupted
from harness.faults.kinds import inflict, require
from harness.faults.record import FaultContext, FaultRecord
from harness.history import HistoryWriter, Stamp
from harness.layout import Layout
from harness.manifest import summarize
from harness.procedures import (
    BackupRecord,
    Procedure,
    ProcedureContext,
    Restart,
    RestoreRecord,
    procedure_for,
    restart_through_logs,
    run_restore,
    take_backup,
)
from harness.scenarios.scenario import Scenario
from harness.store.spool import Spool
from harness.workload.runner import Mix, Workload, WorkloadSpec, endpoints_of

READY_TIMEOUT = 120.0
SPOOL_TIMEOUT = 90.0
HANG_TIMEOUT = 3.0
"""Detection: a server that accepts a connection and says nothing for this long hangs."""
STRAGGLER_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class DrillOptions:
    report_dir: Path = Path("reports")
    backend: str = "local"
    seed: int | None = None
    keep: bool = False
    progress: bool = True
    procedure: Procedure | None = None
    """Replaces the scenario's procedure (the flaw catalogue, selftest)."""
    restart: Restart | None = None
    """Replaces the restart through the logs (tests of a recovery that misses a hang)."""
    ready_timeout: float = READY_TIMEOUT
    """How long recovery may take before the service counts as not restored."""


@dataclass
class PhaseRecord:
    name: str
    start: float
    end: float | None = None
    error: str = ""


class Drill:
    """The state of one drill while it runs; `run_drill` drives it."""

    def __init__(self, scenario: Scenario, options: DrillOptions) -> None:
        self.scenario = scenario
        self.options = options
        self.seed = scenario.population.seed if options.seed is None else options.seed
        self.started = Stamp.now()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.report_dir = options.report_dir / f"{stamp}-{scenario.name}"
        for n in range(2, 1000):  # drills started in the same second (selftest runs several)
            try:
                self.report_dir.mkdir(parents=True)
                break
            except FileExistsError:
                self.report_dir = options.report_dir / f"{stamp}-{scenario.name}-{n}"
        self.phases: list[PhaseRecord] = []
        self.findings: list[Finding] = []
        self.backup: BackupRecord | None = None
        self.backup_interrupted = ""
        self._strike_error: BaseException | None = None
        self.restore: RestoreRecord | None = None
        self.fault: FaultRecord | None = None
        self.detected: tuple[float, str] | None = None
        self.unresponsive: list[str] = []
        self.ready_at: float | None = None
        self.check: CheckReport | None = None
        self.came_back: list[dict[str, object]] = []
        self.judgement: Judgement | None = None
        self.error = ""
        self.workload: Workload | None = None
        self.spooled_at_backup: list[str] = []
        self.restore_output = ""
        self.recovery_points: list[dict[str, object]] = []
        self.traceback = ""
        self.delivered_from_backup_spool = 0

    # -- scopes --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def sandbox(self) -> Iterator[None]:
        """A private work tree (installation + backup), removed afterwards unless kept."""
        self.work = Path(tempfile.mkdtemp(prefix=f"firedrill-{self.scenario.name}-"))
        self.layout = Layout(self.work / "intermail")
        self.history = HistoryWriter(self.report_dir / "history.jsonl")
        try:
            with lease_network() as self.network:
                yield
        finally:
            self.history.close()
            if self.layout.logs.is_dir():
                shutil.copytree(self.layout.logs, self.report_dir / "logs", dirs_exist_ok=True)
            if self.options.keep:
                self.kept = self.work
            else:
                shutil.rmtree(self.work, ignore_errors=True)

    @contextlib.contextmanager
    def servers(self) -> Iterator[Backend]:
        backend: Backend = backend_class(self.options.backend)(self.layout)
        self.backend = backend
        try:
            yield backend
        finally:
            if self.workload is not None:
                self.workload.stop(timeout=20)
            backend.close()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        record = PhaseRecord(name, time.monotonic() - self.started.mono)
        self.phases.append(record)
        self.history.event("phase", name)
        if self.options.progress:
            print(f"[{record.start:7.2f}s] {name}", flush=True)
        try:
            yield
        except BaseException as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            record.end = time.monotonic() - self.started.mono

    # -- phases --------------------------------------------------------------------------------

    def populate(self) -> None:
        populate(
            self.layout.root,
            tier(self.scenario.population.tier),
            self.seed,
            network=self.network,
            progress=False,
        )
        login = next(
            a for a in lab_accounts(self.layout.root) if a.status == "active" and a.password
        )
        self.prober = Credentials(login.login, login.password)
        self.endpoints = endpoints_of(self.layout)

    def start(self) -> None:
        self.backend.start()
        if wait_until_serving(self.endpoints, self.prober, READY_TIMEOUT) is None:
            raise FiredrillError("the servers did not serve clients after start")

    def traffic(self) -> None:
        t = self.scenario.traffic
        mix = Mix(**dict(t.mix)) if t.mix else Mix()
        spec = WorkloadSpec(seed=self.seed, rate=t.rate, clients=t.clients, mix=mix)
        self.workload = Workload(self.layout, spec, self.history)
        self.workload.start()
        time.sleep(t.before_backup)
        if self.scenario.backup.mss_down:
            self.history.event("setup", "mss-down", reason="mail waits in the spool")
            self.backend.stop(["mss"])
            time.sleep(1.5)

    def take_backup(self) -> None:
        b = self.scenario.backup
        self.procedure = self.options.procedure or procedure_for(
            b.procedure, b.backup_cmd, b.restore_cmd
        )
        self.pctx = ProcedureContext(
            self.layout, self.backend, self.history, self.work, timeout=b.timeout
        )
        strike: threading.Timer | None = None
        if self.scenario.disaster.during_backup:
            strike = threading.Timer(self.scenario.disaster.delay, self._strike_in_background)
            strike.start()
        try:
            self.backup = take_backup(
                self.procedure,
                self.pctx,
                self.work / "backup",
                manifest_path=self.report_dir / "backup.manifest.jsonl",
            )
        except ProcedureInterrupted as exc:  # the machine crashed under it: no backup
            self.backup_interrupted = str(exc)
        except ProcedureFailed:
            raise
        except FiredrillError as exc:  # e.g. a server the procedure restarts does not start
            raise ProcedureFailed(f"the backup procedure failed: {exc}") from exc
        finally:
            if strike is not None:
                strike.join()
        if self._strike_error is not None:
            raise self._strike_error
        if self.backup is not None:
            self.spooled_at_backup = reporting.spool_header_ids(self.backup.manifest)
            self.recovery_points = reporting.verify_backup(self.backup)

    def after_backup(self) -> None:
        if self.fault is None:  # a disaster during the backup: recovery comes next
            time.sleep(self.scenario.traffic.after_backup)

    def _strike_in_background(self) -> None:
        try:
            self.strike()
        except BaseException as exc:  # raised again in the drill's thread
            self._strike_error = exc

    def strike(self) -> None:
        ctx = FaultContext(
            self.layout, self.backend, self.history, random.Random(f"disaster:{self.seed}")
        )
        if self.scenario.disaster.during_backup and self.scenario.kind.takes_the_machine:
            self.pctx.crashed.set()  # the procedure goes down with the machine
        self.fault = inflict(ctx, self.scenario.disaster)

    def disaster(self) -> None:
        if self.fault is None:
            self.strike()
        time.sleep(0.3)  # operations in flight meet the disaster
        if self.workload is not None:  # those stuck on a hung server end after the recovery
            self.workload.stop(timeout=HANG_TIMEOUT)

    def detect(self) -> None:
        assert self.fault is not None
        if self.scenario.recovery_action == "restart":
            answers = survey(self.layout, timeout=HANG_TIMEOUT)
            self.unresponsive = [p for p, a in answers.items() if a is Answer.TIMEOUT]
            what = describe(answers, HANG_TIMEOUT)
            if not what and not serving(self.endpoints, self.prober):
                what = "clients are refused"
            self.detected = (time.monotonic(), what or "the procedure's own restart recovered it")
            return
        manifest = self.backup.manifest if self.backup else None
        try:
            report = run_check(self.layout.root, against=manifest)
            seen = [f for f in report.findings if f.severity.value == "violation"]
            what = f"{len(seen)} violation(s), first: {seen[0]}" if seen else ""
        except FiredrillError as exc:
            what = str(exc)
        if what:
            self.detected = (time.monotonic(), what)
        else:
            self.findings.append(DisasterUndetected(self.fault.kind, self.fault.detail))

    def recover(self) -> None:
        if self.scenario.recovery_action == "restart":
            (self.options.restart or restart_through_logs)(self.pctx, self.unresponsive)
            self._operations_ended()
            return
        try:
            self.restore = run_restore(self.procedure, self.pctx, self.work / "backup")
        except FiredrillError as exc:  # go on: what the failed restore left is the evidence
            self.findings.append(ProcedureError("restore", str(exc)))
            self.restore_output = "\n".join(self.pctx.outputs)
        self._operations_ended()

    def _operations_ended(self) -> None:
        """Operations stuck when the disaster struck have ended (failed or acknowledged) before
        anything is checked against the history."""
        if self.workload is not None and not self.workload.join(STRAGGLER_TIMEOUT):
            raise FiredrillError(
                f"workload operations still running {STRAGGLER_TIMEOUT:g}s after recovery"
            )

    def service_ready(self) -> None:
        failed = any(isinstance(f, ProcedureError) for f in self.findings)
        timeout = self.options.ready_timeout / (8 if failed else 1)
        self.ready_at = wait_until_serving(self.endpoints, self.prober, timeout)
        if self.ready_at is None:
            self.findings.append(
                ServiceNotRestored(
                    "allservers", f"no SMTP banner and POP3/IMAP login within {timeout:g}s"
                )
            )

    def spool_drained(self) -> None:
        spool = Spool(self.layout.spool)
        timeout = SPOOL_TIMEOUT if self.ready_at is not None else self.options.ready_timeout / 8
        deadline = time.monotonic() + timeout
        while spool.paths() and time.monotonic() < deadline:
            time.sleep(0.1)
        if spool.paths():
            self.findings.append(
                SpoolNotDrained(
                    "mta/spool", f"{len(spool.paths())} queued message(s) after {timeout:g}s"
                )
            )

    def verify(self) -> None:
        restored = self.scenario.recovery_action == "restore"
        manifest = self.backup.manifest if (restored and self.backup) else None
        self.check = run_check(self.layout.root, history=self.history.path, against=manifest)
        self.findings += self.check.findings
        if restored and self.fault is not None:
            self.came_back = reporting.came_back(self.layout, self.fault, manifest)
            for item in self.came_back:
                if item["back"] is False and item["expected"]:
                    self.findings.append(DamageNotRepaired(str(item["id"]), str(item["kind"])))
        self.delivered_from_backup_spool = reporting.delivered(self.layout, self.spooled_at_backup)

    def verdict(self) -> None:
        restored = self.scenario.recovery_action == "restore"
        point = self.backup.point.mono if self.backup else None
        manifest = self.backup.manifest if self.backup else None
        classified, lost = classify(
            self.scenario,
            self.findings,
            self.history.path,
            restored=restored,
            point_mono=point,
            backup_messages=summarize(manifest).messages if manifest else None,
        )
        misses = [t["name"] for t in reporting.targets(self) if t["met"] is False]
        self.judgement = judge(
            classified,
            lost,
            checker_errors=len(self.check.errors) if self.check else 0,
            target_misses=misses,
            fail_on_targets=self.scenario.expect.fail_on_targets,
        )


@dataclass
class DrillResult:
    verdict: Verdict
    report_dir: Path
    report: dict[str, Any] = field(default_factory=dict)


def backend_class(name: str) -> type:
    """The class of the backend called `name`, built from a Layout (docker imported only when
    asked for)."""
    if name == "docker":
        from harness.environments.containers import DockerBackend

        return DockerBackend
    if name == "local":
        return LocalBackend
    raise FiredrillError(f"unknown backend {name!r}: choose local or docker")


def check_backend(scenario: Scenario, backend: str) -> None:
    """Refuse a scenario whose disaster needs a capability the backend lacks (MissingCapability),
    before anything starts."""
    require(scenario.disaster.kind, backend_class(backend), backend)


def run_drill(scenario: Scenario, options: DrillOptions) -> DrillResult:
    """Run one drill; the report is written whatever happens (Ctrl-C re-raises after it).

    A backend that cannot inflict the scenario's disaster is refused before anything starts.
    """
    check_backend(scenario, options.backend)
    drill = Drill(scenario, options)
    steps = (
        ("traffic", drill.traffic),
        ("backup", drill.take_backup),
        ("traffic after backup", drill.after_backup),
        ("disaster", drill.disaster),
        ("detection", drill.detect),
        ("recovery", drill.recover),
        ("service ready", drill.service_ready),
        ("spool drained", drill.spool_drained),
        ("verify", drill.verify),
        ("verdict", drill.verdict),
    )
    with drill.sandbox():
        try:
            with drill.phase("populate"):
                drill.populate()
            with drill.servers():
                with drill.phase("start"):
                    drill.start()
                for name, step in steps:
                    with drill.phase(name):
                        step()
        except ProcedureFailed as exc:  # the backup failed: there is nothing to restore
            drill.findings.append(ProcedureError("backup", str(exc)))
            drill.restore_output = "\n".join(drill.pctx.outputs)
            _judge_after_failure(drill)
        except KeyboardInterrupt:
            drill.error = "interrupted (Ctrl-C)"
            reporting.write(drill)
            raise
        except FiredrillError as exc:
            drill.error = str(exc)
        except Exception as exc:  # a harness bug: keep the evidence, say so, no traceback
            drill.error = f"internal error: {type(exc).__name__}: {exc}"
            drill.traceback = traceback.format_exc()
        report = reporting.write(drill)
    verdict = drill.judgement.verdict if drill.judgement and not drill.error else Verdict.UNKNOWN
    return DrillResult(verdict, drill.report_dir, report)


def _judge_after_failure(drill: Drill) -> None:
    classified, lost = classify(
        drill.scenario, drill.findings, drill.history.path, restored=False, point_mono=None
    )
    drill.judgement = judge(
        classified, lost, checker_errors=0, target_misses=[], fail_on_targets=False
    )
