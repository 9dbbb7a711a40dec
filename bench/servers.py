"""Benchmark: the servers of one populated installation, measured like a client sees them.

    python -m bench.servers [--tier M] [--seed N] [--data DIR] [--json OUT] [--seconds 20]

One run populates one installation (servers on the loopback network 127.0.77, away from the
tests' addresses) and measures:

1. **fsync rate** of the disk under `--data`: 4 KiB append + `os.fsync` in a loop for ~3 s. For
   context also the rate of the spool's own pattern (new file, write 8 KiB, fsync, rename,
   fsync of the directory), which is what every `250` costs the MTA.
2. **durable SMTP deliveries/s** with 1, 4 and 8 concurrent clients (threads, smtplib, one
   connection each, ~8 KB messages to random active accounts, `--seconds` each). Only `250`
   answers count (the MTA answers `250` once the queue file is fsynced). After each phase the
   spool is waited empty: the end-to-end rate is messages stored in the MSS per second from the
   phase's first send to the spool being empty; deliveries are confirmed in the MTA's log.
3. **start-up time**: from `control.start(allservers)` to the first moment an SMTP banner `220`,
   a POP3 `USER`/`PASS` login and an IMAP `LOGIN` all succeed (probed concurrently with the
   start), 3 times with a stop in between; min and median.
4. **drain time with 20 open sessions** (10 SMTP after `MAIL FROM`/`RCPT TO`, 10 POP3 logged
   in): `control.drain` in a thread, the clients finish (`DATA` + `QUIT`; `QUIT`) 0.5 s later.
   Then again with clients that never finish (bounded by the drain timeouts).

Servers are always stopped at the end (stop, then kill), and the installation is deleted unless
`--keep`. `--root DIR` measures an existing installation instead of populating one (kept).
"""

from __future__ import annotations

import argparse
import contextlib
import imaplib
import json
import os
import poplib
import random
import re
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fixtures.tiers import tier
from harness import control
from harness.accounts import LabLogin, lab_accounts
from harness.layout import Layout
from harness.store.config import load
from harness.store.fsync import fsync_dir
from harness.store.spool import Spool, wait_drained
from harness.topology import PROGRAMS, setting
from harness.workload.clients import Endpoints
from harness.workload.runner import endpoints_of

NETWORK = "127.0.77"
FIREDRILL = [sys.executable, "-m", "harness.cli.firedrill"]
BYTES_PER_MESSAGE = 50_000
DISK_MARGIN = 1.3
FSYNC_SECONDS = 3.0
CLIENT_COUNTS = (1, 4, 8)
MESSAGE_SIZE = 8 * 1024
STARTS = 3
DRAIN_SESSIONS = 10  # of each kind: SMTP and POP3
FINISH_AFTER = 0.5
SPOOL_WAIT_LIMIT = 600.0
TIMEOUT = 30.0
QUEUED_AS = re.compile(rb"queued as (\S+)")
DELIVERED = re.compile(r" delivered (\S+) to ")


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- results -----------------------------------------------------------------------------------


@dataclass
class FsyncRate:
    fsyncs: int
    seconds: float
    enqueues: int
    enqueue_seconds: float

    @property
    def per_s(self) -> float:
        return self.fsyncs / self.seconds

    @property
    def enqueue_per_s(self) -> float:
        return self.enqueues / self.enqueue_seconds


@dataclass
class SmtpPhase:
    clients: int
    seconds: float
    accepted: int
    refused: dict[str, int]
    errors: dict[str, int]
    latency_ms_p50: float
    latency_ms_p99: float
    drain_s: float  # first send -> spool empty
    delivered_logged: int  # queue ids of this phase the MTA logged as delivered
    bounced: int

    @property
    def per_s(self) -> float:
        return self.accepted / self.seconds

    @property
    def end_to_end_per_s(self) -> float:
        return self.accepted / self.drain_s if self.drain_s else 0.0


@dataclass
class StartRun:
    start_call_s: float  # control.start returned
    ready_s: float  # SMTP 220 + POP3 login + IMAP login all succeeded
    first_ok_s: dict[str, float]  # per protocol


@dataclass
class DrainRun:
    finishing: bool
    seconds: float
    smtp_ok: int
    pop3_ok: int
    failures: list[str]
    per_server_s: dict[str, float]


