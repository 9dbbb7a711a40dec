"""`firedrill report show`: one drill in the terminal, with rich.

Everything taken from the report goes through `_text` (a rich `Text`, never markup, of
`model.printable` text), so brackets in ids, paths or procedure output print as they are, and
no escape sequence or other control character in a report reaches the terminal.

The verdict panel (with the one-line headline), the headline numbers against their targets,
the failed checks, the findings grouped by kind, the lost operations and where the files are.
"""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from harness.drill.report import DrillReport, SequenceReport
from harness.report import model
from harness.report.checks import Check, checks

STYLES = {
    "pass": "bold white on green",
    "fail": "bold white on red",
    "unknown": "bold black on yellow",
}
BORDERS = {"pass": "green", "fail": "red", "unknown": "yellow"}
CLASS_STYLES = {"violation": "red", "allowed": "blue", "leak": "magenta", "warning": "yellow"}
STATUS_STYLES = {"met": "green", "missed": "red", "unmeasured": "yellow", "none": "dim"}


def _text(text: object, style: str = "") -> Text:
    """Text from a report as rich prints it: printable, and never read as markup."""
    return Text(model.printable(text), style=style)


def render_show(
    report: DrillReport,
    console: Console,
    *,
    report_dir: Path | None = None,
    findings_limit: int = 20,
) -> None:
    """Print a summary of one drill to `console`."""
    results = checks(report)
    _panel(report, console, results)
    _measures(report, console)
    _checks(console, results)
    _not_evaluated(report, console)
    _findings(report, console, findings_limit)
    _lost(report, console)
    _paths(report, console, report_dir)


def _panel(report: DrillReport, console: Console, results: list[Check]) -> None:
    record, verdict = report.record, report.judgement.verdict.value
    scenario = record.scenario
    title = Text()
    title.append(f" {verdict.upper()} ", style=STYLES[verdict])
    title.append(model.printable(f"  {scenario.name}"), style="bold")
    what = " · ".join((scenario.category, scenario.disaster.kind, f"procedure {record.procedure}"))
    passed = sum(c.status == "passed" for c in results)
    lines: list[Text | Table] = [
        title,
        _text(scenario.description, style="italic"),
        _text(what, style="dim"),
        _text(model.headline(report), style="bold"),
        _text(
            f"started {model.iso(record.started.wall)} · seed {record.seed} · "
            f"backend {record.backend} · {passed} of {len(results)} checks passed",
            style="dim",
        ),
    ]
    if record.error:
        lines.append(_text(f"error: {record.error}", style="bold yellow"))
    if not record.complete and not record.error:
        lines.append(_text("partial record: the drill had not ended", style="bold yellow"))
    console.print(Panel(Group(*lines), border_style=BORDERS[verdict], title="firedrill drill"))


def _measures(report: DrillReport, console: Console) -> None:
    metrics = Table(title="Headline numbers", box=box.SIMPLE_HEAD, title_justify="left")
    metrics.add_column("measure")
    metrics.add_column("value", justify="right")
    metrics.add_column("target", justify="right")
    metrics.add_column("")
    for m in model.measures(report.judgement):
        if m.value is None and m.target is None and m.key == "rpo_messages":
            continue
        status = {"met": "met", "missed": "MISSED", "unmeasured": "not measured"}.get(m.status, "")
        if m.status == "missed" and not m.enforced:
            status += " (not enforced)"
        metrics.add_row(
            _text(m.label),
            _text(m.text()),
            _text(m.target_text()),
            _text(status, style=STATUS_STYLES[m.status]),
        )
    console.print(metrics)


