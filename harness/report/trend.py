"""Drill history and trends: one JSON line per drill in `<reports>/drills.jsonl`, regressions
of the latest drill of each scenario against the median of the ones before it, a plain-text
table for the terminal and trend.html with a line chart per scenario and metric.

A metric (RTO, RPO in seconds, backup window) of a scenario's latest drill regresses when it is
worse than the median of the previous `window` values of that scenario by more than `margin`
(value > median × (1 + margin)) and by more than `min_delta` seconds; it takes at least two
previous values to judge.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.drill.report import DrillReport, OlderReport, ReportError, load_report, parse_json
from harness.report import model

HISTORY_FILE = "drills.jsonl"
METRICS: tuple[str, ...] = ("rto_seconds", "rpo_seconds", "backup_window_seconds")
LABELS = {
    "rto_seconds": "RTO",
    "rpo_seconds": "RPO",
    "rpo_messages": "RPO (messages)",
    "backup_window_seconds": "backup window",
    "restore_seconds": "restore time",
}


@dataclass(frozen=True, slots=True)
class TrendEntry:
    """One drill, as a line of drills.jsonl."""

    scenario: str
    started: float
    verdict: str
    seed: int | None
    backend: str
    rto_seconds: float | None
    rpo_seconds: float | None
    rpo_messages: int | None
    backup_window_seconds: float | None
    restore_seconds: float | None
    report: str
    """Path of report.json: relative to the history's directory when it lies inside it."""

    def value(self, metric: str) -> float | None:
        v = getattr(self, metric)
        return None if v is None else float(v)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrendEntry:
        """Raises ValueError when a field is missing, of the wrong type or out of range: a
        metric not a finite number of at least 0 (RPO in messages a whole one), `started` not
        a moment a calendar holds."""
        name, started = data.get("scenario"), _number(data, "started", minimum=-math.inf)
        if not isinstance(name, str) or not name or started is None:
            raise ValueError("scenario and started are required")
        if model.when(started) is None:
            raise ValueError(f"started: {started!r} is not a date")
        seed, messages = data.get("seed"), _number(data, "rpo_messages")
        if messages is not None and not messages.is_integer():
            raise ValueError(f"rpo_messages: {messages!r} is not a count")
        return cls(
            scenario=name,
            started=started,
            verdict=str(data.get("verdict") or "unknown"),
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            backend=str(data.get("backend") or ""),
            rto_seconds=_number(data, "rto_seconds"),
            rpo_seconds=_number(data, "rpo_seconds"),
            rpo_messages=None if messages is None else int(messages),
            backup_window_seconds=_number(data, "backup_window_seconds"),
            restore_seconds=_number(data, "restore_seconds"),
            report=str(data.get("report") or ""),
        )


def _number(data: Mapping[str, Any], key: str, *, minimum: float = 0.0) -> float | None:
    """The number at `key` (None when absent); ValueError unless it is a finite one of at
    least `minimum`."""
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{key}: not a number")
    try:
        number = float(v)
    except OverflowError:
        raise ValueError(f"{key}: too big") from None
    if not math.isfinite(number) or number < minimum:
        raise ValueError(f"{key}: {v!r} is out of range")
    return number


@dataclass(frozen=True, slots=True)
class Regression:
    """A metric of a scenario's latest drill, worse than the median of the drills before it."""

    scenario: str
    metric: str
    value: float
    baseline: float
    """The median of the previous values."""
    previous: int
    """How many previous values the median is of."""
    margin: float
    started: float
    report: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def describe(self) -> str:
        worse = (
            f"{(self.ratio - 1) * 100:.0f}% above" if self.baseline else f"{self.value:.2f} s above"
        )
        return (
            f"{self.scenario}: {LABELS.get(self.metric, self.metric)} {self.value:.2f} s is "
            f"{worse} the median {self.baseline:.2f} s of the previous {self.previous} "
            f"drill(s) (margin {self.margin * 100:.0f}%)"
        )


# -- the history file ----------------------------------------------------------------------------


def entry_from_report(report: DrillReport, report_path: Path | str = "") -> TrendEntry:
    """The history line of one report (the metrics as its judgement gives them)."""
    record, m = report.record, report.judgement.metrics
    return TrendEntry(
        scenario=record.scenario.name,
        started=record.started.wall,
        verdict=report.judgement.verdict.value,
        seed=record.seed,
        backend=record.backend,
        rto_seconds=m.rto_seconds,
        rpo_seconds=m.rpo_seconds,
        rpo_messages=m.rpo_messages,
        backup_window_seconds=m.backup_window_seconds,
        restore_seconds=m.restore_seconds,
        report=str(report_path),
    )