@dataclass
class Result:
    tier: str
    seed: int
    accounts: int
    messages: int
    populate_s: float
    fsync: FsyncRate
    smtp: list[SmtpPhase] = field(default_factory=list)
    starts: list[StartRun] = field(default_factory=list)
    drains: list[DrainRun] = field(default_factory=list)
    drain_timeout_s: float = 10.0
    notes: list[str] = field(default_factory=list)

    @property
    def smtp_end_to_end_per_s(self) -> float:
        accepted = sum(p.accepted for p in self.smtp)
        seconds = sum(p.drain_s for p in self.smtp)
        return accepted / seconds if seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fsync"].update(per_s=self.fsync.per_s, enqueue_per_s=self.fsync.enqueue_per_s)
        for phase, out in zip(self.smtp, data["smtp"], strict=True):
            out.update(
                per_s=phase.per_s,
                ratio_to_fsync=phase.per_s / self.fsync.per_s,
                end_to_end_per_s=phase.end_to_end_per_s,
            )
        data["smtp_end_to_end_per_s"] = self.smtp_end_to_end_per_s
        ready = [s.ready_s for s in self.starts]
        if ready:
            data["start_ready_min_s"] = min(ready)
            data["start_ready_median_s"] = statistics.median(ready)
        return data


# -- 1. fsync rate -----------------------------------------------------------------------------


def fsync_rate(directory: Path, seconds: float = FSYNC_SECONDS) -> FsyncRate:
    """4 KiB appends, each followed by fsync; then the spool's write-fsync-rename-fsync(dir)."""
    block = os.urandom(4096)
    path = directory / "fsync-probe"
    count = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            os.write(fd, block)
            os.fsync(fd)
            count += 1
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)

    spool, tmp = directory / "spool-probe", directory / "spool-probe" / "tmp"
    tmp.mkdir(parents=True)
    body = os.urandom(MESSAGE_SIZE)
    enqueues = 0
    try:
        started = time.monotonic()
        while (enqueue_elapsed := time.monotonic() - started) < seconds:
            name = f"{enqueues:08d}"
            with (tmp / name).open("wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp / name, spool / f"{name}.q")
            fsync_dir(spool)
            enqueues += 1
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return FsyncRate(count, elapsed, enqueues, enqueue_elapsed)


# -- 2. SMTP throughput ------------------------------------------------------------------------


def make_message(rng: random.Random, sender: str, rcpt: str, filler: str, n: int) -> bytes:
    headers = (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: bench {n}\r\n"
        f"Message-ID: <bench-{time.time_ns():x}-{rng.getrandbits(48):012x}@bench.firedrill.test>"
        f"\r\nDate: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n\r\n"
    )
    return (headers + filler).encode()


def filler_text(rng: random.Random, size: int) -> str:
    words = ["mail", "store", "queue", "durable", "fsync", "spool", "inter", "drill", "lab"]
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(12))
        lines.append(line)
        total += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


class Sender(threading.Thread):
    """One SMTP client: one connection reused for every message until `stop` is set."""

    def __init__(
        self,
        ep: Endpoints,
        recipients: list[str],
        seed: int,
        stop: threading.Event,
        go: threading.Barrier,
    ) -> None:
        super().__init__(daemon=True)
        self.ep, self.recipients, self.stop, self.go = ep, recipients, stop, go
        self.rng = random.Random(seed)
        self.filler = filler_text(self.rng, MESSAGE_SIZE - 300)
        self.accepted = 0
        self.queue_ids: list[str] = []
        self.refused: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.first_send = 0.0

    def connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(*self.ep.smtp, timeout=TIMEOUT)
        smtp.ehlo("bench.firedrill.test")
        return smtp

    def run(self) -> None:
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self.connect()
        except (OSError, smtplib.SMTPException) as exc:
            self.errors[f"connect: {type(exc).__name__}"] += 1
        self.go.wait()
        self.first_send = time.monotonic()
        sender = "bench@bench.firedrill.test"
        n = 0
        while not self.stop.is_set():
            try:
                if smtp is None:
                    smtp = self.connect()
                rcpt = self.rng.choice(self.recipients)
                message = make_message(self.rng, sender, rcpt, self.filler, n)
                n += 1
                began = time.monotonic()
                code, reply = smtp.mail(sender)
                if code != 250:
                    self.refused[f"MAIL {code}"] += 1
                    smtp.rset()
                    continue
                code, reply = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    self.refused[f"RCPT {code}"] += 1
                    smtp.rset()
                    continue
                code, reply = smtp.data(message)
                if code == 250:
                    self.latencies.append(time.monotonic() - began)
                    self.accepted += 1
                    if m := QUEUED_AS.search(reply):
                        self.queue_ids.append(m.group(1).decode())
                else:
                    self.refused[f"DATA {code}"] += 1
            except (OSError, smtplib.SMTPException) as exc:
                self.errors[type(exc).__name__] += 1
                if smtp is not None:
                    smtp.close()
                smtp = None
                time.sleep(0.05)
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def wait_spool_empty(layout: Layout, limit: float = SPOOL_WAIT_LIMIT) -> float:
    """Monotonic time at which the spool was first seen empty."""
    left = wait_drained(layout.spool, limit, interval=0.02)
    if left:
        raise RuntimeError(f"spool still holds {left} files after {limit:.0f}s")
    return time.monotonic()


