"""restic-style, for the history checker: the golden XS tree plus a small synthetic history (the
real record format, written by HistoryWriter) and a precise change to the tree give exactly one
finding of the expected kind naming the expected id and operation, or none at all."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.checker import findings as F
from harness.checker.run import run_check
from harness.history import (
    ConfigChange,
    Delete,
    Deliver,
    Deprovision,
    HistoryWriter,
    Outcome,
    Provision,
)
from harness.layout import Layout
from harness.store.directory import Directory
from harness.store.messagestore import MessageStore, Target
from harness.store.records import Account

pytestmark = pytest.mark.integration

BEFORE = int(time.time()) - 3600
"""An arrival time well before any operation of the synthetic history."""
AFTER = int(time.time()) + 3600
"""An arrival time after all of them (a copy delivered again later)."""
MID = "<durability.1@workload.example>"
KEY = "/*/mss/checkpointSeconds"  # 30 in the golden tree


@dataclass
class Lab:
    """A tree and its history, with the few moves a case needs."""

    layout: Layout
    history: HistoryWriter
    alice: Account
    bob: Account

    def deliver(self, outcome: Outcome = Outcome.OK) -> int:
        """A delivery of MID to alice as the workload records it; returns its history index."""
        to = (self.alice.address,)
        index = self.history.invoke(Deliver(MID, "s@partner.example", to, 100))
        if outcome is not Outcome.UNKNOWN:  # unknown: the connection broke, no completion
            result = Deliver(MID, "s@partner.example", to, 100, to, "q1")
            self.history.complete(index, outcome, result=result)
        return index

    def delete(self, outcome: Outcome = Outcome.OK) -> int:
        index = self.history.invoke(Delete(self.alice.address, "imap", (MID,)))
        self.history.complete(index, outcome)
        return index

    def op(self, target: Provision | Deprovision | ConfigChange, outcome: Outcome) -> int:
        index = self.history.invoke(target)
        self.history.complete(index, outcome)
        return index

    def crash(self) -> None:
        self.history.event("fault", "server-crash", servers=["mta"])

    def copies(self, *arrivals: int) -> None:
        """Put one copy of MID in alice's INBOX per arrival time (each a delivery of its own)."""
        data = f"Message-ID: {MID}\nSubject: durability\n\nhello\n".encode()
        with MessageStore(self.layout) as store:
            for arrival in arrivals:
                store.deliver(data, [Target(self.alice.mailbox, arrival=arrival)])

    @property
    def message(self) -> str:
        return f"{self.alice.mailbox}:{MID}"


Expected = tuple[type[F.Finding], str, int] | None
Case = Callable[[Lab], Expected]
"""Writes the history and changes the tree; returns (kind, id, op) of the one finding, or None."""


def acknowledged_message_lost(lab: Lab) -> Expected:
    return F.AcknowledgedMessageLost, lab.message, lab.deliver()


def acknowledged_message_there_once(lab: Lab) -> Expected:
    lab.deliver()
    lab.copies(BEFORE)
    return None


def acknowledged_message_twice(lab: Lab) -> Expected:
    index = lab.deliver()
    lab.copies(BEFORE, BEFORE)
    return F.DuplicateDelivery, lab.message, index


def unknown_delivery_present(lab: Lab) -> Expected:
    lab.deliver(Outcome.UNKNOWN)
    lab.copies(BEFORE)
    return None


def unknown_delivery_absent(lab: Lab) -> Expected:
    lab.deliver(Outcome.UNKNOWN)
    return None


def unknown_delivery_twice(lab: Lab) -> Expected:
    index = lab.deliver(Outcome.UNKNOWN)
    lab.copies(BEFORE, BEFORE)
    return F.DuplicateDelivery, lab.message, index


def failed_delivery_absent(lab: Lab) -> Expected:
    lab.deliver(Outcome.FAIL)
    return None


def deleted_as_acknowledged(lab: Lab) -> Expected:
    lab.deliver()
    lab.delete()
    return None


