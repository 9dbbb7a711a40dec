"""Stateful property-based drills: hypothesis drives deliveries, reads, flags, expunges,
accounts, config changes, backups, crashes, corruption and restores on a live installation,
and the reference model is checked after every step (`harness.drill.stepper`).

A failure shrinks to a minimal step list, printed (and written to `out_dir`) as a sequence
scenario that `firedrill run FILE` runs again. Profiles: quick (the default suite), ci, nightly.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from fixtures.topology import relocate
from harness.checker.findings import Finding
from harness.drill.stepper import Stepper
from harness.environments.network import lease_network
from harness.layout import Layout
from harness.procedures import Chapter13, ProcedureContext, copy_path, remove_path
from harness.scenarios.sequence import FLAGS, Sequence, Step, resolve_procedure
from harness.store.config import load, save
from harness.workload.runner import CONFIG_CHOICES

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]
for _name, _examples, _steps, _seeded in (
    ("quick", 3, 8, True),  # the default suite
    ("ci", 10, 10, True),  # .ci/run
    ("nightly", 200, 30, False),  # make explore: random, with the example database
):
    settings.register_profile(
        _name,
        max_examples=_examples,
        stateful_step_count=_steps,
        derandomize=_seeded,
        database=None if _seeded else DirectoryBasedExampleDatabase(".hypothesis/examples"),
        deadline=None,
        suppress_health_check=_SLOW_OK,
    )
PROFILES = ("quick", "ci", "nightly")

_ACTOR = st.integers(0, 7)
_PICK = st.integers(0, 63)
_CONFIG = st.sampled_from(sorted((k, v) for k, vs in CONFIG_CHOICES.items() for v in vs))


class RestoreWithoutMbox(Chapter13):
    """Test only: a restore that puts back every path but db/mbox (a broken restore)."""

    name = "test:restore-without-mbox"

    def restore(self, ctx: ProcedureContext, directory: Path) -> None:
        ctx.backend.stop()
        for relative in self.paths:
            if relative != "db/mbox":
                remove_path(ctx.layout, relative)
                copy_path(directory / "tree" / relative, ctx.layout.root / relative)
        ctx.backend.start()


class DrillMachine(RuleBasedStateMachine):
    """One example = a fresh copy of `template` on its own loopback /24 and its servers."""

    template: ClassVar[Layout]
    procedure: ClassVar[str] = "chapter13"
    tier: ClassVar[str] = "XS"
    seed: ClassVar[int] = 1
    out_dir: ClassVar[Path | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.work = Path(tempfile.mkdtemp(prefix="firedrill-sm-"))
        self.scope = contextlib.ExitStack()
        network = self.scope.enter_context(lease_network())
        root = self.work / "intermail"
        shutil.copytree(self.template.root, root, symlinks=True)
        layout = Layout(root)
        save(relocate(load(layout.config), network), layout.config)
        self.steps: list[Step] = []
        self.numbers = itertools.count(1)
        self.stepper = Stepper(layout, resolve_procedure(self.procedure), self.work)
        self.failed = False
        self.stepper.open()

    def teardown(self) -> None:
        """A drill ends with a restore from the latest backup, verified like every step."""
        try:
            if not self.failed:
                self._do(Step("restore"))
                self._require(self.stepper.verify())
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self.stepper.close()
        finally:
            self.scope.close()
            shutil.rmtree(self.work, ignore_errors=True)

    # -- rules ---------------------------------------------------------------------------------

    def _do(self, step: Step) -> None:
        self.steps.append(step)
        self._require(self.stepper.apply(step))

    @initialize()
    def first_backup(self) -> None:
        """A drill starts from a backup (later backups replace it)."""
        self._do(Step("backup"))

    @rule(actor=_ACTOR)
    def deliver(self, actor: int) -> None:
        self._do(Step("deliver", actor=actor, number=next(self.numbers)))

    @rule(actor=_ACTOR, pick=_PICK)
    def read(self, actor: int, pick: int) -> None:
        self._do(Step("read", actor=actor, pick=pick))

    @rule(actor=_ACTOR, pick=_PICK, flag=st.sampled_from(FLAGS))
    def flag(self, actor: int, pick: int, flag: str) -> None:
        self._do(Step("flag", actor=actor, pick=pick, flag=flag))

    @rule(actor=_ACTOR, pick=_PICK)
    def expunge(self, actor: int, pick: int) -> None:
        self._do(Step("expunge", actor=actor, pick=pick))

    @rule()
    def provision(self) -> None:
        self._do(Step("provision", number=next(self.numbers)))

    @precondition(lambda self: any(a.provisioned for a in self.stepper.model.accounts))
    @rule(actor=_ACTOR)
    def deprovision(self, actor: int) -> None:
        self._do(Step("deprovision", actor=actor))

    @rule(choice=_CONFIG)
    def config(self, choice: tuple[str, str]) -> None:
        self._do(Step("config", key=choice[0], value=choice[1]))

    # Hypothesis shrinks a step toward the rule whose name sorts first: the expensive rules
    # (servers drained, killed or stopped) have names that sort last.
    @rule()
    def take_backup(self) -> None:
        self._do(Step("backup"))

    @rule()
    def simulate_crash(self) -> None:
        self._do(Step("crash"))

    @precondition(lambda self: any(a.delivered() for a in self.stepper.model.accounts[:2]))
    @rule(pick=_PICK)
    def corrupt(self, pick: int) -> None:
        self._do(Step("corrupt", pick=pick))

    @precondition(lambda self: self.stepper.saved is not None)
    @rule()
    def restore(self) -> None:
        self._do(Step("restore"))

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def installation_matches_the_model(self) -> None:
        self._require(self.stepper.verify())

    def _require(self, divergences: list[Finding]) -> None:
        if not divergences:
            return
        self.failed = True
        sequence = Sequence(
            "statemachine-failure",
            tuple(self.steps),
            description="; ".join(str(d) for d in divergences)[:500],
            procedure=self.procedure,
            tier=self.tier,
            seed=self.seed,
        )
        text = sequence.to_toml()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "statemachine-failure.toml").write_text(text)
        listing = "\n".join(f"  {d}" for d in divergences)
        raise AssertionError(
            f"the installation differs from the model after {len(self.steps)} step(s):\n"
            f"{listing}\nrun it again with `firedrill run FILE` where FILE holds:\n{text}"
        )
