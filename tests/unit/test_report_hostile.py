"""Hostile reports, histories and scenarios: every reader refuses bad input in one line (a
FiredrillError) or skips it where it promises to, and no output passes on what it read raw (an
escape sequence to the terminal, a `javascript:` link, a lone surrogate no encoding can write)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.checker.findings import OrphanMessageFile
from harness.drill import outputs
from harness.drill.replay import read_source
from harness.drill.report import DrillReport, ReportError
from harness.errors import FiredrillError, InvalidScenario
from harness.report import model, pages
from harness.report.html import render_html
from harness.report.show import render_show
from harness.report.trend import HISTORY_FILE, TrendEntry, load_history, trend_table
from harness.report.trend_html import link, render_trend_html
from harness.scenarios.fields import read_toml
from harness.scenarios.scenario import load_scenario
from harness.scenarios.sequence import is_sequence
from tests.support.reports import changed, raw, sample, write
from tests.unit.test_report_cli import firedrill

OLDER = Path(__file__).parents[1] / "fixtures" / "reports-v1" / "pass-restore" / "report.json"
ESCAPES = "\x1b[2J\x1b[31mred\x1b]0;title\x07\x9b1m\x08\x00"


def refused(*argv: str) -> str:
    """The one-line message `firedrill report ...` refuses its input with."""
    with pytest.raises(FiredrillError) as raised:
        firedrill(*argv)
    message = str(raised.value)
    assert raised.value.exit_code == 2 and "\n" not in message
    return message


def with_finding(report: DrillReport, finding: OrphanMessageFile) -> DrillReport:
    verify = report.record.verify
    assert verify is not None
    check = dataclasses.replace(verify.check, findings=(*verify.check.findings, finding))
    return changed(report, verify=dataclasses.replace(verify, check=check))


def terminal(report: DrillReport) -> str:
    """What `report show` writes to a UTF-8 terminal (strict: a lone surrogate would raise)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    render_show(report, Console(file=out, width=140, color_system=None, force_terminal=False))
    out.flush()
    buffer = out.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")


# -- 2. nesting too deep to read -----------------------------------------------------------------


def test_json_nested_too_deep_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in refused("report", "show", str(tmp_path))
    with pytest.raises(ReportError, match="nested too deeply"):
        read_source(tmp_path)


def test_a_field_nested_as_deep_as_json_reads_is_refused_in_one_line(tmp_path: Path) -> None:
    """Python's json reads it; quoting it in the schema's message would recurse too deep."""
    data = raw("pass-restart")
    text = json.dumps(data).replace('"seed": 1', '"seed": ' + "[" * 950 + "]" * 950, 1)
    (tmp_path / "report.json").write_text(text)
    assert "report" in refused("report", "render", str(tmp_path))


def test_a_drills_jsonl_line_nested_too_deep_is_skipped(tmp_path: Path) -> None:
    good = {"scenario": "default", "started": 1_790_000_000.0}
    (tmp_path / HISTORY_FILE).write_text("[" * 100_000 + "\n" + json.dumps(good) + "\n")
    assert [x.scenario for x in load_history(tmp_path)] == ["default"]


def test_toml_nested_too_deep_is_an_invalid_scenario(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InvalidScenario, match="nested too deeply") as raised:
        read_toml(path)
    assert "\n" not in str(raised.value)
    assert is_sequence(path) is False


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1" + "0" * 400])
def test_a_toml_number_that_is_not_finite_is_an_invalid_scenario(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f'[disaster]\nkind = "lose-tree"\n[expect]\nrto_target = {value}\n')
    with pytest.raises(InvalidScenario, match=r"expect\.rto_target"):
        load_scenario(path)


# -- 3. a lone surrogate; both pages written together --------------------------------------------


def test_a_lone_surrogate_is_rendered_and_shown(tmp_path: Path) -> None:
    finding = OrphanMessageFile("msgfiles/\ud800", "a \ud800 b")
    report = with_finding(sample("fail-live-copy"), finding)
    directory = write(tmp_path / "drill", report)
    assert firedrill("report", "render", str(directory)) == 0
    page = (directory / "report.html").read_text(encoding="utf-8")
    assert "a � b" in page and "msgfiles/�" in page
    written = sorted(p.name for p in directory.iterdir())
    assert written == ["junit.xml", "report.html", "report.json"]  # no temporary file left
    assert "msgfiles/�" in terminal(report)


def test_pages_are_replaced_together_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("junit.xml", "report.html"):
        (tmp_path / name).write_text("old")

    def broken(*_: Any) -> str:
        raise RuntimeError("the template broke")

    monkeypatch.setattr("harness.drill.outputs.render_html", broken)
    with pytest.raises(RuntimeError):
        outputs.write_pages(tmp_path, sample("pass-restart"))
    assert [p.read_text() for p in sorted(tmp_path.iterdir())] == ["old", "old"]


