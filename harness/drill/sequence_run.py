"""Run a sequence scenario: populate, start, apply each step, verify after each, report.

The run stops at the first step after which the installation differs from the reference
model; `sequence.json` in the report directory lists every step with its divergences.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fixtures.populate import populate
from fixtures.tiers import tier
from harness.drill.stepper import Divergence, Stepper
from harness.environments.network import lease_network
from harness.layout import Layout
from harness.scenarios.sequence import Sequence, resolve_procedure


@dataclass
class SequenceResult:
    passed: bool
    report_dir: Path
    steps_run: int = 0
    divergences: list[Divergence] = field(default_factory=list)


def run_sequence(
    sequence: Sequence,
    report_dir: Path,
    *,
    keep: bool = False,
    say: Callable[[str], None] = print,
) -> SequenceResult:
    """Run every step of `sequence` on a fresh installation; stop at the first divergence."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = report_dir / f"{stamp}-{sequence.name}"
    out.mkdir(parents=True, exist_ok=True)
    result = SequenceResult(True, out)
    rows: list[dict[str, object]] = []
    work = Path(tempfile.mkdtemp(prefix=f"firedrill-{sequence.name}-"))
    started = time.monotonic()
    try:
        with lease_network() as network:
            populate(work / "intermail", tier(sequence.tier), sequence.seed, network=network)
            stepper = Stepper(
                Layout(work / "intermail"), resolve_procedure(sequence.procedure), work
            )
            try:
                stepper.open()
                result.divergences = stepper.verify()
                rows.append(_row(0, "start", result.divergences))
                for n, step in enumerate(sequence.steps, 1):
                    if result.divergences:
                        break
                    t0 = time.monotonic()
                    result.divergences = stepper.apply(step) or stepper.verify()
                    result.steps_run = n
                    rows.append(_row(n, str(step), result.divergences, time.monotonic() - t0))
                    mark = "ok " if not result.divergences else "DIVERGES"
                    say(f"[{n:3}] {mark} {step}")
                    for d in result.divergences:
                        say(f"        {d}")
            finally:
                stepper.close()
    finally:
        if keep:
            say(f"kept the installation in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        result.passed = not result.divergences
        report = {
            "sequence": sequence.name,
            "procedure": sequence.procedure,
            "tier": sequence.tier,
            "seed": sequence.seed,
            "verdict": "pass" if result.passed else "fail",
            "seconds": round(time.monotonic() - started, 2),
            "steps": rows,
            "file": sequence.to_toml(),
        }
        (out / "sequence.json").write_text(json.dumps(report, indent=2) + "\n")
    return result


def _row(n: int, step: str, found: list[Divergence], seconds: float = 0.0) -> dict[str, object]:
    return {
        "n": n,
        "step": step,
        "seconds": round(seconds, 3),
        "divergences": [{"kind": d.kind, "id": d.id, "detail": d.detail} for d in found],
    }
