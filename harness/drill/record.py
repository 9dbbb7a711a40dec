"""The record of a drill: one frozen `DrillRecord` composed of what each phase returned.

Each phase of the runner is a function that returns a frozen record (`PopulationSummary`,
`StartRecord`, `BackupPhase`, `FaultRecord`, `DetectionRecord`, `RecoveryRecord`,
`ReadyRecord`, `SpoolRecord`, `VerifyRecord`, `RestartRecord`, `TrafficRecord`); the runner
composes them with
`dataclasses.replace` and saves the record after every phase, so a killed drill leaves a
readable partial record (`complete` false). The record holds facts only: the verdict is a pure
function of it (`harness.drill.verdict.judge`).

Moments are `Stamp`s (monotonic seconds for durations, wall-clock Unix seconds for people);
timeline spans are seconds since the drill started, on the monotonic clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixtures.populate import PopulationSummary
from harness.checker.run import CheckReport
from harness.checker.served import ServedReport
from harness.checker.tree_state import TreeComparison
from harness.drill.codec import Jsonable
from harness.faults.came_back import CameBack
from harness.faults.record import FaultRecord
from harness.history import Stamp
from harness.procedures import BackupRecord, RestoreRecord
from harness.scenarios.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Span:
    """One phase on the timeline: seconds since the drill started (monotonic); `end` None
    while it ran when the record was saved; `error` `Type: message` when it raised."""

    phase: str
    start: float
    end: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class StartRecord:
    """Every server started; `serving` when SMTP, POP3 and IMAP first served a client."""

    serving: Stamp


@dataclass(frozen=True, slots=True)
class RecoveryPoint:
    """A backup checked with `firedrill check`: `clean` True (no violation), False (the
    backup itself is damaged: `findings`, the first violations as `kind id`), or None when it
    could not be checked (`why`: not a tree firedrill reads, e.g. an archive)."""

    taken: Stamp
    clean: bool | None
    findings: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True, slots=True)
class BackupPhase:
    """The backup under test. `backup` is None when there is none: the machine crashed under
    the procedure (`interrupted` says how) or the procedure failed (`failed`, with `output`).
    `spooled` lists the Message-IDs the backup's spool held (delivered again after a restore);
    `recovery_point` is the backup checked as a recovery point."""

    procedure: str
    backup: BackupRecord | None = None
    interrupted: str = ""
    failed: str = ""
    output: str = ""
    spooled: tuple[str, ...] = ()
    recovery_point: RecoveryPoint | None = None


@dataclass(frozen=True, slots=True)
class DetectionRecord:
    """What noticed the disaster and when (`at` None: nothing did). `unresponsive`: servers
    that accepted a connection and said nothing within the probe timeout (hung)."""

    at: Stamp | None
    what: str
    unresponsive: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecoveryRecord:
    """The recovery: a restart through the logs, or a restore (`restore` None when it failed:
    `failed` says why and `output` holds what it printed)."""

    action: str
    restore: RestoreRecord | None = None
    failed: str = ""
    output: str = ""


@dataclass(frozen=True, slots=True)
class ReadyRecord:
    """When every protocol served a client again (`at` None: not within `timeout` seconds)."""

    at: Stamp | None
    timeout: float


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """Queued mail after recovery: `remaining` messages still in mta/spool after `timeout`
    seconds (0: drained)."""

    remaining: int
    timeout: float


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """When the history says operation `op` was acknowledged (for the findings about it)."""

    op: int
    at: Stamp


@dataclass(frozen=True, slots=True)
class VerifyRecord:
    """The final check of the recovered installation against the history (and the backup's
    manifest after a restore), with the evidence the verdict needs: when each operation a
    finding names was acknowledged, orphan message files the backup did not hold (left behind
    by the restore), whether each thing the disaster destroyed came back, how many of the
    backup's spooled messages were delivered after the recovery, and what the followed
    accounts are served against what the store holds (`served`, invariant 10; None when they
    were not compared)."""

    check: CheckReport
    acknowledged: tuple[Acknowledged, ...] = ()
    not_in_backup: tuple[str, ...] = ()
    came_back: tuple[CameBack, ...] = ()
    spooled_delivered: int = 0
    served: ServedReport | None = None


@dataclass(frozen=True, slots=True)
class RestartRecord:
    """The clean restart after verify (invariant 10: the recovered installation survives it).

    `imctrl stop allservers` took `stop_seconds`; `start allservers` until every protocol
    served a client again took `start_seconds` (`ready` None: not within `timeout` seconds;
    `failed`: the stop or the start raised, with its message). Then the offline check again
    (`check`) and the served comparison again (`served`; None when the service did not
    come back). `compared`: the tree after the restart against the state verify's check read
    (None: not compared, `check` is the whole check again); unchanged, `check` holds
    invariant 5's findings of the environments recovered again and verify's other findings
    stand; changed, `check` is the whole check again. What the restart damaged is derived
    from these and verify's by the verdict (`harness.drill.verdict.restart_damage`). Not
    part of the RTO: service was ready before verify."""

    stop_seconds: float
    start_seconds: float
    ready: Stamp | None
    timeout: float
    check: CheckReport | None = None
    served: ServedReport | None = None
    failed: str = ""
    compared: TreeComparison | None = None


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    """The workload's outcome counts, keyed `operation:outcome` (operations)."""

    operations: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Paths:
    """Where the drill's files are: the history, the servers' logs, the backup's manifest
    (kept beside the report), and the installation when kept (--keep)."""

    history: str
    logs: str
    manifest: str | None = None
    kept_tree: str | None = None


@dataclass(frozen=True, slots=True)
class DrillRecord(Jsonable):
    """Everything a drill did and observed, phase by phase (None: the phase has not run)."""

    scenario: Scenario
    seed: int
    backend: str
    started: Stamp
    procedure: str
    """The backup procedure that ran (a flaw's name under selftest)."""
    paths: Paths
    versions: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    timeline: tuple[Span, ...] = ()
    populate: PopulationSummary | None = None
    start: StartRecord | None = None
    backup: BackupPhase | None = None
    fault: FaultRecord | None = None
    detection: DetectionRecord | None = None
    recovery: RecoveryRecord | None = None
    ready: ReadyRecord | None = None
    spool: SpoolRecord | None = None
    verify: VerifyRecord | None = None
    restart: RestartRecord | None = None
    traffic: TrafficRecord | None = None
    error: str = ""
    """A harness error or interruption that stopped the drill."""
    traceback: str = ""
    complete: bool = False
    """The drill ran to its end (even with findings); False for a partial record."""

    def since_start(self, stamp: Stamp) -> float:
        """A moment as seconds since the drill started (the timeline's clock)."""
        return stamp.mono - self.started.mono

    @property
    def restored(self) -> bool:
        return self.scenario.recovery_action == "restore"

    @property
    def point(self) -> Stamp | None:
        """The backup's consistency point, if there is a backup."""
        backup = self.backup.backup if self.backup else None
        return backup.point if backup else None
