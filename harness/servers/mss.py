"""The message store server: owns db/mbox, db/msgid and msgfiles; serves them over the wire.

Opening the store runs Berkeley DB recovery, so a restart after a crash replays the logs.
Deliveries use `MessageStore.deliver`, the single home of the write ordering. Checkpoints (which
also remove logs no longer needed) and purges run periodically and at drain/stop.
"""

from __future__ import annotations

from typing import Any

from harness.errors import AlreadyExists, NotFound, StoreError
from harness.servers.service import WireService
from harness.servers.wire import Reply, Request, WireError
from harness.store.messagestore import MessageStore, Target
from harness.store.records import FolderMeta, Row, RowKey, parse_flags
from harness.topology import setting


def row_json(row: Row) -> dict[str, Any]:
    return {
        "mailbox": row.key.mailbox,
        "folder": row.key.folder,
        "uid": row.key.uid,
        "msgid": row.msgid,
        "flags": "".join(sorted(f.value for f in row.flags)),
        "arrival": row.arrival,
        "size": row.size,
    }


def folder_json(meta: FolderMeta) -> dict[str, Any]:
    return {
        "mailbox": meta.mailbox,
        "folder": meta.folder,
        "uidvalidity": meta.uidvalidity,
        "uidnext": meta.uidnext,
        "count": meta.count,
        "size": meta.size,
        "unseen": meta.unseen,
    }


class MessageStoreServer(WireService):
    program = "mss"

    async def open(self) -> None:
        self.store = MessageStore(self.layout, as_server=True)
        self.store.purge()
        self.store.checkpoint()
        checkpoint = float(setting(self.config, self.program, "checkpointSeconds", "30"))
        purge = float(setting(self.config, self.program, "purgeSeconds", "60"))
        self.every(checkpoint, self._checkpoint)
        self.every(purge, self._purge)

    async def _checkpoint(self) -> None:
        self.store.checkpoint()

    async def _purge(self) -> None:
        self.store.purge()

    async def handle(self, request: Request) -> Reply:
        op = _OPS.get(request.op)
        if op is None:
            raise WireError("invalid", f"unknown operation {request.op!r}")
        try:
            return op(self.store, request.args, request.payload)
        except NotFound as exc:
            raise WireError("notfound", str(exc)) from exc
        except AlreadyExists as exc:
            raise WireError("exists", str(exc)) from exc
        except StoreError as exc:
            raise WireError("invalid", str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError("invalid", f"bad arguments for {request.op}: {exc!r}") from exc

    async def flush(self, how: str) -> None:
        self.store.purge()
        self.store.checkpoint()

    async def close(self) -> None:
        if hasattr(self, "store"):
            self.store.close()


def _deliver(store: MessageStore, args: dict[str, Any], payload: bytes) -> Reply:
    targets = [Target(m, args.get("folder", "INBOX")) for m in args["mailboxes"]]
    done = store.deliver(payload, targets)
    return Reply({"msgid": done.msgid, "rows": [str(k) for k in done.rows], "size": done.size})


def _rows(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    return Reply([row_json(r) for r in store.rows(args["mailbox"], args.get("folder"))])


def _folders(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    if store.mailbox(args["mailbox"]) is None:
        raise NotFound(f"no mailbox {args['mailbox']}")
    return Reply([folder_json(f) for f in store.folders(args["mailbox"])])


def _fetch(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    return Reply({"msgid": args["msgid"]}, store.read(args["msgid"]))


def _set_flags(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    key = RowKey(args["mailbox"], args["folder"], int(args["uid"]))
    return Reply(row_json(store.set_flags(key, parse_flags(args["flags"]))))


def _change_flags(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    key = RowKey(args["mailbox"], args["folder"], int(args["uid"]))
    add, remove = parse_flags(args.get("add", "")), parse_flags(args.get("remove", ""))
    return Reply(row_json(store.change_flags(key, add, remove)))


def _expunge(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    uids = args.get("uids")
    wanted = None if uids is None else [int(u) for u in uids]
    if wanted is not None:  # only rows flagged deleted go, whatever the client asked
        flagged = {
            r.key.uid
            for r in store.rows(args["mailbox"], args["folder"])
            if "D" in {f.value for f in r.flags}
        }
        wanted = [u for u in wanted if u in flagged]
    removed = store.expunge(args["mailbox"], args["folder"], wanted)
    return Reply([r.key.uid for r in removed])


def _create_mailbox(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    store.create_mailbox(args["mailbox"], args["owner"])
    return Reply(True)


def _delete_mailbox(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    return Reply(len(store.delete_mailbox(args["mailbox"])))


def _stats(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    folders = list(store.folders(args["mailbox"]))
    return Reply(
        {
            "messages": sum(f.count for f in folders),
            "bytes": sum(f.size for f in folders),
            "unseen": sum(f.unseen for f in folders),
        }
    )


def _purge(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    return Reply(len(store.purge()))


def _ping(store: MessageStore, args: dict[str, Any], _: bytes) -> Reply:
    return Reply("pong")


_OPS = {
    "deliver": _deliver,
    "rows": _rows,
    "folders": _folders,
    "fetch": _fetch,
    "set_flags": _set_flags,
    "change_flags": _change_flags,
    "expunge": _expunge,
    "create_mailbox": _create_mailbox,
    "delete_mailbox": _delete_mailbox,
    "stats": _stats,
    "purge": _purge,
    "ping": _ping,
}
