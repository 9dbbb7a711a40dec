"""Hostile numbers in a report: `firedrill report show` and `report render` either work or refuse
the report in one line (a FiredrillError, exit 2); nothing else is ever raised.

Each number of the sample reports is replaced in report.json's text by a hostile literal (1e999
and -1e999, which Python's json reads as infinities, and 1e20, -1e20, 0, -1). Most edits change
what the record's judgement would be and are refused as such, so each number is also put into
the record itself, which is judged again (as `tests/support/reports.changed` does) and rendered:
that reaches every output with values no report.json can carry (infinity, NaN).

The sweep here takes each kind of number once (the same path with other list indices is the
same kind); tests/integration/test_report_sweep.py (slow: minutes) takes every number of every
sample.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.drill.record import DrillRecord
from harness.drill.report import DrillReport
from harness.errors import FiredrillError
from harness.report import model, svg
from harness.report.html import render_html
from harness.report.junit import junit_xml
from harness.report.show import render_show
from harness.report.trend import (
    HISTORY_FILE,
    entry_from_report,
    find_regressions,
    load_history,
    trend_table,
)
from harness.report.trend_html import render_trend_html
from tests.support.reports import FIXTURES, SAMPLES, changed, raw, sample
from tests.unit.test_report_cli import firedrill

HOSTILE = ("1e999", "-1e999", "1e20", "-1e20", "0", "-1")
"""As written in report.json (1e999 is read as infinity)."""
IN_RECORD = (math.inf, -math.inf, math.nan, 1e20, -1e20, -1.0)

Where = tuple[str | int, ...]


def numbers(value: Any, where: Where = ()) -> Iterator[Where]:
    """The path of every number in a JSON value (booleans are not numbers)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, (*where, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from numbers(item, (*where, n))


def places(*, every: bool, under: str = "") -> list[tuple[str, Where]]:
    """(sample, path) of the numbers under `under` (a top-level key) of the samples, smallest
    sample first: every one, or the first of each kind."""
    by_size = sorted(SAMPLES, key=lambda name: (FIXTURES / name / "report.json").stat().st_size)
    seen: set[Where] = set()
    found = []
    for name in by_size:
        data = raw(name)
        for where in numbers(data[under] if under else data):
            kind = tuple("*" if isinstance(p, int) else p for p in where)
            if every or kind not in seen:
                seen.add(kind)
                found.append((name, where))
    return found


def put(data: Any, where: Where, value: object) -> Any:
    """A copy of `data` with `value` at `where`."""
    data = copy.deepcopy(data)
    inner = data
    for part in where[:-1]:
        inner = inner[part]
    inner[where[-1]] = value
    return data


def show_and_render(directory: Path) -> bool:
    """Run `report render` and `report show` on the report in `directory`: True when both
    worked, False when the report was refused in one line (render loads it as show does)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert firedrill("report", "render", str(directory)) == 0
            assert firedrill("report", "show", str(directory)) == 0
    except FiredrillError as refused:
        assert refused.exit_code == 2 and "\n" not in str(refused), str(refused)
        return False
    return True


def sweep_report_json(tmp_path: Path, literal: str, *, every: bool) -> int:
    """Each number of the samples' report.json, in turn, as `literal`; how many variants were
    shown and rendered (not refused)."""
    worked = 0
    for name, where in places(every=every):
        text = json.dumps(put(raw(name), where, "@HOSTILE@")).replace('"@HOSTILE@"', literal)
        (tmp_path / "report.json").write_text(text)
        try:
            worked += show_and_render(tmp_path)
        except Exception as exc:
            raise AssertionError(f"{name} {where} = {literal}: {exc!r}") from exc
    return worked


def outputs(report: DrillReport) -> None:
    """Every output of one report, in memory: the terminal, report.html, junit.xml, a trend."""
    render_show(report, Console(file=io.StringIO(), width=100, color_system=None))
    render_html(report, "/reports/x/report.json")
    junit_xml(report)
    entries = [entry_from_report(report, f"{n}/report.json") for n in range(3)]
    regressions = find_regressions(entries)
    trend_table(entries, regressions)
    render_trend_html(entries, regressions)


def sweep_record(value: float, *, every: bool) -> int:
    """Each number of the samples' records, in turn, as `value`, the record judged again and
    rendered; how many variants there were (a value the record's types refuse is none)."""
    rendered = 0
    for name, where in places(every=every, under="record"):
        try:
            record = DrillRecord.from_json(put(raw(name)["record"], where, value))
        except Exception:
            continue  # not a record (an index that is not an integer): nothing to render
        try:
            outputs(DrillReport.of(record))
        except FiredrillError as refused:
            assert "\n" not in str(refused)
        except Exception as exc:
            raise AssertionError(f"{name} record {where} = {value}: {exc!r}") from exc
        rendered += 1
    return rendered


@pytest.mark.parametrize("literal", HOSTILE)
def test_a_hostile_number_in_report_json_is_shown_or_refused_in_one_line(
    tmp_path: Path, literal: str
) -> None:
    worked = sweep_report_json(tmp_path, literal, every=False)
    if "999" not in literal:  # not only refusals: an edit judged the same is shown and rendered
        assert worked > 0


@pytest.mark.parametrize("value", IN_RECORD)
def test_a_hostile_number_in_a_record_judged_again_renders(value: float) -> None:
    assert sweep_record(value, every=False) > 30


def test_json_that_is_not_finite_is_refused_in_one_line(tmp_path: Path) -> None:
    text = (FIXTURES / "pass-restart" / "report.json").read_text()
    wall = str(raw("pass-restart")["record"]["started"]["wall"])
    for token in ("NaN", "Infinity", "-Infinity", "1e999"):
        (tmp_path / "report.json").write_text(text.replace(wall, token, 1))
        with pytest.raises(FiredrillError, match="not a readable report") as refused:
            firedrill("report", "show", str(tmp_path))
        assert "\n" not in str(refused.value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e20, 1e300, -1e20, -1.0, 0.0])
def test_the_formatting_helpers_are_total(value: float) -> None:
    assert model.iso(value) in ("1970-01-01 00:00:00 UTC", "1969-12-31 23:59:59 UTC", f"{value:g}")
    assert model.seconds(value) and model.limit(value) and model.messages(value)
    assert svg.num(value) and svg.tick_label(value)
    assert svg.ticks(value)[0] == 0.0 and len(svg.ticks(value)) < 20
    assert (model.when(value) is None) == (abs(value) >= 1e20 or not math.isfinite(value))


def test_a_wall_clock_time_that_is_no_date_is_refused_naming_the_field(tmp_path: Path) -> None:
    data = raw("pass-restart")
    data["record"]["started"]["wall"] = 1e20
    (tmp_path / "report.json").write_text(json.dumps(data))
    with pytest.raises(FiredrillError, match=r"report\.record\.started\.wall: 1e\+20 is greater"):
        firedrill("report", "show", str(tmp_path))


def test_junit_has_no_timestamp_for_a_start_no_calendar_holds() -> None:
    report = sample("pass-restart")
    started = dataclasses.replace(report.record.started, wall=1e20)
    assert 'timestamp="' not in junit_xml(changed(report, started=started))
    assert 'timestamp="20' in junit_xml(report)


@pytest.mark.parametrize(
    "field",
    [
        {"rto_seconds": "1e999"},
        {"rpo_messages": "1e999"},
        {"rpo_messages": "2.5"},
        {"rpo_seconds": "-1"},
        {"started": "1e300"},
        {"started": "-1e20"},
        {"started": "NaN"},
        {"backup_window_seconds": "Infinity"},
    ],
)
def test_a_drills_jsonl_line_out_of_range_is_skipped(
    tmp_path: Path, field: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    good = {"scenario": "default", "started": 1_790_000_000.0, "verdict": "pass", "rto_seconds": 3}
    bad = json.dumps({**good, "scenario": "bad", **dict.fromkeys(field, "@")})
    bad = bad.replace('"@"', next(iter(field.values())))
    (tmp_path / HISTORY_FILE).write_text(json.dumps(good) + "\n" + bad + "\n")
    assert [x.scenario for x in load_history(tmp_path)] == ["default"]
    assert firedrill("report", "trend", str(tmp_path)) == 0
    assert "default" in capsys.readouterr().out


@pytest.mark.parametrize("option", ["--margin", "--min-delta"])
@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e999", "Infinity"])
def test_trend_refuses_a_number_that_is_not_finite(
    tmp_path: Path, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        firedrill("report", "trend", str(tmp_path), f"{option}={value}")
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "finite" in error and "Traceback" not in error
