"""The drill as a list of checks: what JUnit calls test cases and the HTML report's checklist.

- one per invariant family, 0 ("files and drill") to 7: failed by the findings of that
  invariant classified as violations (allowed losses, leaks and warnings do not fail it);
  skipped when the drill stopped before it was verified and nothing was found about it;
- the expectations the drill exists for: the loss expectation ("no unexpected acknowledged
  loss" when the scenario allows none, "losses only after the backup point" otherwise),
  "service restored", "spool drained" and "destroyed data came back", each only when the
  drill got that far or found something about it;
- one per target the scenario sets ("RTO within target", "RPO within target", "RPO (messages)
  within target"): failed when missed (or unmeasured) and the scenario enforces targets
  (`fail_on_targets`); a miss that is not enforced passes with a note (`warn`), as in the
  verdict, and an unenforced target without a measurement is skipped;
- "drill ran to completion": an error when the harness stopped the drill or a check crashed
  (the verdict is then unknown).

So a failed verdict always has at least one failed check, and a passed one has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.report import model
from harness.report.model import Report

Status = Literal["passed", "failed", "skipped", "error"]

INVARIANTS: dict[int, str] = {
    0: "files and drill (config.db, spool, procedures, service)",
    1: "every row resolves to a message file of the right size and digest",
    2: "refcounts equal references, no orphan files",
    3: "folder uids and cached counts",
    4: "accounts, mailboxes, index and directory cache agree",
    5: "Berkeley DB environments verify and recover",
    6: "acknowledged deliveries and deletions took effect",
    7: "the tree matches the backup and acknowledged changes",
}

TARGET_NAMES = {
    "rto_seconds": "RTO within target",
    "rpo_seconds": "RPO within target",
    "rpo_messages": "RPO (messages) within target",
}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    group: Literal["invariants", "expectations", "targets", "drill"]
    status: Status
    message: str = ""
    """One line: why it failed, was skipped or errored (or a note on a pass)."""
    findings: tuple[Mapping[str, Any], ...] = ()
    """The typed findings behind a failure."""
    text: str = ""
    """Longer text (a traceback, the errors of crashed checks)."""
    warn: bool = False
    """Passed, but worth a look (a target missed that the scenario does not enforce)."""

    @property
    def lines(self) -> list[str]:
        """`kind id: detail` for each finding."""
        return [model.finding_line(f) for f in self.findings]


def _summary(findings: Sequence[Mapping[str, Any]]) -> str:
    kinds: dict[str, int] = {}
    for f in findings:
        kind = str(f.get("kind", "?"))
        kinds[kind] = kinds.get(kind, 0) + 1
    return f"{len(findings)} violation(s): " + ", ".join(f"{k} ×{n}" for k, n in kinds.items())


def _from_findings(
    name: str, group: Literal["invariants", "expectations"], bad: Sequence[Mapping[str, Any]]
) -> Check:
    if bad:
        return Check(name, group, "failed", _summary(bad), tuple(bad))
    return Check(name, group, "passed")


def checks(report: Report) -> list[Check]:
    result: list[Check] = []
    findings = model.rows(report, "findings")
    violations = model.violations(report)
    phases = {p.name for p in model.phases(report)}
    verified = report.get("check") is not None

    for inv, title in INVARIANTS.items():
        bad = [f for f in violations if f.get("invariant") == inv]
        name = f"invariant {inv}: {title}"
        found = any(f.get("invariant") == inv for f in findings)
        if inv != 0 and not verified and not found:
            result.append(
                Check(name, "invariants", "skipped", "not checked: the drill stopped before verify")
            )
        else:
            result.append(_from_findings(name, "invariants", bad))

    loss = str(model.section(model.scenario(report), "expect").get("loss") or "none")
    loss_name = (
        "no unexpected acknowledged loss"
        if loss == "none"
        else "losses only after the backup point"
    )
    lost = [f for f in violations if "op" in f]
    if verified or lost:
        result.append(_from_findings(loss_name, "expectations", lost))
    for phase, kind, name in (
        ("service ready", "service-not-restored", "service restored"),
        ("spool drained", "spool-not-drained", "spool drained"),
    ):
        bad = [f for f in violations if f.get("kind") == kind]
        if phase in phases or bad:
            result.append(_from_findings(name, "expectations", bad))
    bad = [f for f in violations if f.get("kind") == "damage-not-repaired"]
    if model.rows(report, "came_back") or bad:
        result.append(_from_findings("destroyed data came back", "expectations", bad))

    for m in model.measures(report):
        if m.key not in TARGET_NAMES or m.target is None:
            continue
        name = TARGET_NAMES[m.key]
        got = f"{m.text()} (target {m.target_text()})"
        if m.status == "met":
            result.append(Check(name, "targets", "passed", got))
        elif m.enforced:
            what = "missed" if m.status == "missed" else "not measured"
            result.append(Check(name, "targets", "failed", f"{what}: {got}"))
        elif m.status == "missed":
            note = f"missed, not enforced (fail_on_targets = false): {got}"
            result.append(Check(name, "targets", "passed", note, warn=True))
        else:
            result.append(
                Check(name, "targets", "skipped", f"not measured (target {m.target_text()})")
            )

    error = str(report.get("error") or "")
    crashed = [
        f"{e.get('check', '?')}: {e.get('error', '')}"
        for e in model.rows(model.section(report, "check"), "errors")
    ]
    if error:
        text = str(report.get("traceback") or "")
        result.append(Check("drill ran to completion", "drill", "error", error, (), text))
    elif crashed:
        message = f"{len(crashed)} check(s) could not run"
        result.append(
            Check("drill ran to completion", "drill", "error", message, (), "\n".join(crashed))
        )
    else:
        result.append(Check("drill ran to completion", "drill", "passed"))
    return result