def mta_log_size(layout: Layout) -> int:
    path = layout.logs / "mta.log"
    return path.stat().st_size if path.exists() else 0


def mta_log_since(layout: Layout, offset: int) -> str:
    with (layout.logs / "mta.log").open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def smtp_phase(
    layout: Layout, ep: Endpoints, recipients: list[str], clients: int, seconds: float, seed: int
) -> SmtpPhase:
    log_offset = mta_log_size(layout)
    stop = threading.Event()
    go = threading.Barrier(clients + 1)
    senders = [Sender(ep, recipients, seed * 1000 + i, stop, go) for i in range(clients)]
    for s in senders:
        s.start()
    go.wait()
    started = time.monotonic()
    time.sleep(seconds)
    stop.set()
    for s in senders:
        s.join(TIMEOUT + 5)
    elapsed = time.monotonic() - started  # the last answers are counted, so is their time
    empty_at = wait_spool_empty(layout)
    time.sleep(0.2)  # the log line follows the spool unlink
    log_text = mta_log_since(layout, log_offset)
    delivered = set(DELIVERED.findall(log_text))
    queue_ids = [q for s in senders for q in s.queue_ids]
    refused: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for s in senders:
        refused.update(s.refused)
        errors.update(s.errors)
    latencies = [x for s in senders for x in s.latencies]
    return SmtpPhase(
        clients=clients,
        seconds=elapsed,
        accepted=sum(s.accepted for s in senders),
        refused=dict(refused),
        errors=dict(errors),
        latency_ms_p50=percentile(latencies, 0.5) * 1000,
        latency_ms_p99=percentile(latencies, 0.99) * 1000,
        drain_s=empty_at - started,
        delivered_logged=sum(1 for q in queue_ids if q in delivered),
        bounced=log_text.count("bounce:"),
    )


# -- 3. start-up -------------------------------------------------------------------------------


def smtp_banner(ep: Endpoints) -> bool:
    smtp = smtplib.SMTP(*ep.smtp, timeout=5)  # raises unless the banner is 220
    with contextlib.suppress(OSError, smtplib.SMTPException):
        smtp.quit()
    return True


def pop3_login(ep: Endpoints, who: LabLogin) -> bool:
    pop = poplib.POP3(*ep.pop3, timeout=5)
    try:
        pop.user(who.login)
        pop.pass_(who.password)
        pop.quit()
    except (OSError, poplib.error_proto):
        pop.close()
        raise
    return True


def imap_login(ep: Endpoints, who: LabLogin) -> bool:
    imap = imaplib.IMAP4(*ep.imap, timeout=5)
    try:
        typ, _ = imap.login(who.login, who.password)
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()
        return typ == "OK"
    except (OSError, imaplib.IMAP4.error):
        with contextlib.suppress(OSError):
            imap.shutdown()
        raise


def probe_until_ready(
    ep: Endpoints, who: LabLogin, t0: float, stop: threading.Event
) -> dict[str, float]:
    """Try each protocol in turn until all three succeeded once; their success times."""
    probes: dict[str, Callable[[], bool]] = {
        "smtp": lambda: smtp_banner(ep),
        "pop3": lambda: pop3_login(ep, who),
        "imap": lambda: imap_login(ep, who),
    }
    done: dict[str, float] = {}
    while len(done) < len(probes) and not stop.is_set():
        for name, probe in probes.items():
            if name in done:
                continue
            try:
                if probe():
                    done[name] = time.monotonic() - t0
            except (OSError, smtplib.SMTPException, poplib.error_proto, imaplib.IMAP4.error):
                pass
        if len(done) < len(probes):
            time.sleep(0.01)
    return done


