"""`MailBackend` over the wire: what popserv and imapserv use to reach dirserv and the MSS."""

from __future__ import annotations

from typing import Any

from harness.servers.backend import Vanished
from harness.servers.wire import Reply, WireClient, WireError
from harness.store.records import Account, Flag, FolderMeta, MailboxStatus, Row, RowKey, parse_flags


def _account(data: dict[str, Any]) -> Account:
    return Account(
        entry_id=data["entry_id"],
        address=data["address"],
        login=data["login"],
        password_hash="",
        mailbox=data["mailbox"],
        status=MailboxStatus(data["status"]),
        mss_host=data.get("mss", ""),
        name=data.get("name", ""),
        aliases=tuple(data.get("aliases", ())),
        cos=data.get("cos", ""),
    )


def _row(data: dict[str, Any]) -> Row:
    return Row(
        RowKey(data["mailbox"], data["folder"], int(data["uid"])),
        data["msgid"],
        parse_flags(data["flags"]),
        int(data["arrival"]),
        int(data["size"]),
    )


def _folder(data: dict[str, Any]) -> FolderMeta:
    return FolderMeta(
        data["mailbox"],
        data["folder"],
        data["uidvalidity"],
        data["uidnext"],
        data["count"],
        data["size"],
        data["unseen"],
    )


class RemoteBackend:
    """Directory and message store reached through their servers.

    BackendUnavailable when a server is down; `Vanished` (a LookupError) when the MSS says
    the message, row or mailbox does not exist.
    """

    def __init__(self, dirserv: WireClient, mss: WireClient) -> None:
        self.dirserv = dirserv
        self.mss = mss

    async def _store(self, op: str, **args: Any) -> Reply:
        try:
            return await self.mss.call(op, **args)
        except WireError as exc:
            if exc.code == "notfound":
                raise Vanished(str(exc)) from exc
            raise

    async def authenticate(self, login: str, password: str) -> Account | None:
        try:
            reply = await self.dirserv.call("auth", login=login, password=password)
        except WireError as exc:
            if exc.code == "notfound":
                return None
            raise
        return _account(reply.result)

    async def folders(self, mailbox: str) -> list[FolderMeta]:
        return [_folder(f) for f in (await self._store("folders", mailbox=mailbox)).result]

    async def rows(self, mailbox: str, folder: str) -> list[Row]:
        reply = await self._store("rows", mailbox=mailbox, folder=folder)
        return [_row(r) for r in reply.result]

    async def fetch(self, msgid: str) -> bytes:
        return (await self._store("fetch", msgid=msgid)).payload

    async def set_flags(self, mailbox: str, folder: str, uid: int, flags: frozenset[Flag]) -> Row:
        code = "".join(sorted(f.value for f in flags))
        reply = await self._store("set_flags", mailbox=mailbox, folder=folder, uid=uid, flags=code)
        return _row(reply.result)

    async def change_flags(
        self,
        mailbox: str,
        folder: str,
        uid: int,
        add: frozenset[Flag] = frozenset(),
        remove: frozenset[Flag] = frozenset(),
    ) -> Row:
        codes = {
            name: "".join(sorted(f.value for f in fs))
            for name, fs in (("add", add), ("remove", remove))
        }
        reply = await self._store("change_flags", mailbox=mailbox, folder=folder, uid=uid, **codes)
        return _row(reply.result)

    async def expunge(self, mailbox: str, folder: str, uids: list[int]) -> list[int]:
        reply = await self._store("expunge", mailbox=mailbox, folder=folder, uids=uids)
        return [int(u) for u in reply.result]

    async def close(self) -> None:
        await self.dirserv.close()
        await self.mss.close()
