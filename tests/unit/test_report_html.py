"""report.html: self-contained, the verdict first, the checklist as junit.xml has it, the
timeline as inline SVG with one bar per phase and the disaster marked, and everything from the
report escaped (jinja2, autoescape on).

The reports are the format 2 fixtures (scripts/make-report-fixtures); variants are built with
`dataclasses.replace` on the record (judged again: `DrillReport.of`) or on the judgement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import jinja2
import pytest

from harness.checker.findings import Finding, Severity
from harness.drill.record import RecoveryPoint
from harness.drill.report import DrillReport
from harness.drill.verdict import Classification, Classified
from harness.faults.came_back import CameBack
from harness.report import model, pages
from harness.report.html import render_html, write_html
from harness.report.junit import build_junit
from tests.support.reports import sample

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "reports"
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if (p / "report.json").is_file())
EVIL = '<script>alert("x")</script>'
EVIL_ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


def load(name: str) -> DrillReport:
    return sample(name)


def rejudged(report: DrillReport, **changes: Any) -> DrillReport:
    """The report of its record changed by `changes`, judged again."""
    return DrillReport.of(replace(report.record, **changes))


def with_expect(name: str, **expect: Any) -> DrillReport:
    report = load(name)
    scenario = report.record.scenario
    expected = replace(scenario.expect, **expect)
    return rejudged(report, scenario=replace(scenario, expect=expected))


PHASES: tuple[str, ...] = ("populate", "start", "backup", "fault", "detection", "recovery")
PHASES += ("ready", "spool", "verify", "traffic")


def cut(report: DrillReport, kept: int) -> DrillReport:
    """The report as the runner saved it while a phase ran: the first `kept` phase records, the
    spans up to the running one (no end), `complete` false."""
    spans = report.record.timeline[: kept + 1]
    timeline = (*spans[:-1], replace(spans[-1], end=None))
    gone = dict.fromkeys(PHASES[kept:])
    return rejudged(report, **gone, timeline=timeline, complete=False)


# -- a small DOM -------------------------------------------------------------------------------


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.parts: list[str | Element] = []
        """Text and child elements, in order."""

    @property
    def children(self) -> list[Element]:
        return [p for p in self.parts if isinstance(p, Element)]

    def all_text(self) -> str:
        return "".join(p if isinstance(p, str) else p.all_text() for p in self.parts)

    def iter(self) -> list[Element]:
        out = [self]
        for c in self.children:
            out += c.iter()
        return out

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()


_VOID = {"meta", "br", "link", "img", "input", "hr", "col", "area", "base", "wbr", "source"}


class Tree(HTMLParser):
    """Enough of a DOM to find elements by id and class and read their text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.parts.append(el)
        if tag not in _VOID:
            self.current = el

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.parts.append(Element(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.parts.append(data)

    def by_id(self, id_: str) -> Element:
        found = [e for e in self.root.iter() if e.attrs.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_}"
        return found[0]

    def by_class(self, tag: str, cls: str, within: Element | None = None) -> list[Element]:
        return [e for e in (within or self.root).iter() if e.tag == tag and cls in e.classes]

    def all(self, tag: str, within: Element | None = None) -> list[Element]:
        return [e for e in (within or self.root).iter() if e.tag == tag]


def page(report: DrillReport, report_path: str | None = None) -> Tree:
    return Tree(render_html(report, report_path))


def _x(el: Element, attr: str = "x") -> float:
    return float(el.attrs[attr])


# -- the banner ----------------------------------------------------------------------------------


def test_the_verdict_comes_first_and_says_fail(tmp_path: Path) -> None:
    report = load("fail-live-copy")
    path = tmp_path / "report.html"
    write_html(report, path)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no .tmp left behind
    text = path.read_text()
    verdict = Tree(text).by_id("verdict")
    assert verdict.tag == "header" and "fail" in verdict.classes
    assert verdict.attrs["data-verdict"] == "fail"
    words = verdict.all_text()
    assert "FAIL" in words and "default" in words
    assert "chapter 13.4 backup under traffic" in words
    assert model.headline(report) in words
    assert "message-file-missing" in model.headline(report)
    assert text.index('id="verdict"') < text.index('id="timeline"')
    assert "<title>FAIL — default — firedrill</title>" in text


@pytest.mark.parametrize("name", SAMPLES)
def test_the_banner_says_the_verdict_of_the_judgement(name: str) -> None:
    report = load(name)
    verdict = page(report).by_id("verdict")
    word = report.judgement.verdict.value
    assert verdict.attrs["data-verdict"] == word and word in verdict.classes
    assert word.upper() in verdict.all_text()
    checks = len(Tree(render_html(report)).by_class("li", "check"))
    assert f"of {checks} checks passed" in verdict.all_text()


def test_the_banner_lists_at_most_five_reasons_the_headline_does_not_say() -> None:
    report = load("fail-live-copy")
    kinds = [f"{kind} x" for kind in ("message-lost", "row-lost", "config-changed")]
    more = (*report.judgement.reasons, *kinds, "target missed: RTO", "target missed: RPO")
    report = replace(report, judgement=replace(report.judgement, reasons=more))
    assert len(report.judgement.reasons) > 5
    (reasons,) = page(report).by_class("ul", "reasons")
    items = [li.all_text() for li in reasons.children]
    assert items[:5] == list(report.judgement.reasons[:5])
    assert items[5] == f"… and {len(report.judgement.reasons) - 5} more (see Findings)"


def test_an_error_makes_the_banner_unknown_and_shows_the_error_and_traceback() -> None:
    error = "the servers did not serve clients after start"
    report = rejudged(load("pass-restart"), error=error, traceback="Traceback: <frame & co>")
    assert report.judgement.verdict.value == "unknown"
    tree = page(report)
    verdict = tree.by_id("verdict")
    assert "unknown" in verdict.classes and "UNKNOWN" in verdict.all_text()
    assert error in verdict.all_text()
    (box,) = tree.by_class("div", "error-box")
    assert error in box.all_text()
    (pre,) = tree.all("pre", box)
    assert pre.all_text() == "Traceback: <frame & co>"
    assert pre.parent is not None and pre.parent.tag == "details"


# -- a partial report ----------------------------------------------------------------------------


@pytest.mark.parametrize("kept", range(len(PHASES) + 1))
def test_a_partial_report_renders_with_its_unfinished_phase_dashed(kept: int) -> None:
    report = cut(load("fail-live-copy"), kept)
    tree = page(report)
    verdict = report.judgement.verdict.value
    assert tree.by_id("verdict").attrs["data-verdict"] == verdict
    assert verdict == "fail" or verdict == "unknown"
    bars = tree.by_class("rect", "phase", tree.by_id("timeline"))
    assert [b.attrs["data-phase"] for b in bars] == [s.phase for s in report.record.timeline]
    assert [("stroke-dasharray" in b.attrs) for b in bars] == [False] * (len(bars) - 1) + [True]
    assert "did not finish" in bars[-1].all_text()
    (box,) = tree.by_class("div", "error-box")
    assert "Partial report" in box.all_text()


def test_a_report_without_any_phase_says_so() -> None:
    report = rejudged(cut(load("pass-restore"), 0), timeline=(), populate=None)
    text = render_html(report)
    assert "No phase was recorded." in text and 'id="timeline"' not in text
    assert "The drill stopped before the disaster." in text
    assert "The drill stopped before the backup." in text
    assert "Lost operations" not in text  # not verified: nothing to say either way


# -- the checklist -------------------------------------------------------------------------------


def junit_checks(report: DrillReport) -> list[tuple[str, str]]:
    found = []
    for case in build_junit(report).iter("testcase"):
        status = "passed"
        for tag, word in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            if case.find(tag) is not None:
                status = word
        found.append((case.get("name", ""), status))
    return sorted(found)


VARIANTS: dict[str, Callable[[], DrillReport]] = {
    **{name: partial(load, name) for name in SAMPLES},
    "error": lambda: rejudged(load("pass-restore"), error="stopped: KeyboardInterrupt"),
    "partial": lambda: cut(load("pass-restore"), 6),
    "rto-missed-not-enforced": lambda: with_expect("pass-restore", rto_target=0.5),
    "rto-missed-enforced": lambda: with_expect(
        "pass-restore", rto_target=0.5, fail_on_targets=True
    ),
    "unmeasured-enforced": lambda: with_expect("fail-procedure", fail_on_targets=True),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_checklist_is_junits_testcases(variant: str) -> None:
    report = VARIANTS[variant]()
    tree = page(report)
    shown = sorted(
        (tree.by_class("span", "name", li)[0].all_text(), li.attrs["data-status"])
        for li in tree.by_class("li", "check")
    )
    assert shown == junit_checks(report)
    statuses = {status for _, status in shown}
    if report.judgement.verdict.value == "fail":
        assert "failed" in statuses
    if report.judgement.verdict.value == "pass":
        assert statuses <= {"passed", "skipped"}


def test_failed_checks_come_first_with_their_reason() -> None:
    tree = page(load("fail-live-copy"))
    first = tree.by_class("li", "check")[0]
    assert first.attrs["data-status"] == "failed" and "failed" in first.classes
    assert "✗" in first.all_text() and "message-file-missing ×" in first.all_text()


# -- headline numbers ----------------------------------------------------------------------------


def cards(report: DrillReport) -> dict[str, Element]:
    return {c.attrs["data-metric"]: c for c in page(report).by_class("div", "card")}


def test_numbers_against_targets() -> None:
    report = load("pass-restore")
    m = report.judgement.metrics
    found = cards(report)
    assert set(found) >= {"rto_seconds", "backup_window_seconds", "restore_seconds", "rpo_seconds"}
    rto = found["rto_seconds"].all_text()
    assert model.seconds(m.rto_seconds) in rto and "target ≤ 60 s · met" in rto
    assert "met" in found["rto_seconds"].classes and "met" in found["rpo_seconds"].classes
    assert len([e for e in found["rto_seconds"].iter() if e.tag == "svg"]) == 1  # the gauge
    assert model.seconds(m.restore_seconds) in found["restore_seconds"].all_text()
    assert "none" in found["restore_seconds"].classes
    assert model.seconds(m.backup_window_seconds) in found["backup_window_seconds"].all_text()


def test_a_restart_drill_says_there_is_no_restore() -> None:
    found = cards(load("pass-restart"))
    assert "restart through the logs, no restore" in found["restore_seconds"].all_text()
    assert "no restore: nothing may be lost" in found["rpo_seconds"].all_text()


@pytest.mark.parametrize(
    ("enforced", "verdict", "note"), [(False, "pass", " (not enforced)"), (True, "fail", "")]
)
def test_a_missed_target(enforced: bool, verdict: str, note: str) -> None:
    report = with_expect("pass-restore", rto_target=0.5, fail_on_targets=enforced)
    assert report.judgement.verdict.value == verdict
    rto = cards(report)["rto_seconds"]
    assert "missed" in rto.classes
    assert f"target ≤ 0.5 s · missed{note}" in rto.all_text()
    assert ("not enforced" in rto.all_text()) is not enforced
    (check,) = [
        li for li in page(report).by_class("li", "check") if "RTO within target" in li.all_text()
    ]
    assert ("warn" in check.classes) is not enforced
    assert check.attrs["data-status"] == ("failed" if enforced else "passed")


def test_an_unmeasured_target() -> None:
    report = load("fail-procedure")
    rto = cards(report)["rto_seconds"]
    assert "unmeasured" in rto.classes and "not measured" in rto.all_text()
    assert "—" in rto.all_text()


# -- the timeline --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_the_timeline_has_one_bar_per_phase(name: str) -> None:
    report = load(name)
    tree = page(report)
    svg = tree.by_id("timeline")
    assert svg.tag == "svg"
    bars = tree.by_class("rect", "phase", svg)
    assert [b.attrs["data-phase"] for b in bars] == [s.phase for s in report.record.timeline]
    assert not any("stroke-dasharray" in b.attrs for b in bars)  # every phase finished


def test_the_disaster_is_marked_at_the_fault_time() -> None:
    report = load("fail-live-copy")
    tree = page(report)
    svg = tree.by_id("timeline")
    (marker,) = tree.by_class("line", "disaster", svg)
    assert marker.attrs["id"] == "disaster"
    fault = model.fault_time(report.record)
    assert fault is not None
    assert marker.all_text() == f"disaster (lose-tree) at {fault:.2f} s"
    # The fault struck when the "disaster" phase began.
    bars = {b.attrs["data-phase"]: b for b in tree.by_class("rect", "phase", svg)}
    assert abs(_x(marker, "x1") - _x(bars["disaster"])) < 1.5
    assert _x(bars["traffic after backup"]) < _x(marker, "x1") < _x(bars["recovery"])
    # The consistency point sits at the start of the backup (a live copy); RPO and RTO are drawn.
    (point,) = tree.by_class("line", "point", svg)
    assert abs(_x(point, "x1") - _x(bars["backup"])) < 1.5
    (rpo,) = tree.by_class("rect", "span-rpo", svg)
    (rto,) = tree.by_class("rect", "span-rto", svg)
    assert abs(_x(rpo) - _x(point, "x1")) < 0.1  # from the point...
    assert abs(_x(rpo) + float(rpo.attrs["width"]) - _x(marker, "x1")) < 0.1  # ...to the disaster
    assert _x(marker, "x1") < _x(rto) < _x(bars["recovery"])  # from the damage complete


def test_no_disaster_no_marker_and_a_failed_phase_says_why() -> None:
    report = load("fail-procedure")
    timeline = report.record.timeline
    failed = replace(timeline[-1], error="ProcedureFailed: backup command exited 3")
    report = rejudged(report, timeline=(*timeline[:-1], failed))
    text = render_html(report)
    tree = Tree(text)
    assert not tree.by_class("line", "disaster", tree.by_id("timeline"))
    assert "No disaster was struck: the drill stopped before it." in text
    backup = tree.by_class("rect", "phase")[-1]
    assert backup.attrs["data-phase"] == "backup" and backup.attrs["fill"] == "#cf222e"
    assert "ProcedureFailed: backup command exited 3" in backup.all_text()  # on hover


# -- findings, lost operations, what came back ---------------------------------------------------


def test_findings_grouped_by_kind_with_counts_and_remedies() -> None:
    report = load("fail-live-copy")
    rows = {r.attrs["data-kind"]: r for r in page(report).root.iter() if "data-kind" in r.attrs}
    groups = model.group_findings(report.judgement.findings)
    assert list(rows) == [g.kind for g in groups]
    first = groups[0]
    assert first.kind == "message-file-missing" and first.worst == "violation"
    text = rows[first.kind].all_text()
    assert f"{first.count} violation" in text and first.remedy in text
    assert all(c.finding.subject in text for c in first.items)
    assert "group-violation" in rows[first.kind].classes
    lost = next(g for g in groups if g.kind == "acknowledged-message-lost")
    assert f"{lost.count} allowed" in rows[lost.kind].all_text()


def test_no_findings_says_every_invariant_holds() -> None:
    assert "No findings: every invariant holds." in render_html(load("pass-restart"))


def test_a_long_lost_operation_list_is_collapsed() -> None:
    report = load("pass-restore")
    tree = page(report)
    lost = tree.by_id("lost")
    assert lost.tag == "details" and "open" not in lost.attrs
    assert len(tree.by_class("span", "badge", lost)) == len(report.judgement.lost)


def test_a_short_lost_operation_list_is_open() -> None:
    report = load("pass-restore")
    report = replace(report, judgement=replace(report.judgement, lost=report.judgement.lost[:3]))
    text = render_html(report)
    assert 'id="lost"' not in text
    assert "3 acknowledged operations lost: 3 allowed" in text


def test_lost_operations_are_timed_from_the_start_and_the_backup_point() -> None:
    report = load("pass-restore")
    record = report.record
    first = min(report.judgement.lost, key=lambda x: x.acknowledged.mono if x.acknowledged else 0)
    assert first.acknowledged is not None and record.point is not None
    at = record.since_start(first.acknowledged)
    after = first.acknowledged.mono - record.point.mono
    tree = page(report)
    row = tree.all("tr", tree.by_id("lost"))[1]
    cells = [td.all_text() for td in row.children]
    assert cells[:5] == [str(first.op), first.kind, first.ids, f"{at:.2f} s", f"{after:+.2f} s"]
    assert after > 0  # allowed: acknowledged after the point


def test_came_back_and_paths() -> None:
    report = load("pass-restore")
    text = render_html(report, "/x/report.json")
    assert "What came back" in text and "(1 of 1)" in text
    assert report.record.paths.history in text and "/x/report.json" in text
    assert report.record.scenario.path in text
    assert "firedrill report format 2" in text


def test_what_did_not_come_back_is_marked() -> None:
    report = load("pass-restore")
    assert report.record.verify is not None
    gone = (CameBack("message", "m1", "", False, True), CameBack("message", "m2", "", False, False))
    verify = replace(report.record.verify, came_back=gone)
    text = render_html(rejudged(report, verify=verify))
    assert "(0 of 2)" in text
    assert '<span class="badge b-missed">NOT back</span>' in text
    assert "not back (the backup lacked it)" in text


# -- disaster and recovery details, procedure output, the run ------------------------------------


@pytest.mark.parametrize(
    ("clean", "findings", "why", "says"),
    [
        (True, (), "", "clean: the backup passes firedrill check"),
        (
            False,
            ("message-file-missing abc",),
            "",
            "NOT clean: 1 violation(s) in the backup itself, first: message-file-missing abc",
        ),
        (None, (), "not a tree: an archive", "could not be checked: not a tree: an archive"),
    ],
)
def test_the_backup_as_a_recovery_point(
    clean: bool | None, findings: tuple[str, ...], why: str, says: str
) -> None:
    report = load("pass-restore")
    backup = report.record.backup
    assert backup is not None and backup.recovery_point is not None
    point = RecoveryPoint(backup.recovery_point.taken, clean, findings, why)
    text = render_html(rejudged(report, backup=replace(backup, recovery_point=point)))
    assert f"<dt>backup checked</dt><dd>{says}</dd>" in text


def test_the_disaster_details() -> None:
    report = load("fail-live-copy")
    fault = report.record.fault
    assert fault is not None
    text = render_html(report)
    assert f"<dt>kind</dt><dd>{fault.kind}</dd>" in text
    assert f"<dt>inflicting took</dt><dd>{model.seconds(fault.inflict_seconds)}</dd>" in text
    assert f"({model.iso(fault.at.wall)})" in text
    assert "<dt>destroyed</dt><dd>path .</dd>" in text
    assert "<dt>consistency point</dt><dd>5.68 s (procedure start)</dd>" in text


def test_a_failed_backup_says_so() -> None:
    report = load("fail-procedure")
    assert report.record.backup is not None
    text = render_html(report)
    assert f"No backup: the procedure failed ({report.record.backup.failed})." in text
    assert "<h3>failed backup procedure</h3>" in text


def test_an_interrupted_backup_says_so() -> None:
    report = load("fail-procedure")
    assert report.record.backup is not None
    why = "the machine crashed while the procedure ran"
    backup = replace(report.record.backup, failed="", interrupted=why)
    text = render_html(rejudged(report, backup=backup))
    assert f"No backup: it was interrupted ({why})." in text


def test_procedure_output_is_escaped_in_pre() -> None:
    report = load("fail-procedure")
    assert report.record.backup is not None
    said = "cp: cannot stat '<msgfiles>': No such file & directory"
    report = rejudged(report, backup=replace(report.record.backup, output=said))
    pres = [p.all_text() for p in page(report).all("pre")]
    assert said in pres


def test_every_procedure_that_printed_is_shown() -> None:
    report = load("pass-restore")
    backup, recovery = report.record.backup, report.record.recovery
    assert backup and backup.backup and recovery and recovery.restore
    backup = replace(backup, backup=replace(backup.backup, output="backup said"))
    restore = replace(recovery.restore, output="restore said")
    text = render_html(rejudged(report, backup=backup, recovery=replace(recovery, restore=restore)))
    assert "<h3>backup procedure</h3>\n<pre>backup said</pre>" in text
    assert "<h3>restore procedure</h3>\n<pre>restore said</pre>" in text
    failed = replace(recovery, restore=None, failed="restore exited 1", output="it broke")
    text = render_html(rejudged(report, recovery=failed))
    assert "<h3>failed restore procedure</h3>\n<pre>it broke</pre>" in text
    assert "<dt>restore failed</dt><dd>restore exited 1</dd>" in text


def test_the_workload_operations_chart() -> None:
    report = load("pass-restore")
    tree = page(report)
    (svg,) = tree.by_class("svg", "ops")
    kinds = {key.partition(":")[0] for key, _ in report.judgement.metrics.operations}
    labels = [t.all_text() for t in tree.all("text", svg) if t.attrs.get("text-anchor") == "end"]
    assert sorted(labels) == sorted(kinds)
    titles = {r.all_text() for r in tree.all("rect", svg)}
    assert {f"{k.replace(':', ' ')}: {n}" for k, n in report.judgement.metrics.operations} == titles


# -- self-contained, escaped ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_self_contained(name: str) -> None:
    text = render_html(load(name))
    assert not re.search(r"<(link|img|iframe|object|embed)\b", text)
    assert not re.search(r"\b(src|href)\s*=", text)
    assert "@import" not in text and "url(" not in text
    urls = set(re.findall(r"https?://[^\s\"'<]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace is a name, not a fetch
    assert "@media print" in text


@dataclass(frozen=True, slots=True)
class Hostile(Finding):
    kind: ClassVar[str] = EVIL
    severity: ClassVar[Severity] = Severity.VIOLATION
    remedy: ClassVar[str] = EVIL


def hostile() -> DrillReport:
    """fail-live-copy with hostile text wherever the report holds text."""
    report = load("fail-live-copy")
    r, j = report.record, report.judgement
    assert r.fault and r.verify and r.backup and r.backup.backup and r.backup.recovery_point
    assert r.recovery and r.recovery.restore and r.detection
    first = j.findings[0]
    findings = (
        Classified(Hostile(EVIL, EVIL), Classification.VIOLATION, EVIL),
        replace(first, finding=replace(first.finding, subject=EVIL, detail=EVIL)),
        *j.findings[1:],
    )
    record = replace(
        r,
        scenario=replace(r.scenario, name=EVIL, description=EVIL, path=EVIL),
        timeline=(replace(r.timeline[0], phase=EVIL, error=EVIL), *r.timeline[1:]),
        fault=replace(
            r.fault, kind=EVIL, detail=EVIL, damaged=(replace(r.fault.damaged[0], id=EVIL),)
        ),
        detection=replace(r.detection, what=EVIL),
        backup=replace(
            r.backup,
            procedure=EVIL,
            backup=replace(r.backup.backup, output=EVIL, point_source=EVIL, directory=Path(EVIL)),
            recovery_point=replace(r.backup.recovery_point, findings=(EVIL,)),
        ),
        recovery=replace(
            r.recovery, restore=replace(r.recovery.restore, procedure=EVIL, output=EVIL)
        ),
        verify=replace(r.verify, came_back=(CameBack(EVIL, EVIL, EVIL, False, True),)),
        versions=(*r.versions[:-1], ("platform", EVIL)),
        command=(EVIL,),
        paths=replace(r.paths, history=EVIL, logs=EVIL, kept_tree=EVIL),
        procedure=EVIL,
        backend=EVIL,
    )
    judgement = replace(
        j,
        reasons=(EVIL, *j.reasons),
        findings=findings,
        lost=(replace(j.lost[0], ids=EVIL, kind=EVIL, reason=EVIL), *j.lost[1:]),
        metrics=replace(j.metrics, operations=((f"{EVIL}:{EVIL}", 3),), detected=EVIL),
    )
    return DrillReport(record, judgement)


def test_everything_is_escaped() -> None:
    report = hostile()
    text = render_html(report, EVIL)
    assert "<script>alert" not in text
    assert text.count(EVIL_ESCAPED) >= 25
    assert text.count("<script>") == 1  # the inline print helper, nothing else
    tree = Tree(text)
    assert len(tree.all("script")) == 1
    assert not [a for e in tree.root.iter() for a in e.attrs if a.startswith("on")]
    kinds = [r.attrs["data-kind"] for r in tree.root.iter() if "data-kind" in r.attrs]
    assert EVIL in kinds  # an attribute, escaped, read back as it was
    assert tree.by_class("rect", "phase")[0].attrs["data-phase"] == EVIL


def test_escaping_is_the_template_engines_job() -> None:
    """Autoescape on, undefined names an error; no template marks text safe and no module builds
    markup by hand, so nothing can skip the escaping."""
    env = pages.environment()
    assert env.autoescape is True and env.undefined is jinja2.StrictUndefined
    templates = ROOT / "harness" / "report" / "templates"
    for path in templates.iterdir():
        source = path.read_text()
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|\bMarkup\b", source), path
    for path in (ROOT / "harness" / "report").glob("*.py"):
        source = path.read_text()
        assert not re.search(r"\bMarkup\(|html\.escape\(|import markupsafe", source), path