def timed_start(layout: Layout, ep: Endpoints, who: LabLogin) -> StartRun:
    stop = threading.Event()
    found: dict[str, float] = {}
    t0 = time.monotonic()

    def probe() -> None:
        found.update(probe_until_ready(ep, who, t0, stop))

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        control.start(layout)
        start_call = time.monotonic() - t0
        prober.join(60)
    finally:
        stop.set()
    if len(found) < 3:
        raise RuntimeError(f"not all protocols answered after start: {found}")
    return StartRun(start_call, max(found.values()), found)


# -- 4. drain ----------------------------------------------------------------------------------


class DrainSession:
    """An open session that finishes its transaction when told (or never)."""

    kind = ""

    def finish(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SmtpOpen(DrainSession):
    kind = "smtp"

    def __init__(self, ep: Endpoints, rcpt: str, n: int) -> None:
        self.smtp = smtplib.SMTP(*ep.smtp, timeout=TIMEOUT)
        self.smtp.ehlo("bench.firedrill.test")
        sender = "drain@bench.firedrill.test"
        if self.smtp.mail(sender)[0] != 250 or self.smtp.rcpt(rcpt)[0] not in (250, 251):
            raise RuntimeError(f"drain setup: MAIL/RCPT refused for {rcpt}")
        rng = random.Random(n)
        self.message = make_message(rng, sender, rcpt, filler_text(rng, 2000), n)

    def finish(self) -> None:
        code, reply = self.smtp.data(self.message)
        if code != 250:
            raise RuntimeError(f"DATA {code} {reply.decode(errors='replace')}")
        code, reply = self.smtp.docmd("QUIT")
        if code != 221:
            raise RuntimeError(f"QUIT {code} {reply.decode(errors='replace')}")
        self.smtp.close()

    def close(self) -> None:
        self.smtp.close()


class PopOpen(DrainSession):
    kind = "pop3"

    def __init__(self, ep: Endpoints, who: LabLogin) -> None:
        self.pop = poplib.POP3(*ep.pop3, timeout=TIMEOUT)
        self.pop.user(who.login)
        self.pop.pass_(who.password)
        self.pop.stat()

    def finish(self) -> None:
        reply = self.pop.quit()
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"QUIT {reply.decode(errors='replace')}")

    def close(self) -> None:
        self.pop.close()


def server_exit_times(layout: Layout, t0: float, stop: threading.Event) -> dict[str, float]:
    """Seconds after t0 at which each server was seen gone (polled)."""
    gone: dict[str, float] = {}
    while not stop.is_set() and len(gone) < len(PROGRAMS):
        for program in PROGRAMS:
            if program not in gone and control.running_pid(layout, program) is None:
                gone[program] = time.monotonic() - t0
        time.sleep(0.02)
    return gone


def timed_drain(layout: Layout, ep: Endpoints, logins: list[LabLogin], finishing: bool) -> DrainRun:
    sessions: list[DrainSession] = []
    try:
        for i in range(DRAIN_SESSIONS):
            sessions.append(SmtpOpen(ep, logins[i].address, i))
            sessions.append(PopOpen(ep, logins[DRAIN_SESSIONS + i]))
        outcome: dict[str, float] = {}
        failure: list[BaseException] = []

        def do_drain() -> None:
            began = time.monotonic()
            try:
                control.drain(layout)
            except BaseException as exc:
                failure.append(exc)
            outcome["seconds"] = time.monotonic() - began

        watcher_stop = threading.Event()
        exits: dict[str, float] = {}
        t0 = time.monotonic()
        drainer = threading.Thread(target=do_drain, daemon=True)
        watcher = threading.Thread(
            target=lambda: exits.update(server_exit_times(layout, t0, watcher_stop)), daemon=True
        )
        drainer.start()
        watcher.start()
        ok: Counter[str] = Counter()
        failures: list[str] = []
        if finishing:
            time.sleep(max(0.0, t0 + FINISH_AFTER - time.monotonic()))
            lock = threading.Lock()

            def finish(session: DrainSession) -> None:
                try:
                    session.finish()
                except Exception as exc:
                    with lock:
                        failures.append(f"{session.kind}: {type(exc).__name__}: {exc}")
                else:
                    with lock:
                        ok[session.kind] += 1

            finishers = [threading.Thread(target=finish, args=(s,)) for s in sessions]
            for f in finishers:
                f.start()
            for f in finishers:
                f.join(TIMEOUT + 5)
        drainer.join(300)
        watcher_stop.set()
        watcher.join(5)
        if failure:
            failures.append(f"drain: {failure[0]!r}")
        return DrainRun(
            finishing,
            outcome.get("seconds", float("nan")),
            ok["smtp"],
            ok["pop3"],
            failures,
            exits,
        )
    finally:
        for s in sessions:
            with contextlib.suppress(Exception):
                s.close()


