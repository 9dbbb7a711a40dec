"""Run a sequence scenario: populate, start, apply each step, verify after each, report.

The same engine as a drill: the lab's report directory, sandbox and backend (local or docker),
the same typed findings and judgement, report.json (format 2, with a `sequence` record instead
of a drill's) written after every step, and junit.xml with one test case per step. The run
stops at the first step after which the installation differs from the reference model.
"""

from __future__ import annotations

import dataclasses
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.drill import lab
from harness.drill.report import SequenceReport, save
from harness.drill.sequence_record import SequenceRecord, StepRecord, judge_sequence
from harness.drill.stepper import Stepper
from harness.environments import require_available
from harness.errors import FiredrillError
from harness.history import Stamp
from harness.report import JUNIT_NAME
from harness.report.junit import clean, write_xml
from harness.scenarios.sequence import Sequence, resolve_procedure


@dataclass(frozen=True, slots=True)
class SequenceResult:
    report_dir: Path
    report: SequenceReport

    @property
    def passed(self) -> bool:
        return self.report.judgement.verdict.value == "pass"


class _Steps:
    """The record as the steps add to it, saved after each."""

    def __init__(self, record: SequenceRecord, report_dir: Path) -> None:
        self.record = record
        self.report_dir = report_dir

    def add(self, step: StepRecord) -> None:
        self.record = dataclasses.replace(self.record, steps=(*self.record.steps, step))
        self.save()

    def save(self) -> SequenceReport:
        report = SequenceReport(self.record, judge_sequence(self.record))
        save(self.report_dir, report)
        return report


def run_sequence(
    sequence: Sequence,
    report_dir: Path,
    *,
    backend: str = "local",
    keep: bool = False,
    say: Callable[[str], None] = print,
) -> SequenceResult:
    """Run every step of `sequence` on a fresh installation; stop at the first finding."""
    procedure = resolve_procedure(sequence.procedure)
    require_available(backend)
    out = lab.new_report_dir(report_dir, sequence.name)
    steps = _Steps(_first_record(sequence, backend), out)
    try:
        with lab.sandbox(sequence.name, keep=keep, logs_to=out / "logs") as box:
            lab.populated(box, sequence.tier, sequence.seed)
            with lab.servers(box.layout, backend) as servers:
                stepper = Stepper(box.layout, procedure, box.work, servers)
                try:
                    _steps(stepper, sequence, steps, say)
                finally:
                    stepper.close()
            if keep:
                say(f"kept the installation in {box.work}")
        steps.record = dataclasses.replace(steps.record, complete=True)
    except KeyboardInterrupt:
        steps.record = dataclasses.replace(steps.record, error="interrupted (Ctrl-C)")
        _finish(steps)
        raise
    except FiredrillError as exc:
        steps.record = dataclasses.replace(steps.record, error=str(exc))
    return SequenceResult(out, _finish(steps))


def _first_record(sequence: Sequence, backend: str) -> SequenceRecord:
    return SequenceRecord(
        sequence.name,
        sequence.procedure,
        sequence.tier,
        sequence.seed,
        backend,
        Stamp.now(),
        sequence.to_toml(),
        planned=len(sequence.steps),
    )


def _steps(stepper: Stepper, sequence: Sequence, steps: _Steps, say: Callable[[str], None]) -> None:
    stepper.open()
    steps.add(StepRecord(0, "start", 0.0, tuple(stepper.verify())))
    for n, step in enumerate(sequence.steps, 1):
        if steps.record.steps[-1].findings:
            return
        t0 = time.monotonic()
        found = stepper.apply(step) or stepper.verify()
        steps.add(StepRecord(n, str(step), round(time.monotonic() - t0, 3), tuple(found)))
        say(f"[{n:3}] {'ok ' if not found else 'DIVERGES'} {step}")
        for finding in found:
            say(f"        {finding}")


def _finish(steps: _Steps) -> SequenceReport:
    report = steps.save()
    write_xml(sequence_junit(report), steps.report_dir / JUNIT_NAME)
    return report


def sequence_junit(report: SequenceReport) -> ET.Element:
    """junit.xml of a sequence: one test case per step, failed with its findings."""
    record = report.record
    suites = ET.Element("testsuites", name="firedrill")
    suite = ET.SubElement(suites, "testsuite", name=clean(record.sequence))
    failures = 0
    for step in record.steps:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"firedrill.sequence.{clean(record.sequence)}",
            name=clean(f"step {step.n}: {step.step}"),
            time=f"{step.seconds:.3f}",
        )
        if step.findings:
            failures += 1
            lines = [str(f) for f in step.findings]
            failure = ET.SubElement(case, "failure", message=clean(lines[0]))
            failure.set("type", clean(" ".join(sorted({f.kind for f in step.findings}))))
            failure.text = clean("\n".join(f"{f}\n    remedy: {f.remedy}" for f in step.findings))
    if record.error:
        case = ET.SubElement(suite, "testcase", name="sequence ran to completion")
        ET.SubElement(case, "error", message=clean(record.error))
    for element in (suites, suite):
        element.set("tests", str(len(suite)))
        element.set("failures", str(failures))
        element.set("errors", str(int(bool(record.error))))
    return suites
