"""Sample drill reports (tests/fixtures/reports, format 2) and variants of them for the tests of
the outputs: a variant changes the record and is judged again, as the runner would."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from harness.checker.findings import InboxDiffers
from harness.drill.record import DrillRecord
from harness.drill.report import DrillReport, SequenceReport, load_report, save
from harness.drill.sequence_record import SequenceRecord, StepRecord, judge_sequence
from harness.history import Stamp

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reports"
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if (p / "report.json").is_file())


@functools.cache
def sample(name: str) -> DrillReport:
    """The sample report `name` (read and validated once: a report is frozen, share it)."""
    return load_report(FIXTURES / name)[1]


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "report.json").read_text())
    return data


def changed(report: DrillReport, **changes: Any) -> DrillReport:
    """The report of the record with `changes`, judged again."""
    record: DrillRecord = dataclasses.replace(report.record, **changes)
    return DrillReport.of(record)


def stopped(report: DrillReport, error: str, traceback: str = "") -> DrillReport:
    """The drill as if the harness had stopped it (an error, incomplete)."""
    return changed(report, error=error, traceback=traceback, complete=False)


def write(directory: Path, report: DrillReport) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    save(directory, report)
    return directory


def sequence_sample(first_step: str = "restore") -> SequenceReport:
    """A failed sequence run: after its one step, an INBOX differs from the model."""
    finding = InboxDiffers("user1@example.com", "missing ['<sm.1@firedrill.test>']")
    record = SequenceRecord(
        "restore-without-mbox",
        "chapter13",
        "XS",
        1,
        "local",
        Stamp(1.0, 2.0),
        f'[[step]]\naction = "{first_step}"\n',
        (StepRecord(0, "start", 0.0), StepRecord(1, "restore()", 0.5, (finding,))),
        planned=1,
        complete=True,
    )
    return SequenceReport(record, judge_sequence(record))
