"""The step engine's invariants can fail: a known-good live installation plus exactly one
change behind the model's back gives exactly one divergence of the expected kind and id."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures.topology import relocate
from harness.checker import findings as F
from harness.checker.findings import CheckError
from harness.checker.run import CheckReport
from harness.drill.refmodel import AccountModel, MessageModel
from harness.drill.stepper import Stepper
from harness.environments.network import lease_network
from harness.layout import Layout
from harness.scenarios.sequence import Step, resolve_procedure
from harness.store.config import load, save
from harness.workload import clients

pytestmark = pytest.mark.integration


@pytest.fixture
def stepper(golden_xs: Layout, tmp_path: Path) -> Iterator[Stepper]:
    root = tmp_path / "intermail"
    shutil.copytree(golden_xs.root, root, symlinks=True)
    with lease_network() as network:
        layout = Layout(root)
        save(relocate(load(layout.config), network), layout.config)
        engine = Stepper(layout, resolve_procedure("chapter13"), tmp_path)
        try:
            engine.open()
            assert engine.apply(Step("deliver", actor=0, number=1)) == []
            assert engine.verify() == []
            yield engine
        finally:
            engine.close()


def test_a_message_the_model_does_not_know_is_one_inbox_divergence(stepper: Stepper) -> None:
    account = stepper.model.actor(1)
    account.messages.append(MessageModel("<never.sent@firedrill.test>"))
    assert stepper.verify() == [
        F.InboxDiffers(account.address, "missing ['<never.sent@firedrill.test>'], unexpected []")
    ]


def test_a_flag_set_behind_the_models_back_is_one_flags_divergence(stepper: Stepper) -> None:
    account = stepper.model.actor(0)
    account.messages[-1].flags.add("\\Flagged")
    found = stepper.verify()
    assert [(d.kind, d.subject) for d in found] == [("flags-differ", account.address)]


def test_a_corrupted_file_is_one_checker_divergence_with_its_msgid(stepper: Stepper) -> None:
    message = stepper.model.actor(0).messages[-1]
    path = stepper._file_of(message)
    path.write_bytes(path.read_bytes().replace(b"Message 1 of", b"Message 7 of"))
    found = stepper.verify()
    assert [(d.kind, d.subject) for d in found] == [("checker-unexpected", path.name)]
    assert found[0].detail.startswith("message-digest-mismatch: ")


def test_a_config_change_the_model_expects_but_that_is_absent(stepper: Stepper) -> None:
    key = "/*/common/logLevel"
    stepper.model.config[key] = "debug"
    assert clients.wire(stepper.endpoints.confserv, "get", key=key) != "debug"
    assert [(d.kind, d.subject) for d in stepper.verify()] == [("config-differs", key)]


def test_a_deleted_account_that_still_logs_in_is_one_divergence(stepper: Stepper) -> None:
    assert stepper.apply(Step("provision", number=9)) == []
    account = stepper.model.accounts[-1]
    stepper.model.accounts.remove(account)
    stepper.model.gone.append(account)  # the model thinks it was deleted; it was not
    assert [(d.kind, d.subject) for d in stepper.verify()] == [
        ("deleted-account-logs-in", account.address)
    ]


# -- every kind of the step engine: one change, one finding --------------------------------------


Undo = Callable[[], None]


def _wrong_password(stepper: Stepper, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Undo]:
    account = stepper.model.actor(1)
    password, account.password = account.password, "not-the-password"
    return account.address, lambda: setattr(account, "password", password)


def _fetch_refused(stepper: Stepper, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Undo]:
    account = stepper.model.actor(1)
    real = stepper._inbox

    def refused(who: AccountModel) -> list[tuple[str, str, set[str]]] | None:
        return None if who is account else real(who)

    monkeypatch.setattr(stepper, "_inbox", refused)
    return account.address, monkeypatch.undo


def _damage_never_inflicted(stepper: Stepper, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Undo]:
    damage = ("message-digest-mismatch", "0123456789abcdef")
    stepper.model.damage.add(damage)
    return damage[1], lambda: stepper.model.damage.discard(damage)


def _check_crashes(stepper: Stepper, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Undo]:
    def crashed(root: Path, **_: object) -> CheckReport:
        return CheckReport(str(root), errors=(CheckError("rows", "RuntimeError: boom"),))

    monkeypatch.setattr("harness.drill.stepper.run_check", crashed)
    return "rows", monkeypatch.undo


Change = Callable[[Stepper, pytest.MonkeyPatch], tuple[str, Undo]]
CHANGES: list[tuple[str, Change]] = [
    ("account-unusable", _wrong_password),
    ("inbox-unreadable", _fetch_refused),
    ("checker-missed", _damage_never_inflicted),
    ("checker-error", _check_crashes),
]
"""Changes behind the model's back that `verify` must report: (kind, change -> id, undo)."""


def test_one_change_at_a_time_is_exactly_one_finding_of_its_kind(
    stepper: Stepper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each change on the same live installation, undone before the next (one installation
    for the four: each is restic-style, one damage then exactly one finding)."""
    for kind, change in CHANGES:
        subject, undo = change(stepper, monkeypatch)
        assert [(d.kind, d.subject) for d in stepper.verify()] == [(kind, subject)], kind
        undo()
        assert stepper.verify() == [], f"{kind} was not undone"


def test_a_step_the_system_refuses_is_one_step_failed_finding(stepper: Stepper) -> None:
    """The model thinks the actor has a message the server does not show where it should."""
    stepper.model.actor(1).messages.insert(0, MessageModel("<not.there@firedrill.test>"))
    step = Step("read", actor=1, pick=0)
    found = stepper.apply(step)
    assert [(d.kind, d.subject) for d in found] == [("step-failed", str(step))]


NAMED_ABOVE = {
    "inbox-differs",
    "flags-differ",
    "checker-unexpected",
    "config-differs",
    "deleted-account-logs-in",
    "step-failed",
}
"""Kinds the single tests of this file name (each asserted by its own test)."""


def test_every_kind_of_the_step_engine_has_a_test() -> None:
    named = NAMED_ABOVE | {kind for kind, _ in CHANGES}
    engine = {k for k, c in F.KINDS.items() if c.__module__ == "harness.checker.findings.steps"}
    assert engine == named, sorted(engine ^ named)
