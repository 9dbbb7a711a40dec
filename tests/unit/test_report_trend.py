"""Drill history and trends: drills.jsonl lines, regressions against the median of the previous
drills of the same scenario, the terminal table and trend.html."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from harness.drill.report import DrillReport
from harness.history import Stamp
from harness.report.trend import (
    HISTORY_FILE,
    Regression,
    TrendEntry,
    append_history,
    entry_from_report,
    find_regressions,
    load_history,
    trend_table,
)
from harness.report.trend_html import render_trend_html, write_trend_html
from tests.support.reports import changed, sample, write

DAY = 86400.0


def later(report: DrillReport, days: int, rto: float) -> DrillReport:
    """The drill `days` later, with service back `rto` seconds after the disaster struck."""
    record = report.record
    assert record.fault is not None and record.ready is not None
    struck = record.fault.struck
    back = Stamp(struck.mono + rto, struck.wall + rto)
    started = dataclasses.replace(record.started, wall=record.started.wall + days * DAY)
    return changed(report, started=started, ready=dataclasses.replace(record.ready, at=back))


def entry(
    n: int,
    *,
    scenario: str = "default",
    rto: float | None = 3.6,
    rpo: float | None = 5.0,
    window: float | None = 2.0,
    verdict: str = "pass",
) -> TrendEntry:
    return TrendEntry(
        scenario=scenario,
        started=1_790_000_000.0 + n * DAY,
        verdict=verdict,
        seed=1,
        backend="local",
        rto_seconds=rto,
        rpo_seconds=rpo,
        rpo_messages=30,
        backup_window_seconds=window,
        restore_seconds=2.7,
        report=f"{n}-{scenario}/report.json",
    )


def nights(count: int, **latest: Any) -> list[TrendEntry]:
    """`count` equal drills of `default`, the last one changed by `latest`."""
    entries = [entry(n) for n in range(count)]
    entries[-1] = dataclasses.replace(entries[-1], **latest)
    return entries


def test_equal_drills_are_no_regression() -> None:
    assert find_regressions(nights(6)) == []


def test_a_slower_latest_drill_is_a_regression() -> None:
    (reg,) = find_regressions(nights(6, rto_seconds=6.0))
    assert reg.scenario == "default" and reg.metric == "rto_seconds"
    assert reg.value == 6.0 and reg.baseline == 3.6 and reg.previous == 5
    assert reg.report == "5-default/report.json"
    assert "RTO 6.00 s is 67% above the median 3.60 s of the previous 5" in reg.describe()


def test_every_metric_is_judged() -> None:
    regs = find_regressions(nights(4, rto_seconds=9.0, rpo_seconds=9.0, backup_window_seconds=9.0))
    assert {r.metric for r in regs} == {"rto_seconds", "rpo_seconds", "backup_window_seconds"}


def test_the_margin_is_strict() -> None:
    assert find_regressions(nights(6, rto_seconds=3.6 * 1.2)) == []
    assert find_regressions(nights(6, rto_seconds=3.6 * 1.2 + 0.01))
    assert find_regressions(nights(6, rto_seconds=4.0), margin=0.05)
    assert find_regressions(nights(6, rto_seconds=4.0), margin=0.2) == []


def test_faster_is_never_a_regression() -> None:
    assert find_regressions(nights(6, rto_seconds=0.1, rpo_seconds=0.0)) == []


def test_at_least_two_previous_values() -> None:
    assert find_regressions(nights(2, rto_seconds=60.0)) == []
    assert find_regressions(nights(3, rto_seconds=60.0))
    # None values (a drill that stopped early) do not count as previous values.
    entries = [entry(0, rto=None), entry(1), entry(2, rto=60.0)]
    assert find_regressions(entries) == []


def test_the_window_takes_the_latest_previous_drills() -> None:
    old_and_slow = [entry(n, rto=10.0) for n in range(5)]
    recent_and_fast = [entry(n, rto=2.0) for n in range(5, 8)]
    latest = entry(8, rto=5.0)
    entries = [*old_and_slow, *recent_and_fast, latest]
    assert find_regressions(entries, window=3)  # median 2.0
    assert find_regressions(entries, window=8) == []  # median 10.0 (5 slow, 3 fast)
    with pytest.raises(ValueError):
        find_regressions(entries, window=0)


def test_min_delta() -> None:
    entries = nights(6, rto_seconds=0.9)
    entries = [dataclasses.replace(x, rto_seconds=0.5) for x in entries[:-1]] + [entries[-1]]
    assert find_regressions(entries)  # 0.9 > 0.6
    assert find_regressions(entries, min_delta=1.0) == []


def test_scenarios_are_judged_apart_and_only_their_latest_drill() -> None:
    entries = [
        *(entry(n, scenario="default") for n in range(4)),
        *(entry(n, scenario="crash", rto=0.7) for n in range(4)),
        entry(5, scenario="crash", rto=3.0),  # slower than crash's 0.7, faster than default's
        entry(6, scenario="default", rto=3.6),
    ]
    regs = find_regressions(entries)
    assert [(r.scenario, r.metric) for r in regs] == [("crash", "rto_seconds")]
    # A slow drill that is no longer the latest is not flagged.
    later = [*entries, entry(7, scenario="crash", rto=0.7)]
    assert find_regressions(later) == []


def test_order_of_entries_does_not_matter() -> None:
    entries = nights(6, rto_seconds=6.0)
    assert find_regressions(list(reversed(entries))) == find_regressions(entries)


def test_frozen_dataclasses() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry(0).verdict = "fail"  # type: ignore[misc]
    reg = find_regressions(nights(6, rto_seconds=6.0))[0]
    assert isinstance(reg, Regression)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reg.value = 1.0  # type: ignore[misc]


# -- the history file ------------------------------------------------------------------------


def test_entry_from_a_report() -> None:
    report = sample("pass-restore")
    m = report.judgement.metrics
    e = entry_from_report(report, "x/report.json")
    assert e.scenario == "default" and e.verdict == "pass" and e.seed == 1
    assert e.backend == "local" and e.report == "x/report.json"
    assert (e.rto_seconds, e.rpo_seconds, e.rpo_messages) == (
        m.rto_seconds,
        m.rpo_seconds,
        m.rpo_messages,
    )
    assert (e.backup_window_seconds, e.restore_seconds) == (
        m.backup_window_seconds,
        m.restore_seconds,
    )
    assert e.started == report.record.started.wall
    # A restore drill whose backup failed has no RPO and no RTO.
    stopped = entry_from_report(sample("fail-procedure"))
    assert stopped.rpo_seconds is None and stopped.rto_seconds is None


def test_append_and_load(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    for n, name in enumerate(("pass-restart", "pass-restore", "fail-live-copy")):
        report = later(sample(name), n, 1.0)
        append_history(root, report, report_path=root / f"d-{name}" / "report.json")
    lines = (root / HISTORY_FILE).read_text().splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert set(first) == {
        "scenario", "started", "verdict", "seed", "backend", "rto_seconds", "rpo_seconds",
        "rpo_messages", "backup_window_seconds", "restore_seconds", "report",
    }  # fmt: skip
    assert first["report"] == "d-pass-restart/report.json"  # relative to the root
    entries = load_history(root)
    assert [x.scenario for x in entries] == ["crash-mss-mta", "default", "default"]
    assert [x.verdict for x in entries] == ["pass", "pass", "fail"]
    assert entries == sorted(entries, key=lambda x: x.started)
    assert load_history(root / HISTORY_FILE) == entries  # the file itself also works


def test_a_report_outside_the_root_is_stored_absolute(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "report.json"
    append_history(tmp_path / "reports", sample("pass-restart"), report_path=elsewhere)
    (line,) = (tmp_path / "reports" / HISTORY_FILE).read_text().splitlines()
    assert json.loads(line)["report"] == str(elsewhere.absolute())


def test_torn_and_foreign_lines_are_skipped(tmp_path: Path) -> None:
    append_history(tmp_path, later(sample("pass-restart"), 0, 1.0), report_path=tmp_path / "a")
    with (tmp_path / HISTORY_FILE).open("a") as f:
        f.write('{"scenario": "default", "started": \n[1, 2]\n{"scenario": 3}\n\n')
    append_history(tmp_path, later(sample("pass-restore"), 1, 1.0), report_path=tmp_path / "b")
    assert [x.scenario for x in load_history(tmp_path)] == ["crash-mss-mta", "default"]


def test_without_a_history_file_the_reports_are_read(tmp_path: Path) -> None:
    for n, name in enumerate(("pass-restart", "pass-restore")):
        write(tmp_path / name, later(sample(name), n, 1.0))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "report.json").write_text("{not json")
    (tmp_path / "older").mkdir()  # format 1: read by the metrics it recorded
    (tmp_path / "older" / "report.json").write_text(
        (
            Path(__file__).parents[1] / "fixtures" / "reports-v1" / "pass-restore" / "report.json"
        ).read_text()
    )
    entries = load_history(tmp_path)
    assert sorted(x.report for x in entries) == [
        "older/report.json",
        "pass-restart/report.json",
        "pass-restore/report.json",
    ]
    (older,) = [x for x in entries if x.report == "older/report.json"]
    assert (older.scenario, older.verdict) == ("default", "pass")
    assert older.rto_seconds is not None and older.rpo_messages is not None
    assert load_history(tmp_path / "missing") == []


# -- the table and the page ------------------------------------------------------------------


def test_trend_table() -> None:
    entries = [
        *nights(6, rto_seconds=6.0),
        *(entry(n, scenario="crash", rto=0.7) for n in range(3)),
    ]
    regs = find_regressions(entries)
    table = trend_table(entries, regs)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["scenario", "drills", "latest", "(UTC)"]
    crash = next(x for x in lines if x.startswith("crash"))
    default = next(x for x in lines if x.startswith("default"))
    assert crash.split()[1] == "3" and "0.70 (0.70)" in crash and "!" not in crash
    assert default.split()[1] == "6" and "6.00 (3.60) !" in default
    assert "1 regression(s)" in table and "default: RTO 6.00 s" in table
    assert trend_table(nights(3), []).endswith("no regressions")
    assert trend_table([], []) == "no drills recorded"


def test_trend_html(tmp_path: Path) -> None:
    entries = [
        *nights(6, rto_seconds=6.0),
        *(entry(n, scenario="<crash&burn>", rto=0.7) for n in range(3)),
    ]
    regs = find_regressions(entries)
    path = tmp_path / "trend.html"
    write_trend_html(entries, regs, path)
    text = path.read_text()
    assert 'id="status"' in text and "1 regression(s)" in text
    assert text.count('class="chart regressed"') == 1
    assert text.count('class="regression"') == 1  # the latest point, highlighted
    assert text.count("<polyline") == 6  # 2 scenarios × 3 metrics
    assert "&lt;crash&amp;burn&gt;" in text and "<crash&burn>" not in text
    assert 'href="5-default/report.html"' in text
    assert "src=" not in text and "<link" not in text


def test_trend_html_without_regressions(tmp_path: Path) -> None:
    path = tmp_path / "trend.html"
    write_trend_html(nights(3), [], path)
    text = path.read_text()
    assert "No regressions." in text and 'class="regression"' not in text


def test_history_of_sample_reports_round_trips(tmp_path: Path) -> None:
    for n in range(4):
        report = later(sample("pass-restore"), n, 3.6 if n < 3 else 7.5)
        append_history(tmp_path, report, report_path=tmp_path / f"{n}" / "report.json")
    (reg,) = find_regressions(load_history(tmp_path))
    assert reg.metric == "rto_seconds" and reg.value == 7.5


def test_trend_html_shares_the_page_shell_and_escapes_every_value() -> None:
    evil = '<script>alert("x")</script>'
    entries = [
        entry(0, scenario=evil, rto=None),
        dataclasses.replace(entry(1, scenario=evil, rto=None), verdict=evil, report=evil),
    ]
    text = render_trend_html(entries, [])
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#34;x&#34;)" in text
    assert text.count("<script>") == 1  # the base template's print helper
    assert '<meta name="generator" content="firedrill">' in text and "@media print" in text
    assert "<title>firedrill trends</title>" in text
    assert text.count("no values") == 1  # RTO: never measured
    assert text.count("<polyline") == 2
