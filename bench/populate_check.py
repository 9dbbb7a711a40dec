"""Benchmark: `firedrill populate` then `firedrill check` on one tier, against sha256sum.

    python -m bench.populate_check --tier M [--data DIR] [--json OUT] [--keep]

Both commands run as child processes; wall time is measured around each, and the peak RSS comes
from `os.wait4` (ru_maxrss, KiB on Linux). The page cache cannot be dropped without root, so the
check is compared with `sha256sum` on a *warm* cache: one untimed sha256sum pass warms it, then
sha256sum (timed), check, sha256sum (timed); the baseline is the mean of the two timed passes.
sha256sum runs as one process (`xargs -P1`), like the check's single reader.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fixtures.tiers import Tier, tier

GiB = 1 << 30
BYTES_PER_MESSAGE = 50_000
"""Disk estimate: message files (~46 kB a message at M) plus the Berkeley DB environments."""
DISK_MARGIN = 1.3
POPULATE_TARGET_S = {"M": 180.0, "L": 1800.0}
"""180 s at M; L is M scaled linearly. XS and S have no time target."""
CHECK_RATIO_TARGET = 0.8
RSS_TARGET_KIB = GiB // 1024
FIREDRILL = [sys.executable, "-m", "harness.cli.firedrill"]
PROGRESS_LINE = re.compile(r"^(\w+): .*, ([\d.]+)s$")


@dataclass
class Child:
    argv: list[str]
    returncode: int
    seconds: float
    maxrss_kib: int
    stdout: str
    stderr: str


@dataclass
class Target:
    name: str
    value: float
    limit: float
    unit: str
    below: bool  # True: the value must stay under the limit; False: reach at least it

    @property
    def passed(self) -> bool:
        return self.value < self.limit if self.below else self.value >= self.limit


@dataclass
class Result:
    tier: str
    seed: int
    messages: int
    accounts: int
    bytes: int
    populate_s: float
    populate_rss_kib: int
    populate_phases_s: dict[str, float]
    check_s: float
    check_wall_s: float
    check_rss_kib: int
    check_verdict: str
    check_stats: dict[str, int]
    check_findings: list[Any]
    check_errors: list[Any]
    sha256sum_s: list[float]
    targets: list[Target] = field(default_factory=list)

    @property
    def populate_msg_per_s(self) -> float:
        return self.messages / self.populate_s

    @property
    def populate_mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.populate_s

    @property
    def check_mb_per_s(self) -> float:
        return self.check_stats.get("bytes_verified", 0) / 1e6 / self.check_s

    @property
    def sha256sum_mb_per_s(self) -> float:
        return self.bytes / 1e6 / (sum(self.sha256sum_s) / len(self.sha256sum_s))

    @property
    def ok(self) -> bool:
        return self.check_verdict == "pass" and all(t.passed for t in self.targets)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["targets"] = [{**asdict(t), "passed": t.passed} for t in self.targets]
        for name in (
            "populate_msg_per_s",
            "populate_mb_per_s",
            "check_mb_per_s",
            "sha256sum_mb_per_s",
            "ok",
        ):
            data[name] = getattr(self, name)
        return data


def run_child(argv: list[str], scratch: Path) -> Child:
    """Run `argv` with output to files (no pipe deadlock), reaping it with wait4 for its RSS."""
    out, err = scratch / "stdout", scratch / "stderr"
    with out.open("wb") as o, err.open("wb") as e:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    return Child(argv, proc.returncode, seconds, usage.ru_maxrss, out.read_text(), err.read_text())


def sha256sum_seconds(msgfiles: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            "bash",
            "-c",
            'find "$1" -type f -print0 | xargs -0 -P1 sha256sum > /dev/null',
            "sha256sum",
            str(msgfiles),
        ],
        check=True,
    )
    return time.monotonic() - started


def phases(stderr: str) -> dict[str, float]:
    """Elapsed seconds of each progress phase: the last progress line of each label."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        if m := PROGRESS_LINE.match(line.strip()):
            found[m[1]] = float(m[2])
    return found


def require_disk(data: Path, t: Tier) -> None:
    need = DISK_MARGIN * t.messages * BYTES_PER_MESSAGE
    free = shutil.disk_usage(data).free
    if free < need:
        sys.exit(
            f"bench: refusing tier {t.name}: {data} has {free / 1e9:.1f} GB free, "
            f"needs {need / 1e9:.1f} GB ({DISK_MARGIN}x the expected "
            f"{t.messages * BYTES_PER_MESSAGE / 1e9:.1f} GB)"
        )


