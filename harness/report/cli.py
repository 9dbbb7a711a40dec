"""`firedrill report ...`: the commands over drill reports, added to firedrill's parser by
`add_report_commands(sub)`.

    firedrill report trend [DIR] [--window N] [--margin F] [--min-delta S] [--fail-on-regression]
        DIR/trend.html and a table of each scenario's latest drill against the median of the
        ones before it (DIR/drills.jsonl, default DIR reports); exit 1 with
        --fail-on-regression when a metric regressed
    firedrill report show DIR
        one drill or sequence run (a report directory or its report.json) in the terminal
    firedrill report render DIR
        (re)write junit.xml and report.html beside a report.json (no history line); for a
        sequence run, junit.xml

Each command loads what it needs when it runs (as firedrill's own commands do: a fast
`--help`, no import cycle avoided). Each command returns an exit code: 0 done, 1 a regression
with --fail-on-regression, 2 bad input (FiredrillError, printed by firedrill's main: a missing
or unreadable report, or one of an older format, in one line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.types import finite, fraction, positive
from harness.errors import EXIT_OK, EXIT_VIOLATIONS, FiredrillError


def add_report_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `report trend`, `report show` and `report render` to firedrill's subcommands."""
    help_ = "drill reports: trends and regressions, one drill in the terminal"
    report = sub.add_parser("report", help=help_, description=help_)
    commands = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")

    help_ = "write DIR/trend.html and print each scenario's trend; flag regressions"
    p = commands.add_parser("trend", help=help_, description=help_)
    p.add_argument(
        "dir",
        nargs="?",
        type=Path,
        default=Path("reports"),
        help="the reports directory holding drills.jsonl (default: reports)",
    )
    p.add_argument(
        "--window",
        type=positive,
        default=5,
        help="compare with the median of this many previous drills (default 5)",
    )
    p.add_argument(
        "--margin",
        type=fraction,
        default=0.2,
        help="a regression is worse than median × (1 + F) (default 0.2)",
    )
    p.add_argument(
        "--min-delta",
        type=finite,
        default=0.0,
        metavar="SECONDS",
        help="and worse than the median by more than this many seconds (default 0)",
    )
    p.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a regression is found"
    )
    p.set_defaults(func=cmd_trend)

    help_ = "print one drill's verdict, numbers, findings and paths"
    p = commands.add_parser("show", help=help_, description=help_)
    p.add_argument("dir", type=Path, help="a report directory (or its report.json)")
    p.set_defaults(func=cmd_show)

    help_ = "(re)write junit.xml and report.html beside a report.json"
    p = commands.add_parser("render", help=help_, description=help_)
    p.add_argument("dir", type=Path, help="a report directory (or its report.json)")
    p.set_defaults(func=cmd_render)


def cmd_trend(args: argparse.Namespace) -> int:
    from harness.report.trend import find_regressions, load_history, trend_table
    from harness.report.trend_html import write_trend_html

    root: Path = args.dir
    if not root.exists():
        raise FiredrillError(f"no reports directory {root}")
    entries = load_history(root)
    if not entries:
        print(f"no drills recorded in {root}")
        return EXIT_OK
    regressions = find_regressions(
        entries, window=args.window, margin=args.margin, min_delta=args.min_delta
    )
    out_dir = root if root.is_dir() else root.parent
    out = out_dir / "trend.html"
    write_trend_html(entries, regressions, out, window=args.window, margin=args.margin)
    print(trend_table(entries, regressions, window=args.window))
    print(f"trend: {out}")
    return EXIT_VIOLATIONS if regressions and args.fail_on_regression else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.drill.report import DrillReport, load_any
    from harness.report.show import render_sequence, render_show

    directory, report = load_any(args.dir)
    if isinstance(report, DrillReport):
        render_show(report, Console(), report_dir=directory)
    else:
        render_sequence(report, Console(), report_dir=directory)
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from harness.drill.outputs import write_pages
    from harness.drill.report import DrillReport, load_any
    from harness.drill.sequence_run import sequence_junit
    from harness.report import HTML_NAME, JUNIT_NAME
    from harness.report.junit import write_xml

    directory, report = load_any(args.dir)
    if not isinstance(report, DrillReport):  # a sequence: its steps as test cases
        write_xml(sequence_junit(report), directory / JUNIT_NAME)
        print(f"wrote {directory / JUNIT_NAME}")
        return EXIT_OK
    write_pages(directory, report)
    print(f"wrote {directory / JUNIT_NAME} and {directory / HTML_NAME}")
    return EXIT_OK
