"""Invariant 10 on a running lab: a golden XS installation whose clients are followed (the
history reads every account) serves exactly what it stores and survives a clean restart; one
precise change under the running servers' feet — the message store's databases put back from
a copy taken before a client expunged one Archive message, as a restore onto running servers
does — is exactly one served difference, and the next clean restart turns it into damage: the
MSS, still holding the state from before, purges the restored message's file on its way down.
"""

from __future__ import annotations

import dataclasses
import imaplib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.topology import relocate
from harness.accounts import lab_accounts
from harness.checker import tree_state
from harness.checker.databases import items, scratch_copy
from harness.checker.findings import Finding, Verdict
from harness.checker.run import CheckReport
from harness.checker.served import ServedReport, served_state
from harness.checker.tree_state import TreeState
from harness.drill import lab as drill_lab
from harness.drill import phases
from harness.drill.evidence import final_check
from harness.drill.record import RestartRecord, VerifyRecord
from harness.drill.runner import DrillOptions, run_drill
from harness.drill.verdict import restart_damage
from harness.environments.local import LocalBackend
from harness.environments.network import lease_network
from harness.environments.probe import wait_until_serving
from harness.history import Delete, HistoryWriter, Outcome, Read
from harness.layout import Layout
from harness.scenarios.catalogue import find
from harness.scenarios.scenario import Scenario, load_scenario
from harness.store.bdb import cursor_items
from harness.store.config import ConfigKey, load, save
from harness.store.records import MsgRecord, Row, folder_prefix
from harness.workload.runner import endpoints_of

pytestmark = pytest.mark.integration

QUIET = {"checkpointSeconds": "3600", "purgeSeconds": "3600"}
"""No background checkpoint or purge: the MSS purges only when it stops and starts."""
SEED = 1


@dataclass(frozen=True, slots=True)
class Victim:
    """The Archive message a client expunged: whose, its UID, its message record."""

    address: str
    uid: int
    msgid: str
    message_id: str


@pytest.fixture
def running(golden_xs: Layout, tmp_path: Path) -> Iterator[phases.Lab]:
    """The golden XS tree, quiet, with every server running; the history has read every
    account; db/mbox and db/msgid as they were before the start are kept in tmp/before."""
    layout = Layout(tmp_path / "intermail")
    shutil.copytree(golden_xs.root, layout.root, symlinks=True)
    with lease_network() as network:
        config = relocate(load(layout.config), network)
        for key, value in QUIET.items():
            config.set(ConfigKey("*", "mss", key), value)
        save(config, layout.config)
        for env in ("mbox", "msgid"):
            shutil.copytree(
                layout.env(env), tmp_path / "before" / env, ignore=shutil.ignore_patterns("__db.*")
            )
        backend = LocalBackend(layout)
        history = HistoryWriter(tmp_path / "history.jsonl")
        try:
            for account in lab_accounts(layout.root):
                op = history.invoke(Read(account.address, "imap"))
                history.complete(op, Outcome.OK, result=Read(account.address, "imap", 1))
            lab = phases.Lab(
                drill_lab.Sandbox(tmp_path, layout, network),
                backend,
                history,
                endpoints_of(layout),
                drill_lab.prober(layout),
                tmp_path,
                drill_lab.passwords(layout),
            )
            backend.start()
            assert wait_until_serving(lab.endpoints, lab.prober, 60) is not None
            yield lab
        finally:
            try:
                backend.close()
            finally:
                history.close()


def _served(lab: phases.Lab) -> ServedReport:
    return served_state(lab.layout, lab.access, lab.history.path, tier="XS", seed=SEED)


def _subjects(findings: tuple[Finding, ...]) -> list[tuple[str, str]]:
    return [(f.kind, f.subject) for f in findings]


def _scenario() -> Scenario:
    return load_scenario(find("default"))