def _checks(console: Console, results: list[Check]) -> None:
    passed = sum(c.status == "passed" for c in results)
    bad = [c for c in results if c.status in ("failed", "error") or c.warn]
    if bad:
        table = Table(title="Checks that need a look", box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("check")
        table.add_column("status")
        table.add_column("why")
        for c in bad:
            style = "yellow" if c.warn or c.status == "error" else "red"
            table.add_row(_text(c.name), _text(c.status, style=style), _text(c.message))
        console.print(table)
    else:
        skipped = sum(c.status == "skipped" for c in results)
        note = f" ({skipped} skipped)" if skipped else ""
        console.print(_text(f"All {passed} checks passed{note}.", style="green"))


def _not_evaluated(report: DrillReport, console: Console) -> None:
    """Invariants the drill could not evaluate: said plainly, never counted as passed."""
    for item in report.judgement.not_evaluated:
        line = f"Not evaluated: invariant {item.invariant}: {item.reason}"
        console.print(_text(line, style="yellow"))


def _findings(report: DrillReport, console: Console, findings_limit: int) -> None:
    groups = model.group_findings(report.judgement.findings)
    if groups:
        wide = console.width >= 120
        table = Table(title="Findings by kind", box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("kind", no_wrap=True)
        table.add_column("count", justify="right")
        table.add_column("inv", justify="right")
        table.add_column("classification", no_wrap=True)
        if wide:
            table.add_column("first ids", overflow="fold")
        table.add_column("remedy", overflow="fold")
        for g in groups[:findings_limit]:
            classes = Text()
            for name, n in g.classifications:
                classes.append(f"{n} {name} ", style=CLASS_STYLES.get(name, ""))
            ids = ", ".join(c.finding.subject for c in g.items[:3])
            if g.count > 3:
                ids += f", … (+{g.count - 3})"
            cells = [
                _text(g.kind),
                _text(str(g.count)),
                _text(str(g.invariant)),
                classes,
            ]
            if wide:
                cells.append(_text(ids))
            table.add_row(*cells, _text(g.remedy))
        console.print(table)
        if len(groups) > findings_limit:
            console.print(f"… and {len(groups) - findings_limit} more kinds")
    else:
        console.print("No findings.")


def _lost(report: DrillReport, console: Console) -> None:
    total, counts = model.operations_lost(report.judgement)
    if total:
        detail = ", ".join(f"{n} {c}" for c, n in counts.most_common())
        style = "red" if counts.get("violation") else "blue"
        losses = len(report.judgement.lost)
        per = f"; {losses} losses, per recipient" if losses != total else ""
        console.print(_text(f"Lost acknowledged operations: {total} ({detail}{per})", style=style))
    else:
        console.print("Lost acknowledged operations: 0")


def _paths(report: DrillReport, console: Console, report_dir: Path | None) -> None:
    paths = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    paths.add_column(style="dim")
    paths.add_column(overflow="fold")
    if report_dir is not None:
        for name in ("report.json", "report.html", "junit.xml"):
            if (report_dir / name).exists():
                paths.add_row(name, _text(str(report_dir / name)))
    where = report.record.paths
    for key, value in (
        ("history", where.history),
        ("logs", where.logs),
        ("manifest", where.manifest),
        ("kept tree", where.kept_tree),
    ):
        if value:
            paths.add_row(key, _text(value))
    console.print(paths)


def render_sequence(
    report: SequenceReport, console: Console, *, report_dir: Path | None = None
) -> None:
    """Print a sequence run: the verdict, each step with what differed after it."""
    record, verdict = report.record, report.judgement.verdict.value
    title = Text()
    title.append(f" {verdict.upper()} ", style=STYLES[verdict])
    title.append(model.printable(f"  {record.sequence}"), style="bold")
    ran = max(0, len(record.steps) - 1)
    lines: list[Text | Table] = [
        title,
        _text(
            f"sequence · procedure {record.procedure} · tier {record.tier} · seed {record.seed}"
            f" · backend {record.backend} · {ran} of {record.planned} step(s) run",
            style="dim",
        ),
    ]
    if record.error:
        lines.append(_text(f"error: {record.error}", style="bold yellow"))
    console.print(Panel(Group(*lines), border_style=BORDERS[verdict], title="firedrill sequence"))
    steps = Table(title="Steps", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("n", "step", "seconds", "after it"):
        steps.add_column(column, overflow="fold")
    for step in record.steps:
        found = "; ".join(str(f) for f in step.findings) or "matches the model"
        style = "red" if step.findings else ""
        steps.add_row(
            _text(str(step.n)), _text(step.step), _text(f"{step.seconds:.2f}"), _text(found, style)
        )
    console.print(steps)
    if report_dir is not None:
        console.print(_text(f"report: {report_dir / 'report.json'}", style="dim"))