def test_a_failed_write_leaves_the_old_files_and_no_temporary_one(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("old")
    with pytest.raises(OSError):
        pages.write_together({tmp_path / "a": "new", tmp_path / "missing" / "b": "new"})
    assert [p.name for p in tmp_path.iterdir()] == ["a"] and (tmp_path / "a").read_text() == "old"


# -- 5. format 1 reports replayed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"scenario": "x"}, "must be a table, not str"),
        ({"scenario": []}, "must be a table, not list"),
        ({"scenario": {"expect": []}}, "expect: must be a table, not list"),
        ({"scenario": {"traffic": {"mix": [1]}}}, "traffic.mix"),
        ({"seed": 1.9}, "seed: 1.9 is not an integer"),
        ({"seed": True}, "seed: True is not an integer"),
        ({"seed": None}, "seed: missing"),
        ({"verdict": ["pass"]}, "verdict"),
        ({"findings": {"kind": "x"}}, "findings"),
        ({"findings": [{"kind": 3}]}, "findings"),
        ({"procedure": 3}, "procedure"),
    ],
)
def test_a_format_1_report_of_odd_types_is_refused_in_one_line(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    data = json.loads(OLDER.read_text())
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            value = {**data[key], **value}
        data[key] = value
    (tmp_path / "report.json").write_text(json.dumps(data))
    with pytest.raises(ReportError, match="format 1 report without what replay needs") as raised:
        read_source(tmp_path)
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_a_format_1_seed_too_big_for_a_float_is_refused(tmp_path: Path) -> None:
    text = OLDER.read_text()
    (tmp_path / "report.json").write_text(text.replace('"seed": 1,', '"seed": 1e400,', 1))
    with pytest.raises(ReportError, match="1e400"):
        read_source(tmp_path)
    assert read_source(OLDER).seed == 1


# -- 6. control characters -----------------------------------------------------------------------


def test_printable_replaces_control_characters_with_visible_ones() -> None:
    assert model.printable("a\x1b[2J\x07\x7f\x9b\ud800z") == "a␛[2J␇␡��z"
    assert model.printable("line\r\nnext\tcell") == "line\nnext\tcell"
    assert model.printable("line\nnext\tcell", breaks=False) == "line␊next␉cell"


def test_show_prints_no_escape_sequence_from_the_report() -> None:
    report = sample("fail-procedure")
    scenario = dataclasses.replace(report.record.scenario, description=f"desc {ESCAPES}")
    assert report.record.backup is not None
    backup = dataclasses.replace(report.record.backup, failed=f"failed {ESCAPES}")
    hostile = changed(report, scenario=scenario, backup=backup, error=f"stopped {ESCAPES}")
    finding = OrphanMessageFile(f"id{ESCAPES}", ESCAPES)
    for text in (terminal(hostile), terminal(with_finding(sample("fail-live-copy"), finding))):
        assert not set(text) & {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))} - {"\n"}
    assert "desc ␛[2J␛[31mred" in terminal(hostile) and "stopped ␛[2J" in terminal(hostile)
    assert "id␛[2J" in terminal(with_finding(sample("fail-live-copy"), finding))


def test_the_trend_table_prints_no_escape_sequence() -> None:
    entry = TrendEntry(f"s{ESCAPES}", 1.79e9, f"v\n{ESCAPES}", 1, "", 1.0, 1.0, 1, 1.0, 1.0, "")
    table = trend_table([entry], [])
    assert "\x1b" not in table and "s␛[2J" in table and "V␊␛[2J" in table
    assert len(table.splitlines()) == 5  # header, rule, one row, blank, "no regressions"


def test_report_html_holds_no_control_character_but_keeps_line_breaks() -> None:
    report = sample("fail-procedure")
    scenario = dataclasses.replace(report.record.scenario, description=f"desc {ESCAPES}")
    assert report.record.backup is not None
    backup = dataclasses.replace(report.record.backup, output=f"line one\r\nline two {ESCAPES}")
    page = render_html(changed(report, scenario=scenario, backup=backup))
    assert "\x1b" not in page and "\x07" not in page and "\x00" not in page
    assert "desc ␛[2J␛[31mred" in page and "line one\nline two ␛[2J" in page


# -- 7. trend.html links -------------------------------------------------------------------------


def entry_of(report: str) -> TrendEntry:
    return TrendEntry("default", 1.79e9, "pass", 1, "", 1.0, 1.0, 1, 1.0, 1.0, report)


@pytest.mark.parametrize(
    ("report", "href"),
    [
        ("5-default/report.json", "5-default/report.html"),
        ("javascript:alert(document.domain)//report.json", ""),
        ("JavaScript:alert(1)/report.json", ""),
        ("https://example.com/report.json", ""),
        ("/reports/a b#1?/report.json", "file:///reports/a%20b%231%3F/report.html"),
        ("//example.com/x/report.json", "file:///example.com/x/report.html"),
        ("sub/javascript:alert(1)/report.json", "sub/javascript%3Aalert%281%29/report.html"),
        (".", ""),
    ],
)
def test_a_link_is_a_relative_path_or_a_file_url(tmp_path: Path, report: str, href: str) -> None:
    assert link(entry_of(report), tmp_path, tmp_path) == href


def test_trend_html_links_no_url_a_history_names(tmp_path: Path) -> None:
    write(tmp_path / "javascript:alert(1)", sample("pass-restart"))
    entries = [*load_history(tmp_path), entry_of("javascript:alert(document.domain)//report.json")]
    assert len(entries) == 2
    page = render_trend_html(entries, [], out_dir=tmp_path, root=tmp_path)
    assert "javascript" not in page and "<a href" not in page


# -- 8. the cause in the message -----------------------------------------------------------------


def test_a_field_inside_a_nullable_phase_is_named(tmp_path: Path) -> None:
    data = raw("fail-live-copy")
    data["record"]["verify"]["check"]["findings"][45]["op"] = None
    (tmp_path / "report.json").write_text(json.dumps(data))
    message = refused("report", "show", str(tmp_path))
    assert "report.record.verify.check.findings[45].op: None is not of type 'integer'" in message


def test_an_unknown_finding_kind_is_named(tmp_path: Path) -> None:
    data = raw("fail-live-copy")
    data["record"]["verify"]["check"]["findings"][0]["kind"] = "no-such-kind"
    (tmp_path / "report.json").write_text(json.dumps(data))
    message = refused("report", "show", str(tmp_path))
    assert "unknown finding kind 'no-such-kind' @ report.record.verify.check.findings[0]" in message
