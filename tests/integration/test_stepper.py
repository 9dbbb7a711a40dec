"""The step engine's invariants can fail: a known-good live installation plus exactly one
change behind the model's back gives exactly one divergence of the expected kind and id."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.topology import relocate
from harness.checker import findings as F
from harness.drill.refmodel import MessageModel
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