def run(t: Tier, data: Path, seed: int, log: bool = True) -> Result:
    def say(msg: str) -> None:
        if log:
            print(f"[bench] {msg}", file=sys.stderr, flush=True)

    root, scratch = data / "root", data / "scratch"
    scratch.mkdir()
    say(f"populate tier {t.name} into {root}")
    pop = run_child(
        [
            *FIREDRILL,
            "populate",
            "--root",
            str(root),
            "--tier",
            t.name,
            "--seed",
            str(seed),
            "--json",
        ],
        scratch,
    )
    if pop.returncode:
        sys.exit(f"bench: populate failed ({pop.returncode}):\n{pop.stderr}")
    summary = json.loads(pop.stdout)
    msgfiles = root / "msgfiles"
    on_disk = sum(p.stat().st_size for p in msgfiles.rglob("*") if p.is_file())
    if on_disk != summary["bytes"]:
        say(f"warning: msgfiles hold {on_disk:,} bytes, populate reported {summary['bytes']:,}")

    say("sha256sum (warm-up)")
    sha256sum_seconds(msgfiles)
    say("sha256sum (timed, 1/2)")
    sha = [sha256sum_seconds(msgfiles)]
    say("check")
    chk = run_child([*FIREDRILL, "check", "--root", str(root), "--quiet", "--json"], scratch)
    try:
        report = json.loads(chk.stdout)
    except json.JSONDecodeError:
        sys.exit(f"bench: check failed ({chk.returncode}) without a report:\n{chk.stderr}")
    say("sha256sum (timed, 2/2)")
    sha.append(sha256sum_seconds(msgfiles))

    result = Result(
        tier=t.name,
        seed=seed,
        messages=summary["messages"],
        accounts=summary["accounts"],
        bytes=on_disk,
        populate_s=pop.seconds,
        populate_rss_kib=pop.maxrss_kib,
        populate_phases_s=phases(pop.stderr),
        check_s=report["seconds"],
        check_wall_s=chk.seconds,
        check_rss_kib=chk.maxrss_kib,
        check_verdict=report["verdict"],
        check_stats=report["stats"],
        check_findings=report["findings"],
        check_errors=report["errors"],
        sha256sum_s=sha,
    )
    if t.name in POPULATE_TARGET_S:
        result.targets.append(
            Target("populate time", pop.seconds, POPULATE_TARGET_S[t.name], "s", below=True)
        )
    result.targets += [
        Target(
            "check / sha256sum throughput",
            result.check_mb_per_s / result.sha256sum_mb_per_s,
            CHECK_RATIO_TARGET,
            "x",
            below=False,
        ),
        Target(
            "populate peak RSS", pop.maxrss_kib / 1024, RSS_TARGET_KIB / 1024, "MiB", below=True
        ),
        Target("check peak RSS", chk.maxrss_kib / 1024, RSS_TARGET_KIB / 1024, "MiB", below=True),
    ]
    return result


def render(r: Result) -> str:
    rows = [
        ("tier / seed", f"{r.tier} / {r.seed}"),
        ("accounts / messages", f"{r.accounts:,} / {r.messages:,}"),
        ("message bytes", f"{r.bytes / 1e6:,.1f} MB"),
        ("populate wall", f"{r.populate_s:.1f} s"),
        *((f"  phase {k}", f"{v:.1f} s") for k, v in r.populate_phases_s.items()),
        ("populate rate", f"{r.populate_msg_per_s:,.0f} msg/s, {r.populate_mb_per_s:,.1f} MB/s"),
        ("populate peak RSS", f"{r.populate_rss_kib / 1024:,.0f} MiB"),
        (
            "sha256sum -P1 (warm)",
            " / ".join(f"{s:.1f} s" for s in r.sha256sum_s)
            + f" -> {r.sha256sum_mb_per_s:,.1f} MB/s",
        ),
        ("check (report / wall)", f"{r.check_s:.1f} s / {r.check_wall_s:.1f} s"),
        (
            "check rate",
            f"{r.check_mb_per_s:,.1f} MB/s "
            f"({r.check_stats.get('messages_verified', 0):,} msgs verified)",
        ),
        ("check peak RSS", f"{r.check_rss_kib / 1024:,.0f} MiB"),
        (
            "check verdict",
            f"{r.check_verdict} ({len(r.check_findings)} findings, {len(r.check_errors)} errors)",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    for t in r.targets:
        op = "<" if t.below else ">="
        lines.append(
            f"{'PASS' if t.passed else 'MISS'}  {t.name}: {t.value:,.2f} {t.unit} "
            f"(target {op} {t.limit:,.2f} {t.unit})"
        )
    for f in r.check_findings + r.check_errors:
        lines.append(f"FINDING {json.dumps(f)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.populate_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tier", default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data",
        type=Path,
        help="parent directory for the scratch installation"
        " (default: the system temp dir); never inside the repository",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the installation afterwards")
    args = parser.parse_args(argv)
    t = tier(args.tier)
    parent = args.data or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    require_disk(parent, t)
    data = Path(tempfile.mkdtemp(prefix=f"populate-check-{t.name}-", dir=parent))
    try:
        result = run(t, data, args.seed)
    finally:
        if args.keep:
            print(f"[bench] kept {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