def _restore_under_running_servers(lab: phases.Lab) -> Victim:
    """A client expunges one Archive message stored once (refcount 1); then db/mbox and
    db/msgid are put back from before, under the running MSS (it keeps the state it has)."""
    victim = _archived_once(lab)
    login = next(a for a in lab_accounts(lab.layout.root) if a.address.lower() == victim.address)
    op = lab.history.invoke(Delete(login.address, "imap", (victim.message_id,)))
    imap = imaplib.IMAP4(*lab.endpoints.imap, timeout=10)
    try:
        imap.login(login.login, login.password)
        assert imap.select("Archive")[0] == "OK"
        assert imap.uid("STORE", str(victim.uid), "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    lab.history.complete(op, Outcome.OK)
    for env in ("mbox", "msgid"):
        shutil.rmtree(lab.layout.env(env))
        shutil.copytree(lab.box.work / "before" / env, lab.layout.env(env))
    return victim


def _archived_once(lab: phases.Lab) -> Victim:
    """The first Archive message (by account) whose message record has refcount 1."""
    accounts = sorted(lab_accounts(lab.layout.root), key=lambda a: a.address)
    with scratch_copy(lab.layout, ("mbox", "msgid")) as stores:
        records = {
            r.msgid: r
            for r in (MsgRecord.decode(k, v) for k, v in items(stores.handle("msgid", "msgid.db")))
        }
        rows_db = stores.handle("mbox", "rows.db")
        for account in accounts:
            for key, value in cursor_items(
                rows_db, prefix=folder_prefix(account.mailboxid, "Archive")
            ):
                row = Row.decode(key, value)
                if records[row.msgid].refcount == 1:
                    record = records[row.msgid]
                    return Victim(account.address.lower(), row.key.uid, row.msgid, record.header_id)
    raise AssertionError("no Archive message stored once in the golden XS tree")


def _checked(running: phases.Lab) -> tuple[CheckReport, TreeState]:
    """verify's offline check, with the state of the tree it read (as `evidence.verify`)."""
    state = tree_state.take(running.layout.root, running.history.path)
    check = final_check(running.layout, running.history.path, _scenario(), None)
    return check, state.with_recovered(check.recovered)


def test_an_untouched_lab_serves_what_it_stores_and_survives_a_clean_restart(
    running: phases.Lab,
) -> None:
    before = _served(running)
    assert before.findings == () and (before.skipped, before.error) == ("", "")
    accounts = [a for a in lab_accounts(running.layout.root) if a.status == "active"]
    assert before.followed == before.accounts == len(accounts) > 0
    assert before.folders == 5 * len(accounts) and before.messages > 100 and before.pop3 == 3
    check, state = _checked(running)
    restart = phases.restart(running, _scenario(), None, SEED, 60, state)
    assert restart.ready is not None and restart.failed == ""
    assert restart.served is not None and restart.served.findings == ()
    assert list(restart_damage(VerifyRecord(check, served=before), restart)) == []
    # nothing the offline check reads changed: only the environments were recovered again
    assert restart.compared is not None and restart.compared.changed == (), restart.compared
    assert restart.compared.environments == len(check.recovered) == 6
    assert restart.check is not None and restart.check.findings == ()


def test_a_restore_under_running_servers_is_exactly_one_served_difference(
    running: phases.Lab,
) -> None:
    victim = _restore_under_running_servers(running)
    report = _served(running)
    assert _subjects(report.findings) == [
        ("served-state-differs", f"{victim.address}/Archive/{victim.uid}")
    ]
    assert "not served" in report.findings[0].detail
    # the offline check sees nothing wrong: only what clients are served differs
    assert final_check(running.layout, running.history.path, _scenario(), None).violations == []


def test_what_only_breaks_at_the_next_restart_is_damage_naming_it(running: phases.Lab) -> None:
    victim = _restore_under_running_servers(running)
    check, state = _checked(running)
    verify = VerifyRecord(check, served=_served(running))
    restart: RestartRecord = phases.restart(running, _scenario(), None, SEED, 60, state)
    assert restart.ready is not None and restart.failed == ""
    damage = _subjects(tuple(restart_damage(verify, restart)))
    # the restored row's file is gone: the tree changed, the whole offline check ran again
    # and names it (the comparison after the restart fetches UIDs and flags only)
    assert damage == [("damaged-by-restart", f"message-file-missing {victim.msgid}")]
    assert restart.compared is not None and "msgfiles" in restart.compared.changed


def test_a_default_drill_serves_what_it_stores_and_survives_a_restart_outside_its_rto(
    tmp_path: Path,
) -> None:
    """The default drill (chapter 13.4 backup, the whole tree lost, the chapter's restore) at
    tier XS: nothing served differs, the clean restart damages nothing, the restart is a phase
    of its own after verify, on the HTML timeline too, and the RTO ended before it."""
    scenario = _scenario()
    scenario = dataclasses.replace(
        scenario, population=dataclasses.replace(scenario.population, tier="XS")
    )
    result = run_drill(scenario, DrillOptions(report_dir=tmp_path / "reports", progress=False))
    record, judgement = result.report.record, result.report.judgement
    assert judgement.verdict is Verdict.PASS, (judgement.reasons, record.error)
    kinds = {c.finding.kind for c in judgement.findings}
    assert not kinds & {"served-state-differs", "damaged-by-restart"}, kinds
    assert record.verify is not None and record.verify.served is not None
    served = record.verify.served
    assert served.accounts > 0 and served.messages > 0 and served.pop3 > 0, served
    assert (served.skipped, served.error, served.findings) == ("", "", ())
    restart = record.restart
    html = (result.report_dir / "report.html").read_text()
    assert restart is not None and restart.ready is not None and restart.failed == ""
    assert restart.check is not None and restart.served is not None
    assert restart.served.accounts == served.accounts and restart.served.findings == ()
    # the restart changed nothing the offline check reads: verify's findings stand
    assert restart.compared is not None and restart.compared.changed == (), restart.compared
    assert "unchanged since verify" in html
    assert [s.phase for s in record.timeline][-2:] == ["verify", "restart"]
    span = record.timeline[-1]
    assert span.end is not None and span.error == ""
    # RTO: the disaster struck -> service ready (phase 9), over before the restart began
    assert record.fault is not None and record.ready is not None and record.ready.at is not None
    rto = judgement.metrics.rto_seconds
    assert rto == round(record.ready.at.mono - record.fault.struck.mono, 3)
    assert record.since_start(record.fault.struck) + rto < span.start
    assert record.since_start(restart.ready) > span.start
    assert 'data-phase="restart"' in html and "Served state and clean restart" in html
