"""junit.xml for CI: one <testsuite> per drill (named after the scenario), one <testcase> per
check (harness/report/checks.py), failures carrying the typed findings with their ids.

Written with the standard library; the layout is the common one Jenkins, GitLab, GitHub
reporters and junitparser read: <testsuites><testsuite><properties/><testcase>
<failure|error|skipped/></testcase></testsuite></testsuites>.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.report import model
from harness.report.checks import Check, checks
from harness.report.model import Report

MESSAGE_LINES = 20
"""A failure's message attribute lists at most this many findings; its text lists them all."""

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: Any) -> str:
    """Text XML 1.0 can hold (procedure output may carry control characters)."""
    return _NOT_XML.sub("�", str(text))


def build_junit(report: Report, report_path: Path | str | None = None) -> ET.Element:
    """The <testsuites> element for one drill."""
    name = model.scenario_name(report)
    results = checks(report)
    total = model.duration(report)
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
    wall = model.started(report)
    if wall is not None:
        suite.set("timestamp", model.iso(wall).removesuffix(" UTC").replace(" ", "T"))

    props = ET.SubElement(suite, "properties")
    scenario = model.scenario(report)
    fault = model.section(report, "fault")
    properties: list[tuple[str, Any]] = [
        ("scenario", name),
        ("verdict", model.verdict(report)),
        ("seed", report.get("seed")),
        ("backend", report.get("backend")),
        ("category", scenario.get("category")),
        ("disaster", fault.get("kind") or model.section(scenario, "disaster").get("kind")),
        ("procedure", model.section(scenario, "backup").get("procedure")),
        ("firedrill", model.section(report, "versions").get("firedrill")),
        ("report", str(report_path) if report_path is not None else None),
        ("history", report.get("history")),
    ]
    properties += [(m.key, m.value) for m in model.measures(report) if m.value is not None]
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
        kinds = sorted({str(f.get("kind", "")) for f in check.findings})
        failure = ET.SubElement(
            case, "failure", message=clean(message), type=clean(" ".join(kinds) or "target")
        )
        body = [
            f"{model.finding_line(f)}\n    {model.classification(f)}: {f.get('reason', '')}"
            f"\n    remedy: {f.get('remedy', '')}"
            for f in check.findings
        ]
        failure.text = clean("\n".join(body) if body else check.message)
    elif check.status == "error":
        error = ET.SubElement(case, "error", message=clean(check.message), type="harness-error")
        error.text = clean(check.text or check.message)
    elif check.status == "skipped":
        ET.SubElement(case, "skipped", message=clean(check.message))
    elif check.message:
        ET.SubElement(case, "system-out").text = clean(check.message)


def junit_xml(report: Report, report_path: Path | str | None = None) -> str:
    root = build_junit(report, report_path)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: Report, path: Path) -> None:
    """Write junit.xml for `report` at `path` (atomically); report.json is taken to be beside it."""
    text = junit_xml(report, path.with_name("report.json").absolute())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