def append_history(root: Path, report: DrillReport, *, report_path: Path) -> None:
    """Append one line for this drill to `<root>/drills.jsonl`; `report_path` (its
    report.json) is stored relative to the root when it lies inside it (the reports directory
    can then move as a whole)."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        stored = str(report_path.absolute().relative_to(root.absolute()))
    except ValueError:
        stored = str(report_path.absolute())
    line = json.dumps(entry_from_report(report, stored).to_json(), sort_keys=True) + "\n"
    # One write(2) on an O_APPEND descriptor: concurrent drills do not interleave their lines.
    fd = os.open(root / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _entry_of_file(path: Path, shown: Path) -> TrendEntry | None:
    """The history line of a report file (format 2, or format 1 by its recorded metrics);
    None for a file that is not a readable report."""
    try:
        _, report = load_report(path)
    except OlderReport:
        return _entry_of_format_1(path, shown)
    except ReportError:
        return None  # not a report: the others still count
    return entry_from_report(report, shown)


def _entry_of_format_1(path: Path, shown: Path) -> TrendEntry | None:
    """A format 1 report recorded its metrics and verdict at the top: enough for a trend."""
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
        metrics = data.get("metrics") or {}
        return TrendEntry.from_json(
            {
                "scenario": (data.get("scenario") or {}).get("name"),
                "started": data.get("started"),
                "verdict": data.get("verdict"),
                "seed": data.get("seed"),
                "backend": data.get("backend"),
                "report": str(shown),
                **{m: metrics.get(m) for m in (*METRICS, "rpo_messages", "restore_seconds")},
            }
        )
    except (OSError, ValueError, AttributeError):
        return None


def load_history(root: Path) -> list[TrendEntry]:
    """The drills recorded under `root` (a reports directory, or a drills.jsonl), oldest first.

    Without a drills.jsonl, the history is rebuilt from the `*/report.json` under root (reports
    of format 2, and of format 1 by the metrics they recorded). Lines and files that cannot be
    read are skipped, and so are those with a value out of range (a number that is not finite,
    a negative metric, a start that is no date: `TrendEntry.from_json`).
    """
    file = root if root.is_file() else root / HISTORY_FILE
    entries: list[TrendEntry] = []
    if file.is_file():
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                data = parse_json(line)
                if isinstance(data, dict):
                    entries.append(TrendEntry.from_json(data))
            except ValueError:
                continue  # a torn or foreign line: the others still count
    elif root.is_dir():
        for path in sorted(root.glob("*/report.json")):
            entry = _entry_of_file(path, path.relative_to(root))
            if entry is not None:
                entries.append(entry)
    entries.sort(key=lambda x: x.started)
    return entries


def by_scenario(entries: Iterable[TrendEntry]) -> dict[str, list[TrendEntry]]:
    """Entries per scenario, oldest first, scenarios by name."""
    groups: dict[str, list[TrendEntry]] = {}
    for entry in sorted(entries, key=lambda x: x.started):
        groups.setdefault(entry.scenario, []).append(entry)
    return dict(sorted(groups.items()))


# -- regressions ---------------------------------------------------------------------------------


def find_regressions(
    entries: Sequence[TrendEntry],
    *,
    window: int = 5,
    margin: float = 0.2,
    metrics: Sequence[str] = METRICS,
    min_delta: float = 0.0,
) -> list[Regression]:
    """The metrics of each scenario's latest drill that are worse than the median of the
    previous `window` values of that scenario by more than `margin` (and `min_delta` seconds).
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    found: list[Regression] = []
    for name, runs in by_scenario(entries).items():
        latest, before = runs[-1], runs[:-1]
        for metric in metrics:
            value = latest.value(metric)
            if value is None:
                continue
            previous = [v for v in (x.value(metric) for x in before) if v is not None][-window:]
            if len(previous) < 2:
                continue
            median = statistics.median(previous)
            if value > median * (1 + margin) and value - median > min_delta:
                found.append(
                    Regression(
                        name,
                        metric,
                        value,
                        median,
                        len(previous),
                        margin,
                        latest.started,
                        latest.report,
                    )
                )
    return found


# -- the terminal table --------------------------------------------------------------------------


def _cell(value: float | None, median: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" + (f" ({median:.2f})" if median is not None else "")


def trend_table(
    entries: Sequence[TrendEntry], regressions: Sequence[Regression], *, window: int = 5
) -> str:
    """Plain text: per scenario, the latest drill's metrics (in brackets the median of the
    previous `window` drills of the scenario), then one line per regression. Text from the
    history is printable (`model.printable`: no escape sequence, no line break, reaches the
    terminal)."""
    if not entries:
        return "no drills recorded"
    flagged = {(r.scenario, r.metric) for r in regressions}
    header = ["scenario", "drills", "latest (UTC)", "verdict"] + [
        f"{LABELS[m]} s (median)" for m in METRICS
    ]
    table = [header]
    for name, runs in by_scenario(entries).items():
        latest = runs[-1]
        row = [
            model.printable(name, breaks=False),
            str(len(runs)),
            model.iso(latest.started).removesuffix(" UTC")[:16],
            model.printable(latest.verdict.upper(), breaks=False),
        ]
        for metric in METRICS:
            before = [v for v in (x.value(metric) for x in runs[:-1]) if v is not None]
            before = before[-window:]
            median = statistics.median(before) if before else None
            cell = _cell(latest.value(metric), median)
            row.append(cell + (" !" if (name, metric) in flagged else ""))
        table.append(row)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 4 and i != 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if regressions:
        lines.append("")
        lines.append(f"{len(regressions)} regression(s) (! above):")
        lines += [f"  {model.printable(r.describe(), breaks=False)}" for r in regressions]
    else:
        lines.append("")
        lines.append("no regressions")
    return "\n".join(lines)


__all__ = [
    "HISTORY_FILE",
    "METRICS",
    "Regression",
    "TrendEntry",
    "append_history",
    "entry_from_report",
    "find_regressions",
    "load_history",
    "trend_table",
]
