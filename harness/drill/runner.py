"""The drill runner: a scenario in, a record, its judgement and the reports out.

1. populate        a fresh seeded installation in a private sandbox (lab.sandbox)
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
11. verify         invariants 1-7 against the history and the backup manifest; invariant 10:
                   what the followed accounts are served equals what the store holds
12. restart        a clean imctrl stop/start allservers, service ready again, the offline
                   check and the served comparison again (invariant 10: nothing new broke);
                   after the RTO, which ended at 9
13. verdict        judge(record): findings classified, losses listed, metrics, targets

Each phase is a function (harness.drill.phases, .evidence) returning a frozen record; the
`Recorder` composes them into the drill's record, saved to report.json after every phase.
Scopes (the sandbox, the servers, the workload) are context managers that clean up after
pass, fail, error and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checker.findings import Verdict
from harness.drill import evidence, lab, phases
from harness.drill.outputs import write_outputs
from harness.drill.record import DrillRecord, Paths, Span, TrafficRecord
from harness.drill.report import DrillReport, save, versions
from harness.environments import backend_class, require_available
from harness.errors import FiredrillError
from harness.faults.kinds import require
from harness.history import HistoryWriter, Stamp
from harness.procedures import Procedure, ProcedureContext, Restart, procedure_for
from harness.scenarios.scenario import Scenario, absolute_commands, require_runnable
from harness.workload.runner import Workload, endpoints_of


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
    ready_timeout: float = phases.READY_TIMEOUT
    """How long recovery may take before the service counts as not restored (seconds)."""


@dataclass(frozen=True, slots=True)
class DrillResult:
    verdict: Verdict
    report_dir: Path
    report: DrillReport


class DrillInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped a drill; its report was written first (`result`)."""

    def __init__(self, result: DrillResult) -> None:
        super().__init__("interrupted (Ctrl-C)")
        self.result = result


class Recorder:
    """The drill's record as it grows: each phase adds its record (`add`), a new frozen
    DrillRecord each time, and the whole is saved to report.json when each phase begins and
    ends."""

    def __init__(self, record: DrillRecord, report_dir: Path, *, progress: bool) -> None:
        self.record = record
        self.report_dir = report_dir
        self.progress = progress

    def add(self, **parts: Any) -> None:
        self.record = dataclasses.replace(self.record, **parts)

    @contextlib.contextmanager
    def phase(self, name: str, history: HistoryWriter | None = None) -> Iterator[None]:
        start = time.monotonic() - self.record.started.mono
        self.add(timeline=(*self.record.timeline, Span(name, round(start, 3))))
        self.save()  # a drill killed now leaves a record saying which phase it was in
        if history is not None:
            history.event("phase", name)
        if self.progress:
            print(f"[{start:7.2f}s] {name}", flush=True)
        error = ""
        try:
            yield
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            end = round(time.monotonic() - self.record.started.mono, 3)
            span = Span(name, round(start, 3), end, error)
            self.add(timeline=(*self.record.timeline[:-1], span))
            self.save()

    def save(self) -> DrillReport:
        report = DrillReport.of(self.record)
        save(self.report_dir, report)
        return report


def check_backend(scenario: Scenario, backend: str) -> None:
    """Refuse, before anything starts, a backend that cannot run here, a scenario whose
    disaster needs a capability the backend lacks (MissingCapability), or custom commands
    that cannot run here (InvalidScenario: a replayed record's script may be gone)."""
    require_runnable(scenario)
    require(scenario.disaster.kind, backend_class(backend), backend)
    require_available(backend)


