"""The workload: seeded, rate-controlled mail clients that record every operation.

A scheduler thread releases operation numbers at the target rate; client threads take them and
perform the operation the seed decides for that number (`plan`). Every operation goes to the
history: the invoke right before the step that commits it, the completion after.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fixtures.mail import MailFactory, message_size
from harness.accounts import lab_accounts
from harness.history import (
    ConfigChange,
    Delete,
    Deliver,
    Deprovision,
    Event,
    HistoryWriter,
    Outcome,
    Provision,
    Read,
    SetFlag,
    Target,
    kind_of,
    read_history,
)
from harness.layout import Layout
from harness.store.config import load
from harness.topology import endpoint
from harness.workload import clients
from harness.workload.clients import Endpoints, Failed, Indeterminate

WORKLOAD_INDEX_BASE = 50_000_000
"""Mail-factory indexes of workload messages (far from the population's)."""
MESSAGE_ID_DOMAIN = "workload.firedrill.test"
_MESSAGE_ID = re.compile(rb"^Message-ID: <[^>]*>$", re.MULTILINE | re.IGNORECASE)
CONFIG_CHOICES = {
    "/*/common/logLevel": ("info", "notice", "debug"),
    "/*/popserv/idleTimeoutSeconds": ("600", "900", "1200"),
    "/*/mta/maxRecipients": ("100", "120", "150"),
}


@dataclass(frozen=True, slots=True)
class Mix:
    """Relative weights of the operation kinds."""

    deliver: float = 0.55
    read: float = 0.14
    flag: float = 0.08
    delete: float = 0.10
    provision: float = 0.04
    deprovision: float = 0.03
    config: float = 0.06

    def kinds(self) -> tuple[list[str], list[float]]:
        names = ["deliver", "read", "flag", "delete", "provision", "deprovision", "config"]
        return names, [getattr(self, n) for n in names]


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    seed: int
    rate: float = 10.0
    """Operations per second, all clients together."""
    clients: int = 4
    mix: Mix = field(default_factory=Mix)
    max_size: int = 256 * 1024
    large_share: float = 0.02
    unknown_recipient_share: float = 0.05
    multi_recipient_share: float = 0.10


@dataclass
class Login:
    address: str
    login: str
    password: str
    provisioned: bool = False


class _Pool:
    """Accounts the workload can use, updated as it provisions and deletes (thread-safe)."""

    def __init__(self, logins: list[Login]) -> None:
        self._logins = logins
        self._lock = threading.Lock()

    def pick(self, rng: random.Random, k: int = 1) -> list[Login]:
        with self._lock:
            return rng.sample(self._logins, min(k, len(self._logins))) if self._logins else []

    def provisioned(self, rng: random.Random) -> Login | None:
        with self._lock:
            mine = [a for a in self._logins if a.provisioned]
            return rng.choice(mine) if mine else None

    def add(self, login: Login) -> None:
        with self._lock:
            self._logins.append(login)

    def remove(self, address: str) -> None:
        with self._lock:
            self._logins = [a for a in self._logins if a.address != address]


def endpoints_of(layout: Layout) -> Endpoints:
    config = load(layout.config)

    def at(program: str) -> tuple[str, int]:
        where = endpoint(config, program)
        return where.address, where.port

    return Endpoints(at("mta"), at("popserv"), at("imapserv"), at("dirserv"), at("confserv"))


class Workload:
    """Run with `start()`/`stop()` around a phase, or `run(seconds)`."""

    def __init__(self, layout: Layout, spec: WorkloadSpec, history: HistoryWriter) -> None:
        self.layout = layout
        self.spec = spec
        self.history = history
        self.endpoints = endpoints_of(layout)
        self.factory = MailFactory(spec.seed)
        self.pool = _Pool(
            [
                Login(a.address, a.login, a.password)
                for a in lab_accounts(layout.root)
                if a.status == "active" and a.password
            ]
        )
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._tickets: queue.Queue[int | None] = queue.Queue(maxsize=spec.clients * 2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.run_number = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the clients; each start is a new run with its own Message-ID space."""
        self.run_number = sum(
            1
            for e in read_history(self.history.path)
            if isinstance(e, Event) and e.kind == "workload" and e.name == "start"
        )
        self.history.event(
            "workload",
            "start",
            seed=self.spec.seed,
            run=self.run_number,
            rate=self.spec.rate,
            clients=self.spec.clients,
        )
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._schedule, name="workload-scheduler", daemon=True)
        ]
        self._threads += [
            threading.Thread(target=self._client, args=(n,), daemon=True, name=f"workload-{n}")
            for n in range(self.spec.clients)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop issuing operations and wait (at most `timeout` s) for those in flight to end;
        `join` waits for the ones still stuck (e.g. on a hung server) later."""
        self._stop.set()
        self.join(timeout)
        self.history.event("workload", "stop", run=self.run_number, **self.stats)

    def join(self, timeout: float) -> bool:
        """Wait for the operations in flight to end; True when none is left."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def run(self, seconds: float) -> Counter[str]:
        self.start()
        try:
            time.sleep(seconds)
        finally:
            self.stop()
        return self.stats

    def _schedule(self) -> None:
        interval = 1.0 / self.spec.rate
        number = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            with contextlib.suppress(queue.Full):
                self._tickets.put(number, timeout=interval)
                number += 1
            next_at += interval
        for _ in range(self.spec.clients):
            with contextlib.suppress(queue.Full):
                self._tickets.put_nowait(None)

    def _client(self, worker: int) -> None:
        while not self._stop.is_set():
            try:
                number = self._tickets.get(timeout=0.2)
            except queue.Empty:
                continue
            if number is None:
                return
            self.perform(number, worker)

    # -- operations ----------------------------------------------------------------------------

    def perform(self, number: int, worker: int = 0) -> None:
        """Perform operation `number` as the seed plans it."""
        rng = random.Random(f"{self.spec.seed}:{self.run_number}:{number}")
        names, weights = self.spec.mix.kinds()
        kind = rng.choices(names, weights)[0]
        getattr(self, f"_{kind}")(rng, number, worker)

    def _record(self, target: Target, worker: int, run: object) -> None:
        """Invoke, run, complete: the common frame of every operation."""
        index = self.history.invoke(target, worker=worker)
        outcome, result, error = Outcome.OK, None, ""
        try:
            result = run() if callable(run) else None
        except Failed as exc:
            outcome, error = Outcome.FAIL, str(exc)
        except Indeterminate as exc:
            outcome, error = Outcome.UNKNOWN, str(exc)
        self.history.complete(index, outcome, result=result, error=error)
        with self._stats_lock:
            self.stats[f"{kind_of(target)}:{outcome.value}"] += 1

    def _deliver(self, rng: random.Random, number: int, worker: int) -> None:
        k = rng.randint(2, 3) if rng.random() < self.spec.multi_recipient_share else 1
        rcpts = [a.address for a in self.pool.pick(rng, k)]
        if not rcpts or rng.random() < self.spec.unknown_recipient_share:
            rcpts.append(f"nobody.{number}@example.com")
        local = self.pool.pick(rng)
        sender = (
            local[0].address
            if local and rng.random() < 0.3
            else f"sender{number % 97}@partner.example"
        )
        size = (
            rng.randint(1_000_000, 3_000_000)
            if rng.random() < self.spec.large_share
            else min(message_size(rng), self.spec.max_size)
        )
        message_id = f"<wl.{self.spec.seed}.{self.run_number}.{number}@{MESSAGE_ID_DOMAIN}>"
        body = self.factory.compose(
            WORKLOAD_INDEX_BASE + number,
            sender=sender,
            sender_name="Workload",
            recipients=rcpts,
            date=datetime.now(UTC),
            size=size,
        )
        body = _MESSAGE_ID.sub(f"Message-ID: {message_id}".encode(), body, count=1)
        target = Deliver(message_id, sender, tuple(rcpts), len(body))

        def run() -> Deliver:
            sent = clients.send(self.endpoints, sender, rcpts, body)
            return Deliver(
                message_id, sender, tuple(rcpts), len(body), sent.accepted, sent.queue_id
            )

        self._record(target, worker, run)

    def _read(self, rng: random.Random, number: int, worker: int) -> None:
        who = self.pool.pick(rng)
        if not who:
            return
        account = who[0]
        protocol = rng.choice(("pop3", "imap"))

        def pick(n: int) -> int:
            return rng.randint(1, n)

        def run() -> Read:
            reader = clients.pop_read if protocol == "pop3" else clients.imap_read
            count = reader(
                self.endpoints,
                account.login,
                account.password,
                pick,
                self.history.seen,
                account.address,
            )
            return Read(account.address, protocol, count)

        self._record(Read(account.address, protocol), worker, run)

    def _mutate(self, rng: random.Random, worker: int, make: type[Delete] | type[SetFlag]) -> None:
        """Flag or delete one message: the invoke is recorded once its Message-ID is known."""
        who = self.pool.pick(rng)
        if not who:
            return
        account = who[0]
        protocol = "imap" if make is SetFlag else rng.choice(("pop3", "imap"))
        flag = rng.choice((r"\Flagged", r"\Seen", r"\Answered"))
        index: list[int] = []

        def target(message_id: str) -> Target:
            if make is SetFlag:
                return SetFlag(account.address, protocol, message_id, flag)
            return Delete(account.address, protocol, (message_id,) if message_id else ())

        def commit(message_id: str) -> None:
            index.append(self.history.invoke(target(message_id), worker=worker))

        def pick(n: int) -> int:
            return rng.randint(1, n)

        outcome, error = Outcome.OK, ""
        session = (self.endpoints, account.login, account.password, pick)
        saw = (self.history.seen, account.address)
        try:
            if make is SetFlag:
                done = clients.imap_flag(*session, flag, commit, *saw)
            elif protocol == "pop3":
                done = clients.pop_delete(*session, commit, *saw)
            else:
                done = clients.imap_delete(*session, commit, *saw)
            if done is None:
                return  # an empty folder: nothing was attempted
        except Failed as exc:
            outcome, error = Outcome.FAIL, str(exc)
        except Indeterminate as exc:
            outcome, error = Outcome.UNKNOWN, str(exc)
        if not index:  # failed before the commit point: record the attempt as a failure
            index.append(self.history.invoke(target(""), worker=worker))
            outcome = Outcome.FAIL
        self.history.complete(index[0], outcome, error=error)
        with self._stats_lock:
            self.stats[f"{'flag' if make is SetFlag else 'delete'}:{outcome.value}"] += 1

    def _flag(self, rng: random.Random, number: int, worker: int) -> None:
        self._mutate(rng, worker, SetFlag)

    def _delete(self, rng: random.Random, number: int, worker: int) -> None:
        self._mutate(rng, worker, Delete)

    def _provision(self, rng: random.Random, number: int, worker: int) -> None:
        login = f"wl{self.spec.seed}.{self.run_number}.user{number}"
        address = f"{login}@example.com"
        password = f"pw-{rng.getrandbits(48):012x}"

        def run() -> Provision:
            account = clients.wire(
                self.endpoints.dirserv,
                "create",
                address=address,
                password=password,
                login=login,
                name=f"Workload {number}",
            )
            self.pool.add(Login(address, login, password, provisioned=True))
            self._remember(account, password)
            return Provision(address, password, str(account["mailbox"]))

        self._record(Provision(address, password), worker, run)

    def _remember(self, account: dict[str, str], password: str) -> None:
        """Keep the lab credential of a provisioned account (like populate does)."""
        line = json.dumps(
            {
                "entry_id": account["entry_id"],
                "address": account["address"],
                "login": account["login"],
                "password": password,
                "mailboxid": account["mailbox"],
            }
        )
        with self._stats_lock, self.layout.credentials.open("a") as handle:
            handle.write(line + "\n")

    def _deprovision(self, rng: random.Random, number: int, worker: int) -> None:
        victim = self.pool.provisioned(rng)
        if victim is None:
            return
        self.pool.remove(victim.address)

        def run() -> None:
            clients.wire(self.endpoints.dirserv, "delete", address=victim.address)

        self._record(Deprovision(victim.address), worker, run)

    def _config(self, rng: random.Random, number: int, worker: int) -> None:
        key = rng.choice(sorted(CONFIG_CHOICES))
        value = rng.choice(CONFIG_CHOICES[key])

        def run() -> None:
            clients.wire(self.endpoints.confserv, "set", key=key, value=value)

        self._record(ConfigChange(key, value), worker, run)