# -- the run -----------------------------------------------------------------------------------


def populate(root: Path, tier_name: str, seed: int) -> float:
    argv = [*FIREDRILL, "populate", "--root", str(root), "--tier", tier_name]
    argv += ["--seed", str(seed), "--quiet", "--network", NETWORK]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"bench: populate failed ({done.returncode}):\n{done.stderr}")
    return time.monotonic() - started


@contextlib.contextmanager
def servers_stopped_at_end(layout: Layout) -> Iterator[None]:
    try:
        yield
    finally:
        try:
            control.stop(layout)
        except Exception as exc:
            say(f"stop failed ({exc}); killing")
        finally:
            killed = control.kill(layout)
            if killed:
                say(f"killed {', '.join(killed)}")


def run(
    root: Path,
    scratch: Path,
    tier_name: str,
    seed: int,
    seconds: float,
    populated: bool,
) -> Result:
    say(f"fsync rate in {scratch}")
    rate = fsync_rate(scratch)
    populate_s = 0.0
    if not populated:
        say(f"populate tier {tier_name} into {root} (network {NETWORK})")
        populate_s = populate(root, tier_name, seed)
    layout = Layout(root.absolute())
    facts = json.loads(layout.population.read_text()) if layout.population.exists() else {}
    logins = [a for a in lab_accounts(layout.root) if a.status == "active" and a.password]
    if len(logins) < 2 * DRAIN_SESSIONS + 1:
        sys.exit(f"bench: only {len(logins)} active accounts with passwords")
    config = load(layout.config)
    result = Result(
        tier=tier_name,
        seed=seed,
        accounts=int(facts.get("accounts", len(logins))),
        messages=int(facts.get("messages", 0)),
        populate_s=populate_s,
        fsync=rate,
        drain_timeout_s=float(setting(config, "mta", "drainTimeoutSeconds", "10")),
    )
    ep = endpoints_of(layout)
    rng = random.Random(seed)
    recipients = [a.address for a in logins]
    with servers_stopped_at_end(layout):
        if any(s.state == "running" for s in control.status(layout)):
            say("servers were running: stopping them first")
            control.stop(layout)
        for n in range(STARTS):
            if n:
                control.stop(layout)
            run_ = timed_start(layout, ep, rng.choice(logins))
            say(f"start {n + 1}/{STARTS}: ready in {run_.ready_s:.2f} s")
            result.starts.append(run_)

        for clients in CLIENT_COUNTS:
            say(f"SMTP with {clients} client(s) for {seconds:.0f} s")
            phase = smtp_phase(layout, ep, recipients, clients, seconds, seed + clients)
            say(
                f"  {phase.accepted} accepted ({phase.per_s:.1f}/s), spool empty after "
                f"{phase.drain_s:.1f} s"
            )
            result.smtp.append(phase)

        for finishing in (True, False):
            if control.status(layout)[0].state != "running":
                control.start(layout)
            say(f"drain with {2 * DRAIN_SESSIONS} open sessions (finishing={finishing})")
            picked = rng.sample(logins, 2 * DRAIN_SESSIONS)
            drained = timed_drain(layout, ep, picked, finishing)
            say(f"  drain took {drained.seconds:.2f} s")
            result.drains.append(drained)
    leftovers = Spool(layout.spool).paths()
    if leftovers:
        result.notes.append(f"{len(leftovers)} message(s) left in the spool after the drains")
    return result


# -- report ------------------------------------------------------------------------------------


