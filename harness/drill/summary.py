"""The terminal's summary of a drill: the verdict line, then each reason, rendered from the one
judgement (the same reasons report.json, junit.xml and report.html give)."""

from __future__ import annotations

from harness.drill.report import DrillReport


def _value(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{value:g}{unit}"


def summary(report: DrillReport) -> str:
    """`PASS: default (RTO 2.3s, RPO 40 message(s) / 5.0s)` and one indented line per reason
    (each violation, each failing target, or why there is no verdict), then a note for each
    target missed that the scenario does not enforce, and each invariant not evaluated."""
    m, judgement = report.judgement.metrics, report.judgement
    rpo = f"{m.rpo_messages} message(s)" if m.rpo_messages is not None else "—"
    lines = [
        f"{judgement.verdict.value.upper()}: {report.record.scenario.name} "
        f"(RTO {_value(m.rto_seconds, 's')}, RPO {rpo} / {_value(m.rpo_seconds, 's')})"
    ]
    lines += [f"  {reason}" for reason in judgement.reasons]
    lines += [
        f"  note: target missed, not enforced (fail_on_targets = false): {t.why}"
        for t in judgement.targets
        if t.status == "missed" and not t.enforced
    ]
    lines += [
        f"  not evaluated: invariant {n.invariant}: {n.reason}" for n in judgement.not_evaluated
    ]
    if report.record.error and report.record.error not in judgement.reasons:
        lines.append(f"  error: {report.record.error}")
    return "\n".join(lines)
