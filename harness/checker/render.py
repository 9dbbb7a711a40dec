"""Human output of a check: verdict first, then findings grouped by kind with counts."""

from __future__ import annotations

from collections import defaultdict

from harness.checker.findings import Finding, Severity
from harness.checker.run import CheckReport

SHOWN_PER_KIND = 10


def render_text(report: CheckReport) -> str:
    counts = {s: sum(f.severity is s for f in report.findings) for s in Severity}
    lines = [
        f"{report.verdict().value.upper()}: {report.root}"
        + (f" against {report.against}" if report.against else ""),
        "  "
        + ", ".join(f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in Severity)
        + f"; {report.stats.get('messages_verified', 0):,} messages "
        f"({report.stats.get('bytes_verified', 0) / 1e6:,.1f} MB) verified, "
        f"{report.stats.get('accounts', 0):,} accounts, in {report.seconds:.1f}s",
    ]
    groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        groups[finding.kind].append(finding)
    order = sorted(groups, key=lambda k: (list(Severity).index(groups[k][0].severity), k))
    for kind in order:
        group = groups[kind]
        first = group[0]
        lines.append(
            f"\n{kind} ({first.severity.value}, invariant {first.invariant}): {len(group)}"
        )
        for finding in group[:SHOWN_PER_KIND]:
            lines.append(f"  {finding.subject}" + (f": {finding.detail}" if finding.detail else ""))
        if len(group) > SHOWN_PER_KIND:
            lines.append(f"  ... and {len(group) - SHOWN_PER_KIND} more (--json lists all)")
        lines.append(f"  remedy: {first.remedy}")
    for error in report.errors:
        lines.append(f"\ncheck {error.check!r} crashed: {error.error} (its invariant is unknown)")
    for skip in report.skipped:
        lines.append(f"\nnot checked: {skip.check}: {skip.reason}")
    return "\n".join(lines)