def render(r: Result) -> str:
    f = r.fsync
    rows: list[tuple[str, str]] = [
        ("tier / seed", f"{r.tier} / {r.seed} ({r.accounts:,} accounts, {r.messages:,} msgs)"),
    ]
    if r.populate_s:
        rows.append(("populate wall", f"{r.populate_s:.1f} s"))
    rows += [
        (
            "fsync rate (4 KiB append+fsync)",
            f"{f.per_s:,.0f} /s ({f.fsyncs:,} in {f.seconds:.1f}s)",
        ),
        (
            "spool pattern (write+fsync+rename+fsync dir)",
            f"{f.enqueue_per_s:,.0f} /s ({f.enqueue_per_s / f.per_s:.2f}x fsync rate)",
        ),
    ]
    for p in r.smtp:
        refused = sum(p.refused.values())
        errors = sum(p.errors.values())
        rows.append(
            (
                f"SMTP {p.clients} client(s): 250s",
                f"{p.per_s:,.1f} /s ({p.per_s / f.per_s:.3f}x fsync), {p.accepted:,} in "
                f"{p.seconds:.1f}s, latency p50 {p.latency_ms_p50:.1f} ms p99 "
                f"{p.latency_ms_p99:.1f} ms, refused {refused}, errors {errors}",
            )
        )
        rows.append(
            (
                f"  end to end (spool empty at {p.drain_s:.1f}s)",
                f"{p.end_to_end_per_s:,.1f} /s stored, {p.delivered_logged:,}/{p.accepted:,} "
                f"logged delivered, {p.bounced} bounced",
            )
        )
        for what, counts in (("refused", p.refused), ("errors", p.errors)):
            if counts:
                rows.append((f"  {what}", ", ".join(f"{k}: {v}" for k, v in counts.items())))
    rows.append(("SMTP end to end, all phases", f"{r.smtp_end_to_end_per_s:,.1f} /s"))
    for n, s in enumerate(r.starts, 1):
        per = ", ".join(f"{k} {v:.2f}s" for k, v in sorted(s.first_ok_s.items()))
        rows.append(
            (
                f"start {n}: all protocols OK",
                f"{s.ready_s:.2f} s (start() {s.start_call_s:.2f}s; {per})",
            )
        )
    if r.starts:
        ready = [s.ready_s for s in r.starts]
        rows.append(
            ("start: min / median", f"{min(ready):.2f} s / {statistics.median(ready):.2f} s")
        )
    for d in r.drains:
        label = "clients finish after 0.5s" if d.finishing else "clients never finish"
        done = f"SMTP {d.smtp_ok}/{DRAIN_SESSIONS} OK, POP3 {d.pop3_ok}/{DRAIN_SESSIONS} OK"
        exits = ", ".join(
            f"{k} {v:.2f}s" for k, v in sorted(d.per_server_s.items(), key=lambda kv: kv[1])
        )
        rows.append(
            (
                f"drain, 20 sessions, {label}",
                f"{d.seconds:.2f} s"
                + (
                    f" ({done})" if d.finishing else f" (drainTimeoutSeconds {r.drain_timeout_s:g})"
                ),
            )
        )
        rows.append(("  servers gone at", exits))
        for failure in d.failures:
            rows.append(("  FAILED", failure))
    for note in r.notes:
        rows.append(("note", note))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.servers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tier", default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0, help="per SMTP phase")
    parser.add_argument(
        "--data",
        type=Path,
        help="parent directory for the scratch installation"
        " (default: the system temp dir); never inside the repository",
    )
    parser.add_argument("--root", type=Path, help="measure this populated installation instead")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the installation afterwards")
    args = parser.parse_args(argv)
    t = tier(args.tier)
    parent = (args.data or Path(tempfile.gettempdir())).absolute()
    parent.mkdir(parents=True, exist_ok=True)
    if args.root is None:
        need = DISK_MARGIN * t.messages * BYTES_PER_MESSAGE
        free = shutil.disk_usage(parent).free
        if free < need:
            sys.exit(
                f"bench: refusing tier {t.name}: {parent} has {free / 1e9:.1f} GB free, "
                f"needs {need / 1e9:.1f} GB"
            )
    data = Path(tempfile.mkdtemp(prefix=f"servers-{t.name}-", dir=parent))
    root = args.root.absolute() if args.root else data / "root"
    try:
        result = run(
            root,
            data,
            t.name,
            args.seed,
            args.seconds,
            populated=args.root is not None,
        )
    finally:
        if args.keep:
            say(f"kept {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    failed = any(d.failures for d in result.drains) or any(
        d.finishing and d.smtp_ok + d.pop3_ok < 2 * DRAIN_SESSIONS for d in result.drains
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
