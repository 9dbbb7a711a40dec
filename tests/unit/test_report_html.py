"""report.html: self-contained, the verdict first, the timeline as inline SVG with one bar per
phase and the disaster marked, everything from the report escaped."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.report.html import render_html, write_html

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reports"
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if (p / "report.json").is_file())


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "report.json").read_text())
    return data


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.text: list[str] = []

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def iter(self) -> list[Element]:
        out = [self]
        for c in self.children:
            out += c.iter()
        return out


_VOID = {"meta", "br", "link", "img", "input", "hr", "col", "area", "base", "wbr", "source"}


class Tree(HTMLParser):
    """A small DOM: enough to find elements by id and class and read their text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(el)
        if tag not in _VOID:
            self.current = el

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.text.append(data)

    def by_id(self, id_: str) -> Element:
        found = [e for e in self.root.iter() if e.attrs.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_}"
        return found[0]

    def by_class(self, tag: str, cls: str, within: Element | None = None) -> list[Element]:
        return [
            e
            for e in (within or self.root).iter()
            if e.tag == tag and cls in e.attrs.get("class", "").split()
        ]


def test_the_verdict_comes_first_and_says_fail(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(load("fail-live-copy"), path)
    text = path.read_text()
    tree = Tree(text)
    verdict = tree.by_id("verdict")
    assert "fail" in verdict.attrs["class"].split()
    words = verdict.all_text()
    assert "FAIL" in words and "default" in words
    assert "chapter 13.4 backup under traffic" in words
    assert "15 violations: message-file-missing ×15" in words
    assert text.index('id="verdict"') < text.index('id="timeline"')
    assert "<title>FAIL — default — firedrill</title>" in text


@pytest.mark.parametrize(
    ("name", "cls", "word"),
    [("pass-restart", "pass", "PASS"), ("pass-restore", "pass", "PASS")],
)
def test_pass_banner(name: str, cls: str, word: str) -> None:
    verdict = Tree(render_html(load(name))).by_id("verdict")
    assert cls in verdict.attrs["class"].split()
    assert word in verdict.all_text()


def test_unknown_banner_shows_the_error() -> None:
    report = copy.deepcopy(load("pass-restart"))
    report.update(verdict="unknown", error="the servers did not serve clients after start")
    tree = Tree(render_html(report))
    verdict = tree.by_id("verdict")
    assert "unknown" in verdict.attrs["class"].split()
    assert "UNKNOWN" in verdict.all_text()
    assert "the servers did not serve clients after start" in verdict.all_text()


@pytest.mark.parametrize("name", SAMPLES)
def test_the_timeline_has_one_bar_per_phase(name: str) -> None:
    report = load(name)
    tree = Tree(render_html(report))
    svg = tree.by_id("timeline")
    assert svg.tag == "svg"
    bars = tree.by_class("rect", "phase", svg)
    assert [b.attrs["data-phase"] for b in bars] == [p["phase"] for p in report["timeline"]]


def _x(el: Element, attr: str = "x") -> float:
    return float(el.attrs[attr])


def test_the_disaster_is_marked_at_the_fault_time() -> None:
    report = load("fail-live-copy")
    tree = Tree(render_html(report))
    svg = tree.by_id("timeline")
    (marker,) = tree.by_class("line", "disaster", svg)
    assert "lose-tree" in marker.all_text()
    # The fault struck when the "disaster" phase began (fault.at - started = 11.94 s).
    bars = {b.attrs["data-phase"]: b for b in tree.by_class("rect", "phase", svg)}
    assert abs(_x(marker, "x1") - _x(bars["disaster"])) < 1.5
    assert _x(bars["traffic after backup"]) < _x(marker, "x1") < _x(bars["recovery"])
    # The consistency point sits at the start of the backup (a live copy) and RPO/RTO are drawn.
    (point,) = tree.by_class("line", "point", svg)
    assert abs(_x(point, "x1") - _x(bars["backup"])) < 1.5
    assert tree.by_class("rect", "span-rpo", svg) and tree.by_class("rect", "span-rto", svg)


def test_no_disaster_no_marker() -> None:
    text = render_html(load("fail-procedure"))
    tree = Tree(text)
    assert not tree.by_class("line", "disaster", tree.by_id("timeline"))
    assert "the drill stopped before it" in text
    backup = next(b for b in tree.by_class("rect", "phase") if b.attrs["data-phase"] == "backup")
    assert "ProcedureFailed" in backup.all_text()  # the failed phase says why, on hover


@pytest.mark.parametrize("name", SAMPLES)
def test_self_contained(name: str) -> None:
    text = render_html(load(name))
    assert not re.search(r"<(link|img|iframe|object|embed)\b", text)
    assert not re.search(r"\bsrc\s*=", text)
    assert "@import" not in text and "url(" not in text
    urls = set(re.findall(r"https?://[^\s\"'<]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace is a name, not a fetch
    assert "@media print" in text


def test_numbers_against_targets() -> None:
    tree = Tree(render_html(load("pass-restore")))
    cards = {c.attrs["data-metric"]: c for c in tree.by_class("div", "card")}
    assert set(cards) >= {"rto_seconds", "backup_window_seconds", "restore_seconds", "rpo_seconds"}
    rto = cards["rto_seconds"].all_text()
    assert "3.63 s" in rto and "target ≤ 60 s" in rto and "met" in rto
    assert "met" in cards["rpo_seconds"].attrs["class"].split()
    assert "2.75 s" in cards["restore_seconds"].all_text()
    assert "2.07 s" in cards["backup_window_seconds"].all_text()


def test_findings_grouped_by_kind_with_counts_and_remedies() -> None:
    tree = Tree(render_html(load("fail-live-copy")))
    rows = {r.attrs["data-kind"]: r.all_text() for r in tree.root.iter() if "data-kind" in r.attrs}
    assert next(iter(rows)) == "message-file-missing"  # violations first
    assert "15 violation" in rows["message-file-missing"]
    assert "restore this message file from the latest clean backup" in rows["message-file-missing"]
    assert "38 allowed" in rows["acknowledged-message-lost"]
    assert "03627e3873cfa723" in rows["message-file-missing"]


def test_a_long_lost_operation_list_is_collapsed() -> None:
    report = load("pass-restore")
    tree = Tree(render_html(report))
    lost = tree.by_id("lost")
    assert lost.tag == "details" and "open" not in lost.attrs
    assert len(tree.by_class("span", "badge", lost)) == len(report["lost_operations"])


def test_a_short_lost_operation_list_is_open() -> None:
    report = copy.deepcopy(load("pass-restore"))
    report["lost_operations"] = report["lost_operations"][:3]
    text = render_html(report)
    assert 'id="lost"' not in text
    assert "3 acknowledged operations lost: 3 allowed" in text


def test_procedure_output_is_escaped_in_pre() -> None:
    report = copy.deepcopy(load("fail-procedure"))
    report["procedure_output"] = "cp: cannot stat '<msgfiles>': No such file & directory"
    tree = Tree(render_html(report))
    pres = [p.all_text() for p in tree.root.iter() if p.tag == "pre"]
    assert "cp: cannot stat '<msgfiles>': No such file & directory" in pres


def test_everything_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    report = copy.deepcopy(load("fail-live-copy"))
    report["scenario"]["name"] = evil
    report["scenario"]["description"] = evil
    report["findings"][0]["id"] = evil
    report["findings"][0]["remedy"] = evil
    report["lost_operations"][0]["ids"] = evil
    report["timeline"][0]["phase"] = evil
    report["fault"]["detail"] = evil
    report["came_back"][0]["id"] = evil
    report["versions"]["platform"] = evil
    report["command"] = [evil]
    text = render_html(report)
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert text.count("<script>") == 1  # the inline print helper, nothing else


def test_came_back_and_paths() -> None:
    report = load("pass-restore")
    text = render_html(report, "/x/report.json")
    assert "What came back" in text and "(1 of 1)" in text
    assert report["history"] in text and "/x/report.json" in text


def test_recovery_points_when_the_report_has_them() -> None:
    report = copy.deepcopy(load("pass-restore"))
    report["recovery_points"] = [
        {"taken": 1.0, "clean": False, "findings": ["message-file-missing abc"]}
    ]
    text = render_html(report)
    assert "NOT clean: 1 violation(s) in the backup itself, first: message-file-missing abc" in text
