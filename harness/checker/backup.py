"""Invariant 7 after a restore: the tree against the backup's manifest, section by section.

A streaming merge of each manifest section with the same records read from the tree
(`harness.manifest.TREE`): what the tree lost, changed or brought back since the backup.
Messages the backup's spool held and that were delivered since are not resurrected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from harness.checker.context import CheckContext
from harness.checker.explained import Explainer, Facts, Since
from harness.checker.findings import (
    AccountChanged,
    AccountLost,
    AccountResurrected,
    ConfigChanged,
    ConfigKeyAdded,
    ConfigKeyLost,
    Finding,
    MessageChanged,
    MessageLost,
    MessageResurrected,
    RowChanged,
    RowLost,
    RowResurrected,
)
from harness.errors import ConfigSyntaxError
from harness.manifest import SECTIONS, TREE, Record, config_records, open_manifest, row_sort
from harness.store.records import MsgRecord

T = TypeVar("T")


def merge(
    left: Iterable[T],
    right: Iterable[T],
    key: Callable[[T], Any],
) -> Iterator[tuple[T | None, T | None]]:
    """Pairs of (manifest item, tree item) by key, both inputs sorted by it."""
    li, ri = iter(left), iter(right)
    a, b = next(li, None), next(ri, None)
    while a is not None or b is not None:
        if b is None or (a is not None and key(a) < key(b)):
            yield a, None
            a = next(li, None)
        elif a is None or key(b) < key(a):
            yield None, b
            b = next(ri, None)
        else:
            yield a, b
            a, b = next(li, None), next(ri, None)


def section_records(
    records: Iterator[Record], name: str, pending: list[Record]
) -> Iterator[Record]:
    """The manifest records of section `name` (sections come in SECTIONS order).

    `pending` holds the one record read past the end of the previous section.
    """
    while True:
        if not pending:
            record = next(records, None)
            if record is None:
                return
            pending.append(record)
        if pending[0]["t"] != name:
            return
        yield pending.pop()


def compare(ctx: CheckContext, manifest: Path, since: Since | None = None) -> Iterator[Finding]:
    """Findings for what the tree lost, changed or brought back since the manifest; with
    `since` (what the operations after the backup's consistency point may have done), each
    difference one of them explains is `newer-than-backup` instead (harness.checker.explained).

    A section whose tree copy cannot be read is skipped (its damage is reported by the other
    checks) and its manifest records are read past.
    """
    records = open_manifest(manifest)
    pending: list[Record] = []
    readable = _readable(ctx)
    comparison = _Comparison(ctx)
    found: list[Finding] = []
    for name in SECTIONS:
        mine = section_records(records, name, pending)
        if not readable[name]:
            ctx.skip(f"manifest {name}", "the tree's copy cannot be read (reported above)")
            for _ in mine:
                pass
            continue
        found += comparison.section(name, mine, TREE[name][0](ctx.stores, ctx.layout))
    found += comparison.leftovers()
    if since is None:
        yield from found
        return
    explain = Explainer(since, comparison.facts())
    for finding in found:
        explained = explain(finding)
        ctx.stats["manifest_explained"] += explained is not finding
        yield explained


def _readable(ctx: CheckContext) -> dict[str, bool]:
    stores = ctx.stores
    readable = {s: all(stores.readable(n) for n in needs) for s, (_, needs) in TREE.items()}
    if readable["conf"]:
        try:
            list(config_records(ctx.layout))
        except (ConfigSyntaxError, OSError):
            readable["conf"] = False
    return readable


class _Comparison:
    """The merge of each section. Messages are judged last: a lost (or resurrected) message
    is one finding with its rows counted, not one per row."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.lost: dict[str, int] = {}
        self.back: dict[str, int] = {}
        self.back_headers: dict[str, str] = {}
        self.lost_headers: dict[str, str] = {}
        self.lost_rows: dict[str, list[str]] = {}
        """msgid of a lost message -> the mailboxes of its rows in the manifest."""
        self.accounts: dict[str, tuple[str, str]] = {}
        """entry id -> (address in lower case, mailbox id), from the manifest and the tree."""
        self.changed: list[Finding] = []

    def section(
        self, name: str, mine: Iterator[Record], tree: Iterator[Record]
    ) -> Iterator[Finding]:
        steps = {
            "msg": self.messages,
            "row": self.rows,
            "acct": self.accounts_of,
            "conf": _config,
            "spool": self.spool,
        }
        return steps[name](mine, tree)

    def messages(self, mine: Iterator[Record], tree: Iterator[Record]) -> Iterator[Finding]:
        for old, new in merge(mine, tree, key=lambda r: r["id"]):
            if new is None and old is not None:
                self.lost[old["id"]] = 0
                self.lost_headers[old["id"]] = old.get("h", "")
            elif old is None and new is not None:
                self.back[new["id"]] = 0
                self.back_headers[new["id"]] = new.get("h", "")
            elif old and new and (old["sha256"], old["size"]) != (new["sha256"], new["size"]):
                self.changed.append(MessageChanged(old["id"], "digest differs"))
        return iter(())

    def rows(self, mine: Iterator[Record], tree: Iterator[Record]) -> Iterator[Finding]:
        for old, new in merge(mine, tree, key=row_sort):
            if new is None and old is not None:
                if old["m"] in self.lost:
                    self.lost[old["m"]] += 1
                    self.lost_rows.setdefault(old["m"], []).append(str(old["k"][0]))
                else:
                    yield RowLost("/".join(map(str, old["k"])), f"message {old['m']} [{old['f']}]")
            elif old is None and new is not None:
                if new["m"] in self.back:
                    self.back[new["m"]] += 1
                else:
                    yield RowResurrected("/".join(map(str, new["k"])), f"message {new['m']}")
            elif old and new and (old["m"], old["f"]) != (new["m"], new["f"]):
                yield RowChanged(
                    "/".join(map(str, old["k"])),
                    f"was {old['m']} [{old['f']}], is {new['m']} [{new['f']}]",
                )

    def accounts_of(self, mine: Iterator[Record], tree: Iterator[Record]) -> Iterator[Finding]:
        """The accounts compared, remembering each one's address and mailbox."""

        def noted(records: Iterator[Record]) -> Iterator[Record]:
            for record in records:
                entry = record["entry"]
                self.accounts[record["id"]] = (
                    str(entry.get("address", "")).lower(),
                    str(entry.get("mailboxid", "")),
                )
                yield record

        return _accounts(noted(mine), noted(tree))

    def facts(self) -> Facts:
        """What the explanations need: Message-IDs of messages, owners of mailboxes."""
        owners = {mailbox: address for address, mailbox in self.accounts.values()}
        handle = self.ctx.stores.handle("msgid", "msgid.db")

        def header_of(msgid: str) -> str:
            known = self.back_headers.get(msgid) or self.lost_headers.get(msgid)
            if known or handle is None:
                return known or ""
            value = handle.get(msgid.encode())
            return MsgRecord.decode(msgid.encode(), value).header_id if value else ""

        return Facts(
            header_of,
            lambda mailbox: owners.get(mailbox, ""),
            lambda entry: self.accounts.get(entry, ("", ""))[0],
            lambda msgid: self.lost_rows.get(msgid, []),
        )

    def spool(self, mine: Iterator[Record], tree: Iterator[Record]) -> Iterator[Finding]:
        """Mail the backup's spool held, delivered since: not resurrected."""
        spooled = {r["h"] for r in mine if r.get("h")}
        for msgid in [m for m, h in self.back_headers.items() if h in spooled]:
            self.back.pop(msgid, None)
            self.ctx.stats["delivered_from_backup_spool"] += 1
        return iter(())

    def leftovers(self) -> Iterator[Finding]:
        for msgid, n in self.lost.items():
            yield MessageLost(msgid, f"with {n} mailbox row(s)")
        for msgid, n in self.back.items():
            yield MessageResurrected(msgid, f"with {n} mailbox row(s)")
        yield from self.changed


def _accounts(mine: Iterator[Record], tree: Iterator[Record]) -> Iterator[Finding]:
    for old, new in merge(mine, tree, key=lambda r: r["id"]):
        if new is None and old is not None:
            yield AccountLost(old["id"], old["entry"].get("address", ""))
        elif old is None and new is not None:
            yield AccountResurrected(new["id"], new["entry"].get("address", ""))
        elif old and new and old["entry"] != new["entry"]:
            fields = sorted(
                k
                for k in old["entry"].keys() | new["entry"].keys()
                if old["entry"].get(k) != new["entry"].get(k)
            )
            yield AccountChanged(old["id"], "changed: " + ", ".join(fields))


def _config(mine: Iterator[Record], tree: Iterator[Record]) -> Iterator[Finding]:
    for old, new in merge(mine, tree, key=lambda r: r["k"]):
        if new is None and old is not None:
            yield ConfigKeyLost(old["k"], f"was [{old['v']}]")
        elif old is None and new is not None:
            yield ConfigKeyAdded(new["k"], f"is [{new['v']}]")
        elif old and new and old["v"] != new["v"]:
            yield ConfigChanged(old["k"], f"was [{old['v']}], is [{new['v']}]")
