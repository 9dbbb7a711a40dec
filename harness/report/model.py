"""Read-only views of a report.json dict shared by the JUnit, HTML, terminal and trend outputs.

Every accessor tolerates a partial report (a drill that stopped early: no fault, no backup, a
phase without an end) and missing keys, so an output can always be written for what exists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Report = Mapping[str, Any]

VERDICTS = ("pass", "fail", "unknown")


def verdict(report: Report) -> str:
    value = str(report.get("verdict") or "unknown")
    return value if value in VERDICTS else "unknown"


def scenario(report: Report) -> Mapping[str, Any]:
    value = report.get("scenario")
    return value if isinstance(value, Mapping) else {}


def scenario_name(report: Report) -> str:
    return str(scenario(report).get("name") or "drill")


def section(report: Report, key: str) -> Mapping[str, Any]:
    """A sub-object of the report ({} when null or missing)."""
    value = report.get(key)
    return value if isinstance(value, Mapping) else {}


def rows(report: Report, key: str) -> list[Mapping[str, Any]]:
    """A list of objects of the report ([] when null or missing)."""
    value = report.get(key)
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def metric(report: Report, name: str) -> float | None:
    return number(section(report, "metrics").get(name))


def started(report: Report) -> float | None:
    return number(report.get("started"))


def iso(wall: float | None) -> str:
    """A wall-clock Unix time as `2025-11-26 04:39:59 UTC`."""
    if wall is None:
        return "—"
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(report: Report, wall: Any) -> float | None:
    """A wall-clock time as seconds since the drill started (the timeline's clock)."""
    at, origin = number(wall), started(report)
    if at is None or origin is None:
        return None
    return at - origin


def fault_time(report: Report) -> float | None:
    """When the disaster struck, in seconds from the drill's start."""
    return relative(report, section(report, "fault").get("at"))


def struck_time(report: Report) -> float | None:
    """When the damage was complete (recovery time runs from here), in seconds from the drill's
    start; reports written before `struck` existed give the fault's start."""
    fault = section(report, "fault")
    return relative(report, fault.get("struck", fault.get("at")))


def point_time(report: Report) -> float | None:
    """The backup's consistency point, in seconds from the drill's start."""
    return relative(report, section(report, "backup").get("consistency_point"))


def limit(value: float) -> str:
    """A target: `60 s`, `15 min`, `2.5 s` (no useless decimals)."""
    if value.is_integer() and value < 120:
        return f"{int(value)} s"
    return seconds(value)


def plain(value: Any) -> str:
    """A number without a useless `.0`; anything else as str."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def seconds(value: float | None, *, digits: int = 2) -> str:
    if value is None:
        return "—"
    if value >= 120:
        minutes, rest = divmod(round(value), 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"
    return f"{value:.{digits}f} s"


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    start: float
    end: float | None
    error: str

    @property
    def duration(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - self.start)


def phases(report: Report) -> list[Phase]:
    result = []
    for row in rows(report, "timeline"):
        start = number(row.get("start"))
        if start is None:
            continue
        result.append(
            Phase(
                str(row.get("phase", "?")),
                start,
                number(row.get("end")),
                str(row.get("error") or ""),
            )
        )
    return result


def duration(report: Report) -> float:
    """Seconds from the drill's start to the end of its last phase (0 when there is none)."""
    ends = [p.end if p.end is not None else p.start for p in phases(report)]
    return max(ends, default=0.0)


# -- metrics against targets -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measure:
    """One headline number with its target, if the scenario sets one."""

    key: str
    label: str
    value: float | None
    unit: str
    target: float | None = None
    met: bool | None = None
    enforced: bool = False

    @property
    def has_target(self) -> bool:
        return self.target is not None

    def text(self) -> str:
        if self.value is None:
            return "—"
        if self.unit == "messages":
            n = int(self.value)
            return f"{n} message{'s' if n != 1 else ''}"
        return seconds(self.value)

    def target_text(self) -> str:
        if self.target is None:
            return ""
        if self.unit == "messages":
            return f"≤ {int(self.target)} messages"
        return f"≤ {limit(self.target)}"

    @property
    def status(self) -> str:
        """`met`, `missed`, `unmeasured` (a target without a value) or `none` (no target)."""
        if self.target is None:
            return "none"
        if self.met is None:
            return "unmeasured"
        return "met" if self.met else "missed"


def measures(report: Report) -> list[Measure]:
    """RTO, backup window, restore time and RPO (seconds and messages) with their targets.

    A restore drill that took no backup has no RPO (None, target unmeasured).
    """
    m = section(report, "metrics")
    enforced = bool(section(scenario(report), "expect").get("fail_on_targets"))
    by_name = {str(t.get("name")): t for t in rows(report, "targets")}

    # Without a backup a restore drill has no recovery point: the writer's 0 means "not measured".
    no_point = scenario(report).get("recovery_action") == "restore" and not section(
        report, "backup"
    )

    def measure(key: str, label: str, unit: str) -> Measure:
        t = by_name.get(key, {})
        met = t.get("met")
        value = number(m.get(key))
        if no_point and key.startswith("rpo"):
            value, met = None, None
        return Measure(
            key,
            label,
            value,
            unit,
            number(t.get("target")),
            met if isinstance(met, bool) else None,
            enforced,
        )

    return [
        measure("rto_seconds", "RTO", "seconds"),
        measure("backup_window_seconds", "Backup window", "seconds"),
        measure("restore_seconds", "Restore time", "seconds"),
        measure("rpo_seconds", "RPO", "seconds"),
        measure("rpo_messages", "RPO (messages)", "messages"),
    ]


# -- findings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """All findings of one kind."""

    kind: str
    severity: str
    invariant: int | None
    remedy: str
    classifications: tuple[tuple[str, int], ...]
    items: tuple[Mapping[str, Any], ...]

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def worst(self) -> str:
        """The classification that matters most: violation > leak > warning > allowed."""
        present = {c for c, _ in self.classifications}
        for c in ("violation", "leak", "warning", "allowed"):
            if c in present:
                return c
        return self.severity


def classification(finding: Mapping[str, Any]) -> str:
    """A judged finding's classification; an unjudged one's severity stands in for it."""
    return str(finding.get("classification") or finding.get("severity") or "violation")


_ORDER = {"violation": 0, "leak": 1, "warning": 2, "allowed": 3}


def group_findings(findings: Sequence[Mapping[str, Any]]) -> list[FindingGroup]:
    """Findings grouped by kind, the groups holding violations first, then by count."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        groups.setdefault(str(f.get("kind", "?")), []).append(f)
    result = []
    for kind, items in groups.items():
        first = items[0]
        inv = first.get("invariant")
        counts = Counter(classification(f) for f in items)
        result.append(
            FindingGroup(
                kind,
                str(first.get("severity", "")),
                inv if isinstance(inv, int) and not isinstance(inv, bool) else None,
                str(first.get("remedy", "")),
                tuple(sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 9))),
                tuple(items),
            )
        )
    result.sort(key=lambda g: (_ORDER.get(g.worst, 9), -g.count, g.kind))
    return result


def finding_line(finding: Mapping[str, Any]) -> str:
    """`kind id: detail`."""
    subject = str(finding.get("id", ""))
    line = f"{finding.get('kind', '?')} {subject}"
    detail = str(finding.get("detail") or "").removeprefix(f"{subject}: ")
    return f"{line}: {detail}" if detail else line


def violations(report: Report) -> list[Mapping[str, Any]]:
    return [f for f in rows(report, "findings") if classification(f) == "violation"]


def headline(report: Report) -> str:
    """One sentence: what happened, in the reader's terms."""
    word = verdict(report)
    if word == "unknown":
        why = str(report.get("error") or "") or "; ".join(map(str, report.get("reasons") or []))
        return f"The drill could not reach a verdict: {why}"
    bad = violations(report)
    if word == "fail":
        if 0 < len(bad) <= 2:
            return "; ".join(finding_line(f) for f in bad) + "."
        if bad:
            kinds = Counter(str(f.get("kind")) for f in bad)
            listed = ", ".join(f"{k} ×{n}" for k, n in kinds.most_common(3))
            more = f" and {len(kinds) - 3} more kinds" if len(kinds) > 3 else ""
            return f"{len(bad)} violation{'s' if len(bad) != 1 else ''}: {listed}{more}."
        return "Failed: " + "; ".join(map(str, report.get("reasons") or [])) + "."
    lost = rows(report, "lost_operations")
    allowed = sum(1 for x in lost if x.get("classification") == "allowed")
    rto = metric(report, "rto_seconds")
    recovered = (
        f"Service was back {seconds(rto)} after the disaster" if rto is not None else "Recovered"
    )
    loss = (
        f"; {allowed} acknowledged operation{'s' if allowed != 1 else ''} lost, all after the "
        "backup's consistency point (allowed)"
        if allowed
        else "; nothing acknowledged was lost"
    )
    return f"{recovered}{loss}; no violations."
