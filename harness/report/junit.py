"""junit.xml for CI: one <testsuite> per drill (named after the scenario), one <testcase> per
check (harness/report/checks.py), failures carrying the typed findings with their ids.

Written with the standard library; the layout is the common one Jenkins, GitLab, GitHub
reporters and junitparser read: <testsuites><testsuite><properties/><testcase>
<failure|error|skipped/></testcase></testsuite></testsuites>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.drill.report import DrillReport
from harness.report import model, pages
from harness.report.checks import Check, checks

MESSAGE_LINES = 20
"""A failure's message attribute lists at most this many findings; its text lists them all."""

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: object) -> str:
    """Text XML 1.0 can hold (procedure output may carry control characters)."""
    return _NOT_XML.sub("�", str(text))


def build_junit(report: DrillReport, report_path: Path | str | None = None) -> ET.Element:
    """The <testsuites> element for one drill."""
    record, judgement = report.record, report.judgement
    name = record.scenario.name
    results = checks(report)
    total = model.duration(record)
    counts = {
        "tests": len(results),
        "failures": sum(c.status == "failed" for c in results),
        "errors": sum(c.status == "error" for c in results),
        "skipped": sum(c.status == "skipped" for c in results),
    }
    suites = ET.Element("testsuites", name="firedrill", time=f"{total:.3f}")
    suites.attrib.update({k: str(v) for k, v in counts.items()})
    suite = ET.SubElement(suites, "testsuite", name=clean(name), time=f"{total:.3f}")
    suite.attrib.update({k: str(v) for k, v in counts.items()})
    started = model.when(record.started.wall)
    if started is not None:  # a moment no calendar holds has no timestamp
        suite.set("timestamp", started.strftime("%Y-%m-%dT%H:%M:%S"))
    props = ET.SubElement(suite, "properties")
    properties: list[tuple[str, object]] = [
        ("scenario", name),
        ("verdict", judgement.verdict.value),
        ("seed", record.seed),
        ("backend", record.backend),
        ("category", record.scenario.category),
        ("disaster", record.scenario.disaster.kind),
        ("procedure", record.procedure),
        ("firedrill", dict(record.versions).get("firedrill")),
        ("report", str(report_path) if report_path is not None else None),
        ("history", record.paths.history),
    ]
    properties += [(m.key, m.value) for m in model.measures(judgement) if m.value is not None]
    for key, value in properties:
        if value is not None and value != "":
            ET.SubElement(props, "property", name=key, value=clean(model.plain(value)))
    classname = f"firedrill.{clean(name)}"
    for check in results:
        _testcase(suite, classname, check, total)
    return suites


def _testcase(suite: ET.Element, classname: str, check: Check, total: float) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{classname}.{check.group}",
        name=clean(check.name),
        time=f"{total if check.group == 'drill' else 0.0:.3f}",
    )
    if check.status == "failed":
        lines = check.lines
        shown = lines[:MESSAGE_LINES]
        if len(lines) > len(shown):
            shown.append(f"… and {len(lines) - len(shown)} more")
        message = "\n".join([check.message, *shown]) if lines else check.message
        kinds = sorted({c.finding.kind for c in check.findings})
        failure = ET.SubElement(
            case, "failure", message=clean(message), type=clean(" ".join(kinds) or "target")
        )
        body = [
            f"{model.finding_line(c)}\n    {c.classification.value}: {c.reason}"
            f"\n    remedy: {c.finding.remedy}"
            for c in check.findings
        ]
        failure.text = clean("\n".join(body) if body else check.message)
    elif check.status == "error":
        error = ET.SubElement(case, "error", message=clean(check.message), type="harness-error")
        error.text = clean(check.text or check.message)
    elif check.status == "skipped":
        ET.SubElement(case, "skipped", message=clean(check.message))
    elif check.message:
        ET.SubElement(case, "system-out").text = clean(check.message)


def xml_text(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_xml(root: ET.Element, path: Path) -> None:
    """Write the XML document `root` at `path` (atomically)."""
    pages.write_atomically(path, xml_text(root))


def junit_xml(report: DrillReport, report_path: Path | str | None = None) -> str:
    return xml_text(build_junit(report, report_path))


def write_junit(report: DrillReport, path: Path) -> None:
    """Write junit.xml for `report` at `path` (atomically); report.json is taken to be beside it."""
    write_xml(build_junit(report, path.with_name("report.json").absolute()), path)