def unknown_deletion_absent(lab: Lab) -> Expected:
    lab.deliver()
    lab.delete(Outcome.UNKNOWN)
    return None


def failed_deletion_present(lab: Lab) -> Expected:
    lab.deliver()
    lab.delete(Outcome.FAIL)
    lab.copies(BEFORE)
    return None


def acknowledged_deletion_undone(lab: Lab) -> Expected:
    lab.deliver()
    index = lab.delete()
    lab.crash()  # the crash after the deletion brought the copy back
    lab.copies(BEFORE)
    return F.AcknowledgedDeleteUndone, lab.message, index


def duplicate_after_a_crash_then_one_copy_deleted(lab: Lab) -> Expected:
    index = lab.deliver()
    lab.crash()  # the MTA redelivered: two copies, the client deleted one of them
    lab.delete()
    lab.copies(BEFORE)
    return F.DuplicateDelivery, lab.message, index


def delivered_again_after_the_deletion(lab: Lab) -> Expected:
    index = lab.deliver()
    lab.delete()
    lab.crash()  # the spool still held it: redelivered after the client deleted the first copy
    lab.copies(AFTER)
    return F.DuplicateDelivery, lab.message, index


def acknowledged_account_lost(lab: Lab) -> Expected:
    index = lab.op(Provision("new.person@example.com", "pw"), Outcome.OK)
    return F.AcknowledgedAccountLost, "new.person@example.com", index


def acknowledged_account_there(lab: Lab) -> Expected:
    lab.op(Provision(lab.bob.address, "pw"), Outcome.OK)
    return None


def unknown_provisioning_absent(lab: Lab) -> Expected:
    lab.op(Provision("new.person@example.com", "pw"), Outcome.UNKNOWN)
    return None


def acknowledged_account_deletion_undone(lab: Lab) -> Expected:
    index = lab.op(Deprovision(lab.bob.address), Outcome.OK)
    return F.DeletedAccountPresent, lab.bob.address.lower(), index


def unknown_account_deletion_present(lab: Lab) -> Expected:
    lab.op(Deprovision(lab.bob.address), Outcome.UNKNOWN)
    return None


def acknowledged_config_change_lost(lab: Lab) -> Expected:
    return F.AcknowledgedConfigLost, KEY, lab.op(ConfigChange(KEY, "45"), Outcome.OK)


def acknowledged_config_change_there(lab: Lab) -> Expected:
    lab.op(ConfigChange(KEY, "30"), Outcome.OK)
    return None


def unknown_config_change_absent(lab: Lab) -> Expected:
    lab.op(ConfigChange(KEY, "30"), Outcome.OK)
    lab.op(ConfigChange(KEY, "45"), Outcome.UNKNOWN)
    return None


CASES: list[Case] = [
    acknowledged_message_lost,
    acknowledged_message_there_once,
    acknowledged_message_twice,
    unknown_delivery_present,
    unknown_delivery_absent,
    unknown_delivery_twice,
    failed_delivery_absent,
    deleted_as_acknowledged,
    unknown_deletion_absent,
    failed_deletion_present,
    acknowledged_deletion_undone,
    duplicate_after_a_crash_then_one_copy_deleted,
    delivered_again_after_the_deletion,
    acknowledged_account_lost,
    acknowledged_account_there,
    unknown_provisioning_absent,
    acknowledged_account_deletion_undone,
    unknown_account_deletion_present,
    acknowledged_config_change_lost,
    acknowledged_config_change_there,
    unknown_config_change_absent,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_a_synthetic_history_gives_exactly_the_expected_finding(
    case: Case, tree_xs: Layout, tmp_path: Path
) -> None:
    with Directory(tree_xs) as directory:
        alice, bob = sorted(directory.accounts(), key=lambda a: a.entry_id)[:2]
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as history:
        expected = case(Lab(tree_xs, history, alice, bob))
    report = run_check(tree_xs.root, history=path)
    assert report.errors == () and report.skipped == (), report.to_json()
    found = [(type(f), f.subject, f.op) for f in report.findings]
    assert found == ([expected] if expected else []), [str(f) for f in report.findings]
