"""Benchmark: the default fire drill per phase, and chapter 13.4 copying against plain `tar`.

    python -m bench.drills [--tiers S,M] [--json OUT] [--data DIR] [--parts drill,copy] [--keep]

For every tier:

1. **drill**: the default scenario (`scenarios/default.toml`: chapter 13.4 backup under traffic,
   the whole tree lost, the chapter's restore) with its tier replaced, run in-process through
   `run_drill`. Its sandbox (installation + backup) is created under the scratch directory (by
   pointing `tempfile.tempdir` there) and its report under `<scratch>/reports`. Printed: the
   wall time of every phase from report.json's timeline, the total, the verdict (the reasons if
   it is not `pass`) and the metrics (RTO, backup window, restore duration, RPO). Then the
   work invariant 10 adds after the recovery, from the record: in verify, the offline check
   and the served comparison (accounts compared); the restart phase's stop, start until
   service ready, offline check again and served comparison again; and the served comparison
   plus the restart phase as a share of the verify phase (the budget: under 30 % at tier M).
2. **copy**: a fresh installation of the tier (seed 1, servers not running) and the 8 paths of
   chapter 13.4 (`BACKUP_PATHS`):
   (a) backup: `copy_path` of each path into a backup tree, as `Chapter13.backup` copies;
   (b) `tar -cf backup.tar --exclude '__db.*' -C ROOT <the same paths>`;
   (c) restore: remove + `copy_path` of each path from the backup tree into a fresh directory,
       as `Chapter13.restore` does;
   (d) `tar -xf backup.tar -C <a fresh directory>`.
   The page cache cannot be dropped without root, so each is run twice and the second (warm)
   run is reported. The two runs write to two targets and nothing is deleted until the end:
   on a disk mounted with `discard` (this VM's), creating many small files right after
   deleting many is several times slower, which would handicap the file-per-file copies (the
   deletion of one restored tree is timed separately). `sync` runs (untimed) before every
   timed run so that dirty pages of the previous step are not written
   back on the next one's clock; the `sync` right after each timed run is reported separately
   (what making the copy durable would add). MB/s = 10^6 bytes of regular files in the 8 paths
   (`__db.*` excluded) / seconds; ratio = chapter13 MB/s / tar MB/s (> 1: chapter13 faster).
   Sanity: the backup tree, both restored trees and the source hold the same byte and file
   counts. Bonus: the servers part of the backup (`drain` of all servers, then `start` until
   SMTP, POP3 and IMAP answer), twice, the second reported.

Everything is created in a scratch directory under `--data` (default: the system temp
directory) that is deleted at the end unless `--keep`. Exit code 0 when every drill passes and
every sanity check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fixtures.populate import populate
from fixtures.tiers import tier
from harness.accounts import lab_accounts
from harness.drill.record import DrillRecord
from harness.drill.runner import DrillOptions, run_drill
from harness.environments.local import LocalBackend
from harness.environments.network import lease_network
from harness.environments.probe import Credentials, wait_until_serving
from harness.layout import Layout
from harness.procedures import Chapter13, copy_path
from harness.scenarios.scenario import load_scenario
from harness.workload.runner import endpoints_of

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "scenarios" / "default.toml"
PHASES = (
    "populate",
    "start",
    "traffic",
    "backup",
    "traffic after backup",
    "disaster",
    "detection",
    "recovery",
    "service ready",
    "spool drained",
    "verify",
    "restart",
    "verdict",
)
METRICS = (
    ("RTO", "rto_seconds", "s"),
    ("backup window", "backup_window_seconds", "s"),
    ("restore duration", "restore_seconds", "s"),
    ("RPO", "rpo_messages", "messages"),
    ("RPO", "rpo_seconds", "s"),
)
AFTER = (
    ("verify: offline check", "check_s"),
    ("verify: served comparison", "served_s"),
    ("  accounts / UIDs compared", "served_accounts"),
    ("verify: the rest (tree state, evidence)", "verify_rest_s"),
    ("restart: stop all servers", "stop_s"),
    ("restart: start until service ready", "start_s"),
    ("restart: offline check again", "check_again_s"),
    ("  tree compared / entries / changed", "compare_s"),
    ("restart: served comparison again", "served_again_s"),
    ("(served comparison + restart) / verify", "share"),
)
"""Invariant 10's work after the recovery: its label and its key in DrillRun.after."""
SEED = 1
BYTES_PER_MESSAGE = 50_000
# copy: the source and two outputs of each of (a)-(d), none deleted before the end
DISK_COPIES = 9
DISK_MARGIN = 1.3
READY_TIMEOUT = 120.0
MB = 1e6


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class LoadWatch:
    """Samples the 1-minute load average every 2 s: other work on the machine skews timings."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="load-watch")

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(2.0):
                return

    @property
    def peak(self) -> float:
        return max(self.samples, default=0.0)

    def __enter__(self) -> LoadWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- results -----------------------------------------------------------------------------------


@dataclass
class DrillRun:
    tier: str
    verdict: str
    reasons: list[str]
    error: str | None
    phases: dict[str, float]  # name -> seconds
    phase_errors: dict[str, str]
    total_s: float  # end of the last phase, from the drill's start
    wall_s: float  # the whole run_drill call (also set-up, teardown, report writing)
    metrics: dict[str, Any]
    targets: list[dict[str, Any]]  # the judgement's targets: name, target, actual, status
    report_dir: str
    load_peak: float = 0.0  # highest 1-minute load average sampled during the drill
    backend: str = "local"
    after: dict[str, float] = field(default_factory=dict)  # invariant 10's work: see AFTER

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Timed:
    """A step run twice; the second (warm) run is the one reported."""

    first_s: float
    second_s: float
    sync_after_s: float  # `sync` right after the second run

    def mb_s(self, nbytes: int) -> float:
        return nbytes / MB / self.second_s if self.second_s else 0.0


@dataclass
class Tree:
    files: int
    bytes: int
    regions: int = 0  # `__db.*` files (not counted in files/bytes)

    def same(self, other: Tree) -> bool:
        return (self.files, self.bytes) == (other.files, other.bytes)


@dataclass
class CopyRun:
    tier: str
    paths: list[str]
    source: Tree
    populate_s: float
    backup_copy: Timed
    backup_tar: Timed
    restore_copy: Timed
    restore_tar: Timed
    tar_bytes: int  # size of backup.tar
    trees: dict[str, Tree]  # backup tree, restored (copy), restored (tar)
    drain_s: list[float] = field(default_factory=list)
    start_ready_s: list[float] = field(default_factory=list)  # start -> all protocols answer
    notes: list[str] = field(default_factory=list)
    load_peak: float = 0.0  # highest 1-minute load average sampled during the timed steps
    delete_s: float = 0.0  # rm -r of one restored tree + sync (what a restore's remove costs)

    @property
    def sane(self) -> bool:
        return all(t.same(self.source) and not t.regions for t in self.trees.values())

    @property
    def backup_ratio(self) -> float:
        return self.backup_copy.mb_s(self.source.bytes) / self.backup_tar.mb_s(self.source.bytes)

    @property
    def restore_ratio(self) -> float:
        return self.restore_copy.mb_s(self.source.bytes) / self.restore_tar.mb_s(self.source.bytes)

    def to_json(self) -> dict[str, Any]:
        n = self.source.bytes
        data = dataclasses.asdict(self)
        for name in ("backup_copy", "backup_tar", "restore_copy", "restore_tar"):
            data[name]["mb_s"] = round(getattr(self, name).mb_s(n), 1)
        data["backup_ratio"] = round(self.backup_ratio, 3)
        data["restore_ratio"] = round(self.restore_ratio, 3)
        data["sane"] = self.sane
        return data


# -- 1. the drill ------------------------------------------------------------------------------


@contextlib.contextmanager
def temp_under(directory: Path) -> Iterator[None]:
    """Make `tempfile.mkdtemp` (the drill's sandbox) create its directories under `directory`."""
    saved = tempfile.tempdir
    directory.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(directory)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def drill(tier_name: str, scratch: Path, backend: str = "local") -> DrillRun:
    scenario = load_scenario(SCENARIO)
    scenario = dataclasses.replace(
        scenario, population=dataclasses.replace(scenario.population, tier=tier_name)
    )
    options = DrillOptions(
        report_dir=scratch / "reports", seed=None, keep=False, progress=True, backend=backend
    )
    say(f"drill {scenario.name} at tier {tier_name} on {backend} (phases on stderr)")
    sandbox = scratch / f"drill-{tier_name}-{backend}"
    with temp_under(sandbox), contextlib.redirect_stdout(sys.stderr):
        t0 = time.monotonic()
        with LoadWatch() as load:
            result = run_drill(scenario, options)
        wall = time.monotonic() - t0
    record, judgement = result.report.record, result.report.judgement
    phases = {s.phase: s.end - s.start for s in record.timeline if s.end is not None}
    phase_errors = {s.phase: s.error for s in record.timeline if s.error}
    total = max((s.end for s in record.timeline if s.end is not None), default=0.0)
    targets = [
        {"name": t.metric, "target": t.limit, "actual": t.actual, "status": t.status}
        for t in judgement.targets
    ]
    return DrillRun(
        after=after_recovery(record, phases),
        tier=tier_name,
        verdict=result.verdict.value,
        reasons=list(judgement.reasons),
        error=record.error or None,
        phases=phases,
        phase_errors=phase_errors,
        total_s=total,
        wall_s=wall,
        metrics=dataclasses.asdict(judgement.metrics),
        targets=targets,
        report_dir=str(result.report_dir),
        load_peak=load.peak,
        backend=backend,
    )


def after_recovery(record: DrillRecord, phases: dict[str, float]) -> dict[str, float]:
    """Invariant 10's work from a drill's record (seconds; `share` a fraction): what verify
    spent on the offline check and the served comparison, what the restart phase spent on
    each of its steps, and the served comparison plus the restart phase over verify."""
    figures: dict[str, float] = {}
    verify, restart = record.verify, record.restart
    if verify is not None:
        figures["check_s"] = verify.check.seconds
        if verify.served is not None:
            figures["served_s"] = verify.served.seconds
            figures["served_accounts"] = verify.served.accounts
            figures["served_messages"] = verify.served.messages
    if restart is not None:
        figures["stop_s"] = restart.stop_seconds
        figures["start_s"] = restart.start_seconds
        compared = restart.compared
        if compared is not None:
            figures["compare_s"] = compared.seconds
            figures["compared_entries"] = compared.entries
            figures["compared_changed"] = len(compared.changed)
        if restart.check is not None:
            # unchanged: the check is the environments' recovery, inside the comparison
            whole = compared is None or not compared.unchanged
            figures["check_again_s"] = (
                (compared.seconds if compared else 0.0) + restart.check.seconds
                if whole
                else compared.seconds if compared else restart.check.seconds
            )
        if restart.served is not None:
            figures["served_again_s"] = restart.served.seconds
    if phases.get("verify") and "served_s" in figures and "check_s" in figures:
        figures["verify_rest_s"] = phases["verify"] - figures["check_s"] - figures["served_s"]
    if phases.get("verify") and "served_s" in figures and "restart" in phases:
        figures["share"] = (figures["served_s"] + phases["restart"]) / phases["verify"]
    return figures


def after_cell(run: DrillRun, key: str) -> str:
    value = run.after.get(key)
    if value is None:
        return "-"
    if key == "share":
        return f"{value:.0%}"
    if key == "served_accounts":
        return f"{value:.0f} / {run.after.get('served_messages', 0):.0f}"
    if key == "compare_s":
        entries, changed = run.after.get("compared_entries", 0), run.after.get("compared_changed")
        return f"{value:.2f} s / {entries:,.0f} / {changed:.0f}"
    return f"{value:.2f} s"


# -- 2. copying --------------------------------------------------------------------------------


def measure(paths: Sequence[Path]) -> Tree:
    """Regular files (not `__db.*`) under the given files/directories: count and bytes."""
    files = nbytes = regions = 0
    for path in paths:
        if path.is_symlink() or not path.exists():
            continue
        if path.is_file():
            files, nbytes = files + 1, nbytes + path.stat().st_size
            continue
        for directory, _, names in os.walk(path):
            for name in names:
                if name.startswith("__db."):
                    regions += 1
                    continue
                st = (Path(directory) / name).lstat()
                if stat.S_ISREG(st.st_mode):
                    files, nbytes = files + 1, nbytes + st.st_size
    return Tree(files, nbytes, regions)


def tree_of(root: Path, relatives: Sequence[str]) -> Tree:
    return measure([root / r for r in relatives])


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def sync_seconds() -> float:
    t0 = time.perf_counter()
    os.sync()
    return time.perf_counter() - t0


def twice(step: Callable[[Path], None], target: Path) -> tuple[Timed, Path]:
    """Run `step(out)` twice, into `target.1` then `target.2`; time each; `sync` around them.

    Nothing is deleted between the runs: on this machine's disk (ext4 mounted with `discard`)
    writing many small files right after deleting many is several times slower, which would
    penalise the second run of the file-per-file copies. Returns the second run's output.
    """
    seconds = []
    sync_after = 0.0
    out = target
    for n in (1, 2):
        out = target.with_name(f"{target.name}.{n}")
        os.sync()
        t0 = time.perf_counter()
        step(out)
        seconds.append(time.perf_counter() - t0)
        sync_after = sync_seconds()
        say(f"  run {n}: {seconds[-1]:.2f} s, then sync {sync_after:.2f} s")
    return Timed(seconds[0], seconds[1], sync_after), out


def run_tar(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} exited {done.returncode}: {done.stderr}")


def servers_part(root: Path, runs: int = 2) -> tuple[list[float], list[float]]:
    """Time `drain` of all servers and `start` until every protocol answers (`runs` times)."""
    layout = Layout(root.absolute())
    login = next(a for a in lab_accounts(layout.root) if a.status == "active" and a.password)
    who = Credentials(login.login, login.password)
    ep = endpoints_of(layout)
    backend = LocalBackend(layout)
    drains: list[float] = []
    starts: list[float] = []
    try:
        backend.start()
        if wait_until_serving(ep, who, READY_TIMEOUT) is None:
            raise SystemExit("bench: the servers did not serve clients after start")
        for _ in range(runs):
            t0 = time.monotonic()
            backend.drain()
            drains.append(time.monotonic() - t0)
            t0 = time.monotonic()
            backend.start()
            ready = wait_until_serving(ep, who, READY_TIMEOUT)
            if ready is None:
                raise SystemExit("bench: the servers did not serve clients after restart")
            starts.append(ready - t0)
    finally:
        backend.close()
    return drains, starts


def copying(tier_name: str, scratch: Path, with_servers: bool = True) -> CopyRun:
    with lease_network() as network:  # the servers part listens on it
        return _copying(tier_name, scratch, network, with_servers)


def _copying(tier_name: str, scratch: Path, network: str, with_servers: bool) -> CopyRun:
    work = scratch / f"copy-{tier_name}"
    work.mkdir(parents=True)
    src = work / "intermail"
    say(f"populate tier {tier_name} into {src}")
    t0 = time.monotonic()
    populate(src, tier(tier_name), SEED, network=network, progress=False)
    populate_s = time.monotonic() - t0
    say(f"populated in {populate_s:.1f} s")

    drains: list[float] = []
    starts: list[float] = []
    if with_servers:
        say("servers part: start, then drain / start until serving, twice")
        drains, starts = servers_part(src)
        say(f"drain {drains} s, start->ready {starts} s")

    relatives = [r for r in Chapter13.paths if (src / r).exists()]
    notes = [f"{r}: absent in the installation" for r in Chapter13.paths if r not in relatives]
    source = tree_of(src, relatives)
    say(
        f"{len(relatives)} paths: {source.files} files, {source.bytes / MB:.1f} MB"
        f" (+{source.regions} __db.* region files, not copied)"
    )

    def backup_copy(out: Path) -> None:
        for r in relatives:
            copy_path(src / r, out / "tree" / r)

    def backup_tar(out: Path) -> None:
        run_tar(["tar", "-cf", str(out), "--exclude", "__db.*", "-C", str(src), *relatives])

    with LoadWatch() as load:
        say("(a) chapter13 backup copy, twice")
        a, backup = twice(backup_copy, work / "backup")
        say("(b) tar -cf, twice")
        b, archive = twice(backup_tar, work / "backup.tar")

        def restore_copy(out: Path) -> None:
            out.mkdir()
            for r in relatives:
                remove(out / r)
                copy_path(backup / "tree" / r, out / r)

        def restore_tar(out: Path) -> None:
            out.mkdir()
            run_tar(["tar", "-xf", str(archive), "-C", str(out)])

        say("(c) chapter13 restore copy into a fresh directory, twice")
        c, restored_copy = twice(restore_copy, work / "restored-copy")
        say("(d) tar -xf into a fresh directory, twice")
        d, restored_tar = twice(restore_tar, work / "restored-tar")
    trees = {
        "backup tree": tree_of(backup / "tree", relatives),
        "restored (chapter13)": tree_of(restored_copy, relatives),
        "restored (tar)": tree_of(restored_tar, relatives),
    }
    say("deleting one restored tree (rm -r + sync), timed")
    t0 = time.perf_counter()
    remove(restored_copy)
    os.sync()
    delete_s = time.perf_counter() - t0
    run = CopyRun(
        tier=tier_name,
        paths=relatives,
        source=source,
        populate_s=populate_s,
        backup_copy=a,
        backup_tar=b,
        restore_copy=c,
        restore_tar=d,
        tar_bytes=archive.stat().st_size,
        trees=trees,
        drain_s=drains,
        start_ready_s=starts,
        notes=notes,
        load_peak=load.peak,
        delete_s=delete_s,
    )
    shutil.rmtree(work)
    return run


# -- output ------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def drill_table(runs: Sequence[DrillRun]) -> str:
    header = ["phase", *(f"tier {r.tier}" for r in runs)]
    rows: list[list[str]] = []
    for name in PHASES:
        rows.append([name, *(fmt_s(r.phases.get(name)) for r in runs)])
    rows.append(["total (end of verdict)", *(fmt_s(r.total_s) for r in runs)])
    rows.append(["run_drill wall (+ teardown)", *(fmt_s(r.wall_s) for r in runs)])
    for label, key in AFTER:
        rows.append([label, *(after_cell(r, key) for r in runs)])
    rows.append(["drill verdict", *(r.verdict for r in runs)])
    rows.append(["peak 1-min load average", *(f"{r.load_peak:.1f}" for r in runs)])
    for label, key, unit in METRICS:
        cells = []
        for r in runs:
            value = r.metrics.get(key)
            if value is None:
                cells.append("-")
            elif unit == "s":
                cells.append(f"{float(value):.2f} s")
            else:
                cells.append(f"{value} {unit}")
        rows.append([label, *cells])
    for name in sorted({str(t["name"]) for r in runs for t in r.targets}):
        cells = []
        for r in runs:
            found = [t for t in r.targets if t["name"] == name]
            if not found:
                cells.append("-")
                continue
            met = {"met": "met", "missed": "MISSED"}.get(found[0]["status"], "unmeasured")
            cells.append(f"≤ {found[0]['target']:g}: {met}")
        rows.append([f"target {name}", *cells])
    out = [table(header, rows)]
    for r in runs:
        if r.verdict != "pass" or r.error:
            out.append(f"\ntier {r.tier}: verdict {r.verdict}")
            out += [f"  reason: {reason}" for reason in r.reasons]
            if r.error:
                out.append(f"  error: {r.error}")
            out += [f"  phase {p}: {e}" for p, e in r.phase_errors.items()]
            out.append(f"  report: {r.report_dir}/report.json")
    return "\n".join(out)


def copy_table(runs: Sequence[CopyRun]) -> str:
    header = ["", *(f"tier {r.tier}" for r in runs)]

    def row(label: str, cell: Any) -> list[str]:
        return [label, *(cell(r) for r in runs)]

    def timed(t: Timed, n: int) -> str:
        return f"{t.second_s:.2f} s ({t.first_s:.2f}) → {t.mb_s(n):.1f} MB/s"

    rows = [
        row(
            "files / MB (8 paths, no __db.*)",
            lambda r: f"{r.source.files:,} / {r.source.bytes / MB:,.1f}",
        ),
        row("(a) chapter13 copy_path backup", lambda r: timed(r.backup_copy, r.source.bytes)),
        row("(b) tar -cf", lambda r: timed(r.backup_tar, r.source.bytes)),
        row("backup ratio chapter13/tar (MB/s)", lambda r: f"{r.backup_ratio:.2f}×"),
        row("(c) chapter13 restore copy", lambda r: timed(r.restore_copy, r.source.bytes)),
        row("(d) tar -xf", lambda r: timed(r.restore_tar, r.source.bytes)),
        row("restore ratio chapter13/tar (MB/s)", lambda r: f"{r.restore_ratio:.2f}×"),
        row(
            "sync after a / b / c / d",
            lambda r: (
                " / ".join(
                    f"{t.sync_after_s:.2f}"
                    for t in (r.backup_copy, r.backup_tar, r.restore_copy, r.restore_tar)
                )
                + " s"
            ),
        ),
        row("backup.tar size", lambda r: f"{r.tar_bytes / MB:,.1f} MB"),
        row(
            "drain all servers (2nd / 1st)",
            lambda r: f"{r.drain_s[-1]:.2f} s ({r.drain_s[0]:.2f})" if r.drain_s else "-",
        ),
        row(
            "start → serving (2nd / 1st)",
            lambda r: (
                f"{r.start_ready_s[-1]:.2f} s ({r.start_ready_s[0]:.2f})"
                if r.start_ready_s
                else "-"
            ),
        ),
        row("delete a restored tree (rm -r + sync)", lambda r: f"{r.delete_s:.2f} s"),
        row("peak 1-min load average (a-d)", lambda r: f"{r.load_peak:.1f}"),
        row("sanity: same files and bytes, no __db.*", lambda r: "OK" if r.sane else "MISMATCH"),
    ]
    out = [table(header, rows)]
    out.append(
        "times: second (warm) run, first run in parentheses; page cache not dropped (no root)."
    )
    for r in runs:
        if not r.sane:
            out.append(f"tier {r.tier}: source {r.source}")
            out += [f"  {name}: {t}" for name, t in r.trees.items()]
        out += [f"tier {r.tier}: {note}" for note in r.notes]
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------------


def check_space(data: Path, tiers: Sequence[str]) -> None:
    need = max(tier(t).messages for t in tiers) * BYTES_PER_MESSAGE * DISK_COPIES * DISK_MARGIN
    free = shutil.disk_usage(data).free
    if free < need:
        raise SystemExit(f"bench: {free / 1e9:.1f} GB free under {data}, need {need / 1e9:.1f} GB")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drills", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tiers", default="S,M", help="comma-separated tiers (default S,M)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--parts", default="drill,copy", help="drill,copy (default both)")
    parser.add_argument("--no-servers", action="store_true", help="skip drain/start timing")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    tiers = [t.strip().upper() for t in args.tiers.split(",") if t.strip()]
    for t in tiers:
        tier(t)  # unknown tiers fail before anything runs
    parts = {p.strip() for p in args.parts.split(",")}
    if not parts <= {"drill", "copy"}:
        parser.error("--parts takes drill and/or copy")
    args.data.mkdir(parents=True, exist_ok=True)
    check_space(args.data, tiers)
    scratch = Path(tempfile.mkdtemp(prefix="bench-drills-", dir=args.data)).absolute()
    drills: list[DrillRun] = []
    copies: list[CopyRun] = []
    cpu = os.cpu_count()

    def save() -> None:  # after every part, so that an interrupted run keeps what it measured
        if args.json:
            document = {
                "machine": {"cpus": cpu, "platform": platform.platform()},
                "seed": SEED,
                "drills": [d.to_json() for d in drills],
                "copy": [c.to_json() for c in copies],
            }
            args.json.write_text(json.dumps(document, indent=2) + "\n")

    try:
        for t in tiers:
            if "drill" in parts:
                drills.append(drill(t, scratch))
                say(f"tier {t}: verdict {drills[-1].verdict}\n{drill_table(drills[-1:])}")
                save()
            if "copy" in parts:
                copies.append(copying(t, scratch, with_servers=not args.no_servers))
                say(f"tier {t}: copy\n{copy_table(copies[-1:])}")
                save()
    finally:
        if args.keep:
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nmachine: {cpu} CPU, {platform.platform()}; seed {SEED}")
    if drills:
        print(f"\n## drill {SCENARIO.name} per phase (wall time)\n")
        print(drill_table(drills))
    if copies:
        print("\n## chapter 13.4 copy vs tar (warm page cache)\n")
        print(copy_table(copies))
    ok = all(d.verdict == "pass" for d in drills) and all(c.sane for c in copies)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
