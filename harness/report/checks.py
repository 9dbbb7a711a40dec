"""The drill as a list of checks: what JUnit calls test cases and the HTML report's checklist,
derived from the one judgement (so a failed verdict always has a failed check, and a passed one
has none).

- one per invariant family, 0 ("files and drill") to 7 and 10: failed by the findings of that
  invariant classified as violations (allowed losses, leaks and warnings do not fail it);
  skipped when the drill stopped before it was verified and nothing was found about it;
- the expectations the drill exists for: the loss expectation ("no unexpected acknowledged
  loss" when the scenario allows none, "losses only after the backup point" otherwise),
  "service restored", "spool drained" and "destroyed data came back", each only when the
  drill got that far or found something about it;
- one per target the scenario sets ("RTO within target", ...): failed when the target fails
  the verdict (enforced, and missed or not measurable); a miss that is not enforced passes with
  a note (`warn`); a target that could not be measured and does not fail is skipped;
- "drill ran to completion": an error when the harness stopped the drill or a check crashed
  (the verdict is then unknown, unless something failed it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harness.drill.report import DrillReport
from harness.drill.verdict import Classified, Target, crashed
from harness.report import model

Status = Literal["passed", "failed", "skipped", "error"]
Group = Literal["invariants", "expectations", "targets", "drill"]

INVARIANTS: dict[int, str] = {
    0: "files and drill (config.db, spool, procedures, service)",
    1: "every row resolves to a message file of the right size and digest",
    2: "refcounts equal references, no orphan files",
    3: "folder uids and cached counts",
    4: "accounts, mailboxes, index and directory cache agree",
    5: "Berkeley DB environments verify and recover",
    6: "acknowledged deliveries and deletions took effect",
    7: "the tree matches the backup and acknowledged changes",
    10: "clients are served what the store holds, and it survives a clean restart",
}

TARGET_NAMES = {
    "rto_seconds": "RTO within target",
    "rpo_seconds": "RPO within target",
    "rpo_messages": "RPO (messages) within target",
}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    group: Group
    status: Status
    message: str = ""
    """One line: why it failed, was skipped or errored (or a note on a pass)."""
    findings: tuple[Classified, ...] = ()
    """The judged findings behind a failure."""
    text: str = ""
    """Longer text (a traceback, the errors of crashed checks)."""
    warn: bool = False
    """Passed, but worth a look (a target missed that the scenario does not enforce)."""

    @property
    def lines(self) -> list[str]:
        """`kind id: detail` for each finding."""
        return [model.finding_line(c) for c in self.findings]


def _summary(findings: Sequence[Classified]) -> str:
    kinds: dict[str, int] = {}
    for c in findings:
        kinds[c.finding.kind] = kinds.get(c.finding.kind, 0) + 1
    return f"{len(findings)} violation(s): " + ", ".join(f"{k} ×{n}" for k, n in kinds.items())


def _from_findings(name: str, group: Group, bad: Sequence[Classified]) -> Check:
    if bad:
        return Check(name, group, "failed", _summary(bad), tuple(bad))
    return Check(name, group, "passed")


def checks(report: DrillReport) -> list[Check]:
    return [*_invariants(report), *_expectations(report), *_targets(report), _completion(report)]


def _invariants(report: DrillReport) -> list[Check]:
    findings, violations = report.judgement.findings, report.judgement.violations
    verify = report.record.verify
    missing = {n.invariant: n.reason for n in report.judgement.not_evaluated}
    result = []
    for inv, title in INVARIANTS.items():
        name = f"invariant {inv}: {title}"
        found = any(c.finding.invariant == inv for c in findings)
        checked = verify is not None or (inv == 0 and report.record.complete)  # it ended
        why = "not checked: the drill stopped before verify"
        bad = [c for c in violations if c.finding.invariant == inv]
        if inv in missing and not bad:  # what was found did not evaluate it: no pass
            result.append(Check(name, "invariants", "skipped", f"not evaluated: {missing[inv]}"))
        elif not checked and not found:
            result.append(Check(name, "invariants", "skipped", why))
        else:
            result.append(_from_findings(name, "invariants", bad))
    return result


def _expectations(report: DrillReport) -> list[Check]:
    record, violations = report.record, report.judgement.violations
    result = []
    loss = record.scenario.expect.loss
    name = (
        "no unexpected acknowledged loss"
        if loss == "none"
        else "losses only after the backup point"
    )
    lost = [c for c in violations if c.finding.op is not None]
    if record.verify is not None or lost:
        result.append(_from_findings(name, "expectations", lost))
    for ran, kind, title in (
        (record.ready is not None, "service-not-restored", "service restored"),
        (record.spool is not None, "spool-not-drained", "spool drained"),
        (
            bool(record.verify and record.verify.came_back),
            "damage-not-repaired",
            "destroyed data came back",
        ),
    ):
        bad = [c for c in violations if c.finding.kind == kind]
        if ran or bad:
            result.append(_from_findings(title, "expectations", bad))
    return result


def _targets(report: DrillReport) -> list[Check]:
    by_metric = {m.key: m for m in model.measures(report.judgement)}
    return [
        _target(t, f"{by_metric[t.metric].text()} (target {by_metric[t.metric].target_text()})")
        for t in report.judgement.targets
    ]


def _target(t: Target, got: str) -> Check:
    name = TARGET_NAMES[t.metric]
    if t.status == "met":
        return Check(name, "targets", "passed", got)
    if t.fails:
        what = "missed" if t.status == "missed" else f"not measured ({t.why})"
        return Check(name, "targets", "failed", f"{what}: {got}")
    if t.status == "missed":
        note = f"missed, not enforced (fail_on_targets = false): {got}"
        return Check(name, "targets", "passed", note, warn=True)
    return Check(name, "targets", "skipped", t.why)


def _completion(report: DrillReport) -> Check:
    record = report.record
    name = "drill ran to completion"
    if record.error or not record.complete:
        why = record.error or "; ".join(report.judgement.reasons) or "the drill stopped early"
        return Check(name, "drill", "error", why, (), record.traceback)
    errors = crashed(record)
    if errors:
        message = f"{len(errors)} check(s) could not run"
        text = "\n".join(f"{e.check}: {e.error}" for e in errors)
        return Check(name, "drill", "error", message, (), text)
    return Check(name, "drill", "passed")