def run_drill(scenario: Scenario, options: DrillOptions) -> DrillResult:
    """Run one drill; the report is written whatever happens (Ctrl-C raises DrillInterrupted,
    a KeyboardInterrupt, after it).

    A backend that cannot inflict the scenario's disaster is refused before anything starts.
    """
    check_backend(scenario, options.backend)
    scenario = absolute_commands(scenario)
    report_dir = lab.new_report_dir(options.report_dir, scenario.name).absolute()
    recorder = Recorder(
        _first_record(scenario, options, report_dir), report_dir, progress=options.progress
    )
    try:
        with lab.sandbox(scenario.name, keep=options.keep, logs_to=report_dir / "logs") as box:
            if options.keep:
                recorder.add(
                    paths=dataclasses.replace(recorder.record.paths, kept_tree=str(box.work))
                )
            _run(recorder, box, scenario, options)
            recorder.add(complete=True)
    except KeyboardInterrupt:
        recorder.add(error="interrupted (Ctrl-C)")
        report = _finish(recorder)
        raise DrillInterrupted(DrillResult(report.judgement.verdict, report_dir, report)) from None
    except FiredrillError as exc:
        recorder.add(error=str(exc))
    except Exception as exc:  # a harness bug: keep the evidence, say so, no traceback printed
        recorder.add(
            error=f"internal error: {type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )
    report = _finish(recorder)
    return DrillResult(report.judgement.verdict, report_dir, report)


def _first_record(scenario: Scenario, options: DrillOptions, report_dir: Path) -> DrillRecord:
    seed = scenario.population.seed if options.seed is None else options.seed
    procedure = options.procedure.name if options.procedure else scenario.backup.procedure
    paths = Paths(
        history=str((report_dir / "history.jsonl").absolute()),
        logs=str((report_dir / "logs").absolute()),
    )
    return DrillRecord(
        scenario,
        seed,
        options.backend,
        Stamp.now(),
        procedure,
        paths,
        versions=versions(),
        command=tuple(sys.argv),
    )


def _finish(recorder: Recorder) -> DrillReport:
    report = recorder.save()
    write_outputs(recorder.report_dir, report)
    return report


def _run(recorder: Recorder, box: lab.Sandbox, scenario: Scenario, options: DrillOptions) -> None:
    """The phases, in their scopes: the history, the servers, the workload."""
    seed = recorder.record.seed
    with recorder.phase("populate"):
        recorder.add(populate=lab.populated(box, scenario.population.tier, seed))
    history = HistoryWriter(recorder.report_dir / "history.jsonl")
    with contextlib.closing(history), lab.servers(box.layout, options.backend) as backend:
        running = phases.Lab(
            box,
            backend,
            history,
            endpoints_of(box.layout),
            lab.prober(box.layout),
            recorder.report_dir,
            lab.passwords(box.layout),
        )
        with recorder.phase("start", history):
            recorder.add(start=phases.start(running))
        with recorder.phase("traffic", history):
            workload = phases.traffic(running, scenario, seed)
        try:
            _after_traffic(recorder, running, scenario, options, workload)
        finally:
            workload.stop(timeout=20)
            recorder.add(traffic=TrafficRecord(tuple(sorted(workload.stats.items()))))


def _after_traffic(
    recorder: Recorder,
    running: phases.Lab,
    scenario: Scenario,
    options: DrillOptions,
    workload: Workload,
) -> None:
    """Backup, disaster, detection, recovery, service, spool, verify, restart."""
    seed, history = recorder.record.seed, running.history
    b = scenario.backup
    procedure = options.procedure or procedure_for(b.procedure, b.backup_cmd, b.restore_cmd)
    ctx = ProcedureContext(
        running.layout, running.backend, history, running.box.work, timeout=b.timeout
    )
    with recorder.phase("backup", history):
        taken, struck = phases.backup(running, scenario, procedure, ctx, seed)
        recorder.add(backup=taken, fault=struck)
    if taken.failed:  # there is nothing to restore from: the drill ends here, failed
        return
    manifest = taken.backup.manifest if taken.backup else None
    if manifest is not None:
        recorder.add(paths=dataclasses.replace(recorder.record.paths, manifest=str(manifest)))
    with recorder.phase("traffic after backup", history):
        if struck is None:
            time.sleep(scenario.traffic.after_backup)
    with recorder.phase("disaster", history):
        fault = struck or phases.disaster(running, scenario, seed, workload)
        if struck is not None:
            workload.stop(timeout=phases.HANG_TIMEOUT)
        recorder.add(fault=fault)
    with recorder.phase("detection", history):
        found = phases.detection(running, scenario, manifest)
        recorder.add(detection=found)
    with recorder.phase("recovery", history):
        recovered = phases.recovery(
            running, scenario, procedure, ctx, found.unresponsive, options.restart
        )
        recorder.add(recovery=recovered)
        phases.operations_ended(workload)
    with recorder.phase("service ready", history):
        served = phases.ready(running, bool(recovered.failed), options.ready_timeout)
        recorder.add(ready=served)
    with recorder.phase("spool drained", history):
        recorder.add(spool=phases.spool(running, served.at is not None, options.ready_timeout))
    access = running.access if served.at is not None else None
    with recorder.phase("verify", history):
        verified, state = evidence.verify(
            running.layout, history, scenario, taken, fault, access=access, seed=seed
        )
        recorder.add(verify=verified)
    if served.at is None:  # nothing serves clients: there is no service a restart could damage
        return
    with recorder.phase("restart", history):
        timeout = options.ready_timeout
        recorder.add(restart=phases.restart(running, scenario, taken, seed, timeout, state))
