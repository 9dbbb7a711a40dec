"""`firedrill`: thin commands over the library; each maps its outcome to a documented exit code.

Exit codes: 0 success or clean, 1 violations found, 2 bad input or harness error.

Each command loads the library it needs when it runs (imports inside the `cmd_*` functions):
`firedrill --help` starts in a tenth of a second instead of loading Berkeley DB, the servers,
the drill and the renderers. None of these imports avoids an import cycle.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from harness import __version__
from harness.cli.types import natural, positive
from harness.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATIONS, FiredrillError
from harness.report.cli import add_report_commands

Command = Callable[[argparse.Namespace], int]


def cmd_init(args: argparse.Namespace) -> int:
    from harness.sandbox import init_tree

    layout = init_tree(args.root)
    print(f"initialised {layout.root}")
    return EXIT_OK


def cmd_populate(args: argparse.Namespace) -> int:
    from fixtures.populate import populate
    from fixtures.tiers import tier

    summary = populate(
        args.root,
        tier(args.tier),
        args.seed,
        network=args.network,
        force=args.force,
        progress=not args.quiet,
    )
    if args.json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print(
            f"populated {args.root}: tier {summary.tier}, seed {summary.seed}, "
            f"{summary.accounts:,} accounts, {summary.messages:,} messages "
            f"({summary.rows:,} mailbox rows, {summary.bytes / 1e6:,.1f} MB) "
            f"in {summary.seconds:.1f}s"
        )
    return EXIT_OK


def cmd_accounts(args: argparse.Namespace) -> int:
    from harness.accounts import lab_accounts

    accounts = lab_accounts(args.root)
    if args.json:
        print(json.dumps([asdict(a) for a in accounts], indent=2))
    else:
        for a in accounts:
            print(f"{a.address:40} {a.login:24} {a.password:14} {a.mailboxid:12} {a.status}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from harness.checker.render import render_text
    from harness.checker.run import run_check

    report = run_check(
        args.root, against=args.against, history=args.history, progress=not args.quiet
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_text(report))
    return report.exit_code()


def cmd_manifest(args: argparse.Namespace) -> int:
    from harness.manifest import write_manifest

    counts = write_manifest(args.root, args.output)
    print(
        f"manifest of {args.root} written to {args.output}: "
        + ", ".join(f"{n:,} {kind}" for kind, n in counts.items())
    )
    return EXIT_OK


def cmd_workload(args: argparse.Namespace) -> int:
    from harness.history import HistoryWriter
    from harness.sandbox import require_installation, require_sandbox
    from harness.workload.runner import Workload, WorkloadSpec

    require_sandbox(args.root)  # it provisions accounts and keeps their credentials in the tree
    layout = require_installation(args.root)
    spec = WorkloadSpec(seed=args.seed, rate=args.rate, clients=args.clients)
    with HistoryWriter(args.history) as history:
        stats = Workload(layout, spec, history).run(args.seconds)
    print(
        f"workload: {sum(stats.values())} operations in {args.seconds:.0f}s, history "
        f"{args.history}: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items()))
    )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from harness.scenarios.catalogue import catalogue
    from harness.scenarios.scenario import load_scenario

    print(f"{'SCENARIO':28} {'CATEGORY':17} {'PROCEDURE':9} {'DISASTER':20} DESCRIPTION")
    for path in catalogue():
        s = load_scenario(path)
        print(
            f"{s.name:28} {s.category:17} {s.backup.procedure:9} "
            f"{s.disaster.kind:20} {s.description}"
        )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from harness.checker.findings import Verdict
    from harness.drill.runner import DrillInterrupted, DrillOptions, check_backend, run_drill
    from harness.drill.summary import summary
    from harness.scenarios.catalogue import DEFAULT, catalogue, find
    from harness.scenarios.scenario import load_scenario, with_custom_commands
    from harness.scenarios.sequence import is_sequence

    if bool(args.backup_cmd) != bool(args.restore_cmd):
        raise FiredrillError("--backup-cmd and --restore-cmd go together")
    if args.all and args.scenario:
        raise FiredrillError(f"run {args.scenario!r} or --all (the catalogue), not both")
    paths = catalogue() if args.all else [find(args.scenario or DEFAULT)]
    if not args.all and is_sequence(paths[0]):
        return _run_sequence(args, paths[0])
    scenarios = [load_scenario(p) for p in paths]  # all validated before anything starts
    if args.backup_cmd:
        scenarios = [with_custom_commands(s, args.backup_cmd, args.restore_cmd) for s in scenarios]
    for scenario in scenarios:  # a capability the backend lacks stops --all before the first
        check_backend(scenario, args.backend)
    options = DrillOptions(
        report_dir=args.report_dir,
        backend=args.backend,
        seed=args.seed,
        keep=args.keep,
        progress=not args.quiet,
    )
    worst = EXIT_OK
    for scenario in scenarios:
        try:
            result = run_drill(scenario, options)
        except DrillInterrupted as stopped:  # say where the report is, then stop
            print(summary(stopped.result.report))
            print(f"  report: {stopped.result.report_dir / 'report.json'}")
            raise
        print(summary(result.report))
        print(f"  report: {result.report_dir / 'report.json'}")
        if result.report.record.paths.kept_tree:
            print(f"  kept: {result.report.record.paths.kept_tree} (remove it by hand)")
        code = {Verdict.PASS: EXIT_OK, Verdict.FAIL: EXIT_VIOLATIONS}.get(
            result.verdict, EXIT_BAD_INPUT
        )
        worst = max(worst, code)
    return worst


def _run_sequence(args: argparse.Namespace, path: Path) -> int:
    """A sequence scenario (steps, e.g. a state-machine failure), on either backend."""
    from harness.drill.sequence_run import run_sequence
    from harness.scenarios.sequence import load_sequence

    sequence = load_sequence(path)
    if args.backup_cmd or args.seed is not None:
        raise FiredrillError("a sequence runs as written: no --backup-cmd or --seed")
    say = (lambda line: None) if args.quiet else print
    result = run_sequence(sequence, args.report_dir, backend=args.backend, keep=args.keep, say=say)
    judgement, record = result.report.judgement, result.report.record
    ran = len(record.steps) - 1 if record.steps else 0
    print(f"{judgement.verdict.value.upper()}: {sequence.name} ({ran}/{record.planned} step(s))")
    for c in judgement.findings:
        print(f"  {c.finding}")
    if record.error:
        print(f"  error: {record.error}")
    print(f"  report: {result.report_dir / 'report.json'}")
    return {"pass": EXIT_OK, "fail": EXIT_VIOLATIONS}.get(judgement.verdict.value, EXIT_BAD_INPUT)


def cmd_selftest(args: argparse.Namespace) -> int:
    from harness.drill.selftest import Trial, selftest
    from harness.procedures.flaws import FLAWS

    def show(trial: Trial) -> None:
        if not args.json:
            mark = "ok  " if trial.ok else "MISS"
            print(
                f"{mark} {trial.kind:7} {trial.procedure:30} {trial.scenario:26} "
                f"seed {trial.seed}: {trial.evidence}",
                flush=True,
            )

    if not args.json:
        print(
            f"selftest: {len(FLAWS)} flawed procedures and the scenario catalogue, "
            f"{args.seeds} seed(s), {args.jobs} at a time"
        )
    score = selftest(seeds=args.seeds, report_dir=args.report_dir, jobs=args.jobs, on_trial=show)
    if args.json:
        print(json.dumps(score.to_json(), indent=2))
    else:
        print(
            f"caught {score.caught}/{score.total} flaws, {score.false_alarms} false alarm(s) "
            f"in {score.correct_runs} correct drills"
        )
    perfect = score.caught == score.total and score.false_alarms == 0
    return EXIT_OK if perfect else EXIT_VIOLATIONS


def cmd_cleanup(args: argparse.Namespace) -> int:
    from harness.environments.cleanup import cleanup

    removed = cleanup(docker=not args.no_docker)
    for item in removed:
        print(f"removed {item}")
    print(f"cleanup: {len(removed)} leftover(s) of crashed drills removed")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from harness.drill.replay import replay

    outcome, _ = replay(args.report_dir, out=args.out, progress=not args.quiet)
    before, after = outcome.before, outcome.after
    print(
        f"{'REPRODUCED' if outcome.reproduced else 'DIFFERENT'}: verdict {before.verdict} "
        f"-> {after.verdict}; violations {list(before.violations)} -> {list(after.violations)}; "
        f"allowed loss {before.allowed_loss} -> {after.allowed_loss}"
    )
    print(f"  report: {outcome.report}")
    return EXIT_OK if outcome.reproduced else EXIT_VIOLATIONS


Adder = Callable[[str, Command, str], argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firedrill", description="Disaster-recovery fire drills for InterMail-style mail."
    )
    parser.add_argument("--version", action="version", version=f"firedrill {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Command, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    _installation_commands(command)
    _drill_commands(command)
    add_report_commands(sub)
    return parser


def _installation_commands(command: Adder) -> None:
    """init, populate, accounts, check, manifest, workload: one installation tree."""
    p = command("init", cmd_init, "create an empty sandboxed installation tree")
    p.add_argument("--root", type=Path, required=True)

    p = command("populate", cmd_populate, "create and fill an installation with seeded data")
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--tier", default="S", help="XS, S, M or L (default S)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--network",
        default="127.0.0",
        help="loopback /24 the servers' addresses are taken from (default 127.0.0)",
    )
    p.add_argument("--force", action="store_true", help="wipe a populated sandbox first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    p = command("accounts", cmd_accounts, "list the lab accounts with their credentials")
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--json", action="store_true")

    p = command("check", cmd_check, "verify an installation's integrity invariants")
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--against", type=Path, help="a manifest made earlier by `firedrill manifest`")
    p.add_argument(
        "--history",
        type=Path,
        help="a workload history: acknowledged operations must have taken effect",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    p = command("manifest", cmd_manifest, "record digests of messages, rows, accounts, config")
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("-o", "--output", type=Path, required=True)

    p = command("workload", cmd_workload, "run seeded client traffic against running servers")
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--history", type=Path, required=True, help="append-only history file")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=10.0, help="operations per second")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)


def _drill_commands(command: Adder) -> None:
    """list, run, selftest, replay, cleanup: drills."""
    command("list", cmd_list, "list the scenario catalogue, one line each")

    p = command("run", cmd_run, "run a fire drill (default: the chapter 13.4 drill)")
    p.add_argument("scenario", nargs="?", help="a scenario name from scenarios/ or a file")
    p.add_argument("--all", action="store_true", help="run the whole catalogue")
    p.add_argument(
        "--backend",
        choices=("local", "docker"),
        default="local",
        help="servers as local processes (default) or docker containers",
    )
    p.add_argument("--seed", type=natural, help="override the scenario's seed")
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        help="where each drill's report directory goes (default: reports)",
    )
    p.add_argument("--backup-cmd", help="the operator's backup command (custom procedure)")
    p.add_argument("--restore-cmd", help="the operator's restore command (custom procedure)")
    p.add_argument("--keep", action="store_true", help="keep the installation and backup")
    p.add_argument("--quiet", action="store_true", help="no phase lines")

    help_ = "score firedrill's detection: flawed procedures caught, no false alarm"
    p = command("selftest", cmd_selftest, help_)
    p.add_argument("--seeds", type=positive, default=2, help="seeds 1..N (default 2)")
    p.add_argument("--jobs", type=positive, default=3, help="drills at a time (default 3)")
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/selftest"),
        help="where the drills' reports go (default: reports/selftest)",
    )
    p.add_argument("--json", action="store_true", help="the score as JSON")

    p = command("replay", cmd_replay, "run a drill again from its report; compare the verdict")
    p.add_argument("report_dir", type=Path, help="the report directory of the drill to run again")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("reports/replay"),
        help="where the new drill's report goes (default: reports/replay)",
    )
    p.add_argument("--quiet", action="store_true", help="no phase lines")

    help_ = "remove leftovers of crashed drills: containers and sandboxes"
    p = command("cleanup", cmd_cleanup, help_)
    p.add_argument("--no-docker", action="store_true", help="do not look for containers")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: servers stopped, trees removed


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except FiredrillError as exc:
        print(f"firedrill: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("firedrill: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"firedrill: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code


if __name__ == "__main__":
    sys.exit(main())
