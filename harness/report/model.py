"""What the outputs share about one drill report (a `DrillReport`: the record and its one
judgement): the headline, the measures against their targets, findings grouped by kind, the
timeline on the drill's clock, and the formatting of times and counts.

Every output (junit.xml, report.html, the terminal, the trend line) reads the report through
these, so they say the same thing. A partial report (a drill that stopped early: no fault, no
backup, a phase without an end) is handled everywhere. The formatting helpers are total: a
number that is not finite, or a moment no calendar holds, is shown as it is, never raised on;
`printable` makes text from a report safe to print on a terminal.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.drill.record import DrillRecord, Span
from harness.drill.report import DrillReport
from harness.drill.verdict import Classification, Classified, Judgement, Target
from harness.history import Stamp

VERDICTS = ("pass", "fail", "unknown")


def when(wall: float | None) -> datetime | None:
    """A wall-clock Unix time as a UTC datetime; None without one, or when it is not a moment a
    calendar holds (not finite, before year 1 or after 9999)."""
    if wall is None or not math.isfinite(wall):
        return None
    try:
        return datetime.fromtimestamp(wall, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso(wall: float | None) -> str:
    """A wall-clock Unix time as `2025-11-26 04:39:59 UTC` (`—` without one; the raw number
    when it is not a date)."""
    moment = when(wall)
    if moment is not None:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "—" if wall is None else f"{wall:g}"


def limit(value: float) -> str:
    """A target: `60 s`, `15 min`, `2.5 s`, `0.001 s` (no useless decimals, none lost)."""
    if value < 120:
        return f"{value:g} s"
    return seconds(value)


def plain(value: object) -> str:
    """A number without a useless `.0`; anything else as str."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def seconds(value: float | None, *, digits: int = 2) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value) or abs(value) >= 1e9:  # not a duration a drill takes
        return f"{value:g} s"
    if value >= 120:
        minutes, rest = divmod(round(value), 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"
    return f"{value:.{digits}f} s"


def messages(n: float) -> str:
    """`1 message`, `3 messages` (a count that is not finite as it is)."""
    shown = str(int(n)) if math.isfinite(n) else f"{n:g}"
    return f"{shown} message{'s' if shown != '1' else ''}"


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: object, *, breaks: bool = True) -> str:
    """`text` safe to print on a terminal or put in a page: each C0 and C1 control character
    (ESC of an escape sequence, a carriage return, a bell...) and each lone surrogate (which no
    encoding can write) becomes a visible placeholder: a control picture (`␛`, U+241B) for C0
    and DEL, `�` for the rest. Newlines and tabs stay when `breaks` (a line break is meant);
    a CR LF is a newline."""
    text = str(text)
    if breaks:
        return _CONTROL.sub(_placeholder, text.replace("\r\n", "\n"))
    return _CONTROL_IN_LINE.sub(_placeholder, text)


