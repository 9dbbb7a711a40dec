"""The step engine: one live installation, a reference model, one step at a time.

`Stepper.apply` performs a sequence step over the real protocols (or runs the backup, the
crash, the corruption, the restore) and updates the model only as the system acknowledged;
`Stepper.verify` compares the installation with the model — every account's INBOX (message ids
in order and flags, over IMAP), refused logins of deleted accounts, the config keys (over the
configuration server) and the offline checker's findings (exactly the damage the model expects).
Neither raises for what the system does: they return findings (harness.checker.findings.steps),
the same typed findings a drill reports, each with the account, key, file or step it is about.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from harness.accounts import lab_accounts
from harness.checker.findings import (
    AccountUnusable,
    CheckerCrashed,
    CheckerMissed,
    CheckerUnexpected,
    ConfigDiffers,
    DeletedAccountLogsIn,
    Finding,
    FlagsDiffer,
    InboxDiffers,
    InboxUnreadable,
    StepFailed,
)
from harness.checker.run import run_check
from harness.drill.refmodel import AccountModel, MessageModel, Model
from harness.environments.backend import Backend, Killable, MissingCapability
from harness.environments.local import LocalBackend
from harness.errors import FiredrillError
from harness.history import HistoryWriter, Seen
from harness.layout import Layout
from harness.procedures import Procedure, ProcedureContext
from harness.scenarios.sequence import Step
from harness.store.config import ConfigKey, load, save
from harness.store.msgfiles import MessageFiles, is_temporary
from harness.store.spool import wait_drained
from harness.workload import clients
from harness.workload.runner import endpoints_of

ACTORS = 2
"""Population accounts the model follows (provisioned accounts join them)."""
QUIET = {"checkpointSeconds": "3600", "purgeSeconds": "3600"}
"""No background checkpoint or purge while the checker copies the live, idle store."""
SPOOL_WAIT = 20.0
_STANDARD = {"\\Seen", "\\Flagged", "\\Answered", "\\Deleted", "\\Draft"}
PROMISES = 8
"""The invariant of what clients were told (DESIGN.md): UIDs, UIDVALIDITY, UIDLs, flags."""
_FETCHED = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\)")


class Stepper:
    """Drives one live installation at `layout` (populated, marker in place) step by step."""

    def __init__(
        self, layout: Layout, procedure: Procedure, work: Path, backend: Backend | None = None
    ) -> None:
        """`backend` runs the servers (the caller closes it); by default a local one the
        stepper closes itself."""
        self.layout = layout
        self.procedure = procedure
        self.work = work
        self._owned = backend is None
        self.backend: Backend = backend or LocalBackend(layout)
        self.history = HistoryWriter(work / "history.jsonl")
        self.ctx = ProcedureContext(layout, self.backend, self.history, work, timeout=60)
        self.model = Model()
        self.saved: Model | None = None
        self.backups = 0

    # -- life ----------------------------------------------------------------------------------

    def open(self) -> None:
        """Quiet the store's background work, start every server, observe the actors."""
        config = load(self.layout.config)
        for key, value in QUIET.items():
            config.set(ConfigKey("*", "mss", key), value)
        save(config, self.layout.config)
        self.endpoints = endpoints_of(self.layout)
        actors = [a for a in lab_accounts(self.layout.root) if a.status == "active" and a.password]
        self.backend.start()
        for a in sorted(actors, key=lambda a: a.address)[:ACTORS]:
            account = AccountModel(a.address, a.login, a.password)
            account.messages = [
                MessageModel(mid, flags) for _, mid, flags in self._inbox(account) or []
            ]
            self.model.accounts.append(account)

    def close(self) -> None:
        try:
            if self._owned:
                self.backend.close()
        finally:
            self.history.close()

    # -- steps ---------------------------------------------------------------------------------

    def apply(self, step: Step) -> list[Finding]:
        """Perform `step`; a divergence when the system refused what the model expected."""
        try:
            getattr(self, f"_{step.action}")(step)
        except (clients.Failed, clients.Indeterminate, imaplib.IMAP4.error, OSError) as exc:
            return [StepFailed(str(step), str(exc)[:300])]
        except FiredrillError as exc:
            return [StepFailed(str(step), str(exc)[:300])]
        return []

    def _deliver(self, step: Step) -> None:
        account = self.model.actor(step.actor)
        message_id = f"<sm.{step.number}@firedrill.test>"
        body = (
            f"From: Sequence <sender{step.number}@partner.example>\r\n"
            f"To: {account.address}\r\n"
            f"Subject: sequence message {step.number}\r\n"
            f"Message-ID: {message_id}\r\n"
            "Date: Thu, 26 Nov 2026 08:00:00 +0000\r\n"
            "\r\n"
            f"Message {step.number} of a firedrill sequence.\r\n"
        ).encode()
        clients.send(
            self.endpoints, f"sender{step.number}@partner.example", [account.address], body
        )
        self._wait_spool()
        account.messages.append(MessageModel(message_id, body=body))

    def _chosen(
        self, step: Step, among: list[MessageModel] | None = None
    ) -> tuple[AccountModel, MessageModel, str] | None:
        """The actor, the message its `pick` names (among healthy ones by default), its uid."""
        account = self.model.actor(step.actor)
        candidates = account.healthy() if among is None else among
        if not candidates:
            return None
        wanted = candidates[step.pick % len(candidates)]
        return account, wanted, self._uid_of(account, wanted)

    def _read(self, step: Step) -> None:
        chosen = self._chosen(step)
        if chosen is None:
            return
        account, wanted, uid = chosen
        with self._imap(account) as imap:
            typ, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        got = next((part[1] for part in data if isinstance(part, tuple)), b"")
        if typ != "OK" or clients.message_id_of(got.split(b"\r\n\r\n", 1)[0]) != wanted.message_id:
            raise clients.Failed(f"UID {uid} is not {wanted.message_id}")
        if wanted.body and not got.endswith(wanted.body):
            raise clients.Failed(f"{wanted.message_id}: the content differs from what was sent")

    def _flag(self, step: Step) -> None:
        chosen = self._chosen(step, self.model.actor(step.actor).messages)
        if chosen is None:
            return
        account, wanted, uid = chosen
        with self._imap(account) as imap:
            typ, _ = imap.uid("STORE", uid, "+FLAGS.SILENT", f"({step.flag})")
        if typ != "OK":
            raise clients.Failed(f"STORE {step.flag} refused")
        wanted.flags.add(step.flag)

    def _expunge(self, step: Step) -> None:
        chosen = self._chosen(step)
        if chosen is None:
            return
        account, wanted, uid = chosen
        with self._imap(account) as imap:
            typ, _ = imap.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
            if typ == "OK":
                typ, _ = imap.expunge()
        if typ != "OK":
            raise clients.Failed("STORE \\Deleted / EXPUNGE refused")
        # EXPUNGE removes every message marked \Deleted, not only the one just marked
        account.messages = [
            m for m in account.messages if m is not wanted and "\\Deleted" not in m.flags
        ]

    def _provision(self, step: Step) -> None:
        login = f"sm{step.number}"
        address, password = f"{login}@example.com", f"pw-sequence-{step.number}"
        if self.model.address_known(address):
            return  # the same account twice: the directory refuses it, the model keeps one
        clients.wire(
            self.endpoints.dirserv,
            "create",
            address=address,
            password=password,
            login=login,
            name=f"Sequence {step.number}",
        )
        self.model.gone = [a for a in self.model.gone if a.address != address]
        self.model.accounts.append(AccountModel(address, login, password, provisioned=True))

    def _deprovision(self, step: Step) -> None:
        provisioned = [a for a in self.model.accounts if a.provisioned]
        if not provisioned:
            return  # population accounts stay: the checker's expectations follow them
        victim = provisioned[step.actor % len(provisioned)]
        clients.wire(self.endpoints.dirserv, "delete", address=victim.address)
        self.model.accounts.remove(victim)
        self.model.gone.append(victim)

    def _config(self, step: Step) -> None:
        clients.wire(self.endpoints.confserv, "set", key=step.key, value=step.value)
        self.model.config[step.key] = step.value

    def _backup(self, step: Step) -> None:
        self.backups += 1
        directory = self.work / f"backup-{self.backups}"
        self.procedure.backup(self.ctx, directory)
        self.saved, self.saved_in = self.model.snapshot(), directory

    def _crash(self, step: Step) -> None:
        if not isinstance(self.backend, Killable):
            raise MissingCapability(self.backend.name, Killable, "the crash step")
        self.backend.kill()
        self.backend.start()

    def _corrupt(self, step: Step) -> None:
        victims = [(a, m) for a in self.model.accounts[:ACTORS] for m in a.delivered()]
        if not victims:
            return
        _account, message = victims[step.pick % len(victims)]
        path = self._file_of(message)
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x20  # a flipped bit in the body: same size, another digest
        path.write_bytes(bytes(data))
        message.corrupt = True
        self.model.damage.add(("message-digest-mismatch", path.name))

    def _restore(self, step: Step) -> None:
        if self.saved is None:
            return  # nothing to restore from yet
        self.procedure.restore(self.ctx, self.saved_in)
        self.model = self.saved.snapshot()

    # -- verification --------------------------------------------------------------------------

    def verify(self) -> list[Finding]:
        """Every invariant against the model; an empty list when the installation matches."""
        out: list[Finding] = []
        for account in self.model.accounts:
            out += self._verify_inbox(account)
        for account in self.model.gone:
            with contextlib.suppress(clients.Failed), self._imap(account):
                out.append(DeletedAccountLogsIn(account.address, "its deletion was acknowledged"))
        for key, value in sorted(self.model.config.items()):
            try:
                got = clients.wire(self.endpoints.confserv, "get", key=key)
            except (clients.Failed, clients.Indeterminate) as exc:
                got = f"(error: {exc})"
            if got != value:
                out.append(ConfigDiffers(key, f"{got!r}, model {value!r}"))
        report = run_check(self.layout.root, history=self.history.path)
        # what the sequence's own sessions were told (invariant 8) is not the model's business:
        # a broken promise is a finding of the sequence itself
        out += [f for f in report.violations if f.invariant == PROMISES]
        found = {(f.kind, f.subject) for f in report.violations if f.invariant != PROMISES}
        for kind, subject in sorted(found - self.model.damage):
            out.append(CheckerUnexpected(subject, f"{kind}: the checker reports it"))
        for kind, subject in sorted(self.model.damage - found):
            out.append(CheckerMissed(subject, f"expected {kind}"))
        out += [CheckerCrashed(e.check, e.error) for e in report.errors]
        return out

    def _verify_inbox(self, account: AccountModel) -> list[Finding]:
        try:
            rows = self._inbox(account)
        except clients.Failed as exc:
            return [AccountUnusable(account.address, str(exc))]
        if rows is None:
            return [InboxUnreadable(account.address, "FETCH 1:* failed")]
        got = [(mid, flags) for _, mid, flags in rows]
        want = [(m.message_id, m.flags) for m in account.messages]
        if got == want:
            return []
        got_ids, want_ids = [g[0] for g in got], [w[0] for w in want]
        lost = [m for m in want_ids if m not in got_ids]
        extra = [m for m in got_ids if m not in want_ids]
        if lost or extra:
            detail = f"missing {lost[:3]}, unexpected {extra[:3]}"
            return [InboxDiffers(account.address, detail)]
        flags = [(g[0], sorted(g[1]), sorted(w[1])) for g, w in zip(got, want, strict=False)]
        differs = [f"{mid}: {g} not {w}" for mid, g, w in flags if g != w]
        return [FlagsDiffer(account.address, "; ".join(differs[:3]) or "order")]

    # -- helpers -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _imap(self, account: AccountModel) -> Iterator[imaplib.IMAP4]:
        try:
            imap = imaplib.IMAP4(*self.endpoints.imap, timeout=clients.TIMEOUT)
        except OSError as exc:
            raise clients.Failed(f"connect: {exc}") from exc
        try:
            try:
                imap.login(account.login, account.password)
                typ, _ = imap.select("INBOX")
            except imaplib.IMAP4.error as exc:
                raise clients.Failed(f"{account.login}: {exc}") from exc
            if typ != "OK":
                raise clients.Failed(f"{account.login}: SELECT INBOX refused")
            yield imap
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()

    def _inbox(self, account: AccountModel) -> list[tuple[str, str, set[str]]] | None:
        """(uid, Message-ID, flags) of every INBOX message in uid order; None if unreadable."""
        with self._imap(account) as imap:
            typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            uidvalidity, uidnext = clients.selected(imap)
        if typ != "OK":
            return None
        rows = []
        for part in data:
            if not isinstance(part, tuple):
                continue
            match = _FETCHED.search(part[0])
            if match is None:
                return None
            flags = {f for f in match.group(2).decode().split() if f in _STANDARD}
            rows.append((match.group(1).decode(), clients.message_id_of(part[1]), flags))
        rows.sort(key=lambda r: int(r[0]))
        ids = tuple((uid, message_id) for uid, message_id, _ in rows)
        self.history.seen(Seen(account.address, "imap", "INBOX", uidvalidity, uidnext, ids))
        return rows

    def _uid_of(self, account: AccountModel, message: MessageModel) -> str:
        rows = self._inbox(account) or []
        position = account.messages.index(message)
        if position >= len(rows) or rows[position][1] != message.message_id:
            raise clients.Failed(f"{message.message_id} is not where the model has it")
        return rows[position][0]

    def _file_of(self, message: MessageModel) -> Path:
        needle = f"Message-ID: {message.message_id}".encode()  # unique: <sm.N@...>
        for path in MessageFiles(self.layout.msgfiles).walk():
            if not is_temporary(path) and needle in path.read_bytes():
                return path
        raise FiredrillError(f"no message file holds {message.message_id}")

    def _wait_spool(self) -> None:
        wait_drained(self.layout.spool, SPOOL_WAIT, interval=0.02, strict=True)


def fresh_installation(template: Layout, work: Path) -> Layout:
    """A private copy of a populated `template` under `work` (marker included)."""
    root = work / "intermail"
    shutil.copytree(
        template.root, root, symlinks=True, ignore=shutil.ignore_patterns("run", "__db.*")
    )
    return Layout(root)
