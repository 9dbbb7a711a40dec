"""The directory server: account lookup, authentication and provisioning over the wire.

At start the entry and index environments recover through their logs and the index is
reconciled with the entries. Provisioning keeps the cross-server order of `store/directory.py`:
a new account's mailbox is created at the MSS before its entry; a deleted account's entry goes
before its mailbox.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from harness.errors import AlreadyExists, NotFound
from harness.servers.backend import BackendUnavailable
from harness.servers.service import WireService
from harness.servers.wire import Reply, Request, WireClient, WireError
from harness.store.directory import Directory
from harness.store.passwords import hash_password
from harness.store.records import Account, MailboxStatus
from harness.topology import endpoint

log = logging.getLogger("firedrill.dirserv")


def account_json(account: Account) -> dict[str, Any]:
    """An account as clients see it (the password hash is never sent)."""
    return {
        "entry_id": account.entry_id,
        "address": account.address,
        "login": account.login,
        "mailbox": account.mailbox,
        "status": account.status.value,
        "mss": account.mss_host,
        "name": account.name,
        "aliases": list(account.aliases),
        "cos": account.cos,
    }


class DirectoryServer(WireService):
    program = "dirserv"

    async def open(self) -> None:
        self.directory = Directory(self.layout, as_server=True)
        self.directory.reconcile_index()
        self.directory.open_cache()
        self.directory.checkpoint()
        mss = endpoint(self.config, "mss")
        self.mss = WireClient(mss.address, mss.port)
        ids = [int(a.entry_id) for a in self.directory.accounts()]
        mailboxes = [int(a.mailbox) for a in self.directory.accounts() if a.mailbox.isdigit()]
        self._next_entry = max(ids, default=100_000 - 1) + 1
        self._next_mailbox = max(mailboxes, default=1_000_000_000 - 1) + 1
        self.every(30, self._checkpoint)

    async def _checkpoint(self) -> None:
        self.directory.checkpoint()

    async def handle(self, request: Request) -> Reply:
        args = request.args
        try:
            if request.op == "lookup":
                account = self.directory.resolve(str(args["address"]))
                if account is None:
                    raise WireError("notfound", f"no account for {args['address']}")
                return Reply(account_json(account))
            if request.op == "auth":
                account = self.directory.authenticate(str(args["login"]), str(args["password"]))
                if account is None:
                    raise WireError("notfound", "invalid credentials")
                return Reply(account_json(account))
            if request.op == "create":
                return Reply(account_json(await self._create(args)))
            if request.op == "delete":
                return Reply(account_json(await self._delete(str(args["address"]))))
            if request.op == "modify":
                return Reply(account_json(self._modify(str(args["address"]), args["changes"])))
            if request.op == "list":
                return Reply([account_json(a) for a in self.directory.accounts()])
            if request.op == "ping":
                return Reply("pong")
        except NotFound as exc:
            raise WireError("notfound", str(exc)) from exc
        except AlreadyExists as exc:
            raise WireError("exists", str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError("invalid", f"bad arguments for {request.op}: {exc!r}") from exc
        raise WireError("invalid", f"unknown operation {request.op!r}")

    async def _create(self, args: dict[str, Any]) -> Account:
        address = str(args["address"]).lower()
        if self.directory.resolve(address) is not None:
            raise AlreadyExists(f"{address} already exists")
        entry_id, mailbox = str(self._next_entry), str(self._next_mailbox)
        self._next_entry += 1
        self._next_mailbox += 1
        account = Account(
            entry_id=entry_id,
            address=address,
            login=str(args.get("login") or address),
            password_hash=hash_password(str(args["password"])),
            mailbox=mailbox,
            status=MailboxStatus.ACTIVE,
            mss_host="ms1",
            name=str(args.get("name", "")),
            aliases=tuple(str(a).lower() for a in args.get("aliases", ())),
            cos=str(args.get("cos", "standard")),
            created=int(time.time()),
        )
        await self.mss.call("create_mailbox", mailbox=mailbox, owner=entry_id)
        self.directory.add([account])
        return account

    async def _delete(self, address: str) -> Account:
        account = self.directory.resolve(address)
        if account is None:
            raise NotFound(f"no account for {address}")
        self.directory.delete(account.entry_id)  # the commit point: the account is gone
        try:
            await self.mss.call("delete_mailbox", mailbox=account.mailbox)
        except (BackendUnavailable, WireError) as exc:
            log.warning(
                "account %s deleted; its mailbox %s stays until removed (%s)",
                account.entry_id,
                account.mailbox,
                exc,
            )
        return account

    def _modify(self, address: str, changes: dict[str, Any]) -> Account:
        account = self.directory.resolve(address)
        if account is None:
            raise NotFound(f"no account for {address}")
        allowed = {"name", "status", "cos", "password"}
        if set(changes) - allowed:
            raise ValueError(f"only {sorted(allowed)} can be modified")
        new = account
        if "name" in changes:
            new = replace(new, name=str(changes["name"]))
        if "status" in changes:
            new = replace(new, status=MailboxStatus(changes["status"]))
        if "cos" in changes:
            new = replace(new, cos=str(changes["cos"]))
        if "password" in changes:
            new = replace(new, password_hash=hash_password(str(changes["password"])))
        return self.directory.modify(new)

    async def flush(self, how: str) -> None:
        self.directory.checkpoint()

    async def close(self) -> None:
        if hasattr(self, "mss"):
            await self.mss.close()
        if hasattr(self, "directory"):
            self.directory.close()