def _placeholder(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def operations_lost(judgement: Judgement) -> tuple[int, Counter[str]]:
    """How many acknowledged operations were lost (an operation counts once, however many of
    its recipients lost it), and how many of them by classification (the worst of each)."""
    worst: dict[int, str] = {}
    for x in judgement.lost:
        now = x.classification.value
        if worst.get(x.op) != "violation":
            worst[x.op] = now
    return len(worst), Counter(worst.values())


# -- the drill's clock ---------------------------------------------------------------------------


def at(record: DrillRecord, stamp: Stamp | None) -> float | None:
    """A moment as seconds since the drill started (None stays None)."""
    return None if stamp is None else record.since_start(stamp)


def fault_time(record: DrillRecord) -> float | None:
    """When the disaster began, in seconds from the drill's start."""
    return at(record, record.fault.at) if record.fault else None


def struck_time(record: DrillRecord) -> float | None:
    """When the damage was complete (recovery time runs from here)."""
    return at(record, record.fault.struck) if record.fault else None


def point_time(record: DrillRecord) -> float | None:
    """The backup's consistency point, in seconds from the drill's start."""
    return at(record, record.point)


def duration(record: DrillRecord) -> float:
    """Seconds from the drill's start to the end of its last phase (0 when there is none)."""
    return max((s.end if s.end is not None else s.start for s in record.timeline), default=0.0)


def span_seconds(span: Span) -> float | None:
    return None if span.end is None else max(0.0, span.end - span.start)


# -- metrics against targets ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measure:
    """One headline number with its target, if the scenario sets one."""

    key: str
    label: str
    value: float | None
    unit: str
    target: Target | None = None

    def text(self) -> str:
        if self.value is None:
            return "—"
        if self.unit == "messages":
            return messages(int(self.value))
        return seconds(self.value)

    def target_text(self) -> str:
        if self.target is None:
            return ""
        if self.unit == "messages":
            return f"≤ {messages(int(self.target.limit))}"
        return f"≤ {limit(self.target.limit)}"

    @property
    def status(self) -> str:
        """`met`, `missed`, `unmeasured` (a target without a value) or `none` (no target)."""
        return "none" if self.target is None else self.target.status

    @property
    def enforced(self) -> bool:
        return self.target is not None and self.target.enforced


def measures(judgement: Judgement) -> list[Measure]:
    """RTO, backup window, restore time and RPO (seconds and messages) with their targets."""
    m = judgement.metrics
    by_metric = {t.metric: t for t in judgement.targets}
    return [
        Measure("rto_seconds", "RTO", m.rto_seconds, "seconds", by_metric.get("rto_seconds")),
        Measure("backup_window_seconds", "Backup window", m.backup_window_seconds, "seconds"),
        Measure("restore_seconds", "Restore time", m.restore_seconds, "seconds"),
        Measure("rpo_seconds", "RPO", m.rpo_seconds, "seconds", by_metric.get("rpo_seconds")),
        Measure(
            "rpo_messages",
            "RPO (messages)",
            None if m.rpo_messages is None else float(m.rpo_messages),
            "messages",
            by_metric.get("rpo_messages"),
        ),
    ]


# -- findings ------------------------------------------------------------------------------------

_ORDER = {"violation": 0, "leak": 1, "warning": 2, "allowed": 3}


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """All findings of one kind, as judged."""

    kind: str
    severity: str
    invariant: int
    remedy: str
    classifications: tuple[tuple[str, int], ...]
    items: tuple[Classified, ...]

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def worst(self) -> str:
        """The classification that matters most: violation > leak > warning > allowed."""
        present = {c for c, _ in self.classifications}
        return next(c for c in _ORDER if c in present)


def group_findings(findings: Sequence[Classified]) -> list[FindingGroup]:
    """Findings grouped by kind, the groups holding violations first, then by count."""
    groups: dict[str, list[Classified]] = {}
    for c in findings:
        groups.setdefault(c.finding.kind, []).append(c)
    result = []
    for kind, items in groups.items():
        first = items[0].finding
        counts = Counter(c.classification.value for c in items)
        result.append(
            FindingGroup(
                kind,
                first.severity.value,
                first.invariant,
                first.remedy,
                tuple(sorted(counts.items(), key=lambda kv: _ORDER[kv[0]])),
                tuple(items),
            )
        )
    result.sort(key=lambda g: (_ORDER[g.worst], -g.count, g.kind))
    return result


def detail(c: Classified) -> str:
    """The finding's detail without a repeated `id: ` prefix."""
    return c.finding.detail.removeprefix(f"{c.finding.subject}: ")


def finding_line(c: Classified) -> str:
    """`kind id: detail`."""
    line = f"{c.finding.kind} {c.finding.subject}"
    text = detail(c)
    return f"{line}: {text}" if text else line


def headline(report: DrillReport) -> str:
    """One sentence: what happened, in the reader's terms."""
    judgement = report.judgement
    word = judgement.verdict.value
    if word == "unknown":
        return f"The drill could not reach a verdict: {'; '.join(judgement.reasons)}"
    bad = judgement.violations
    if word == "fail":
        if 0 < len(bad) <= 2:
            return "; ".join(finding_line(c) for c in bad) + "."
        if bad:
            kinds = Counter(c.finding.kind for c in bad)
            listed = ", ".join(f"{k} ×{n}" for k, n in kinds.most_common(3))
            more = f" and {len(kinds) - 3} more kinds" if len(kinds) > 3 else ""
            return f"{len(bad)} violation{'s' if len(bad) != 1 else ''}: {listed}{more}."
        return "Failed: " + "; ".join(judgement.reasons) + "."
    allowed = len({x.op for x in judgement.lost if x.classification is Classification.ALLOWED})
    rto = judgement.metrics.rto_seconds
    recovered = (
        f"Service was back {seconds(rto)} after the disaster" if rto is not None else "Recovered"
    )
    loss = (
        f"; {allowed} acknowledged operation{'s' if allowed != 1 else ''} lost, all after the "
        "backup's consistency point (allowed)"
        if allowed
        else "; nothing acknowledged was lost"
    )
    missed = [t.label for t in judgement.targets if t.status == "missed"]
    note = f"; target missed, not enforced: {', '.join(missed)}" if missed else ""
    return f"{recovered}{loss}; no violations{note}."
