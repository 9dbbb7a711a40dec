"""After a restore: did each thing a disaster destroyed come back, and did the backup hold it?

Each disaster kind names the check for what it destroys (`DisasterKind.came_back`); the checks
read the recovered tree through `Restored`, which opens the stores it needs once, on private
recovered copies (safe on a live tree). A thing the backup did not hold is not expected back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from harness.checker.databases import ScratchStores, items
from harness.errors import ConfigSyntaxError, FiredrillError
from harness.faults.record import Damaged
from harness.layout import Layout
from harness.manifest import ManifestSummary
from harness.store import config as configdb
from harness.store.msgfiles import relpath
from harness.store.records import folder_prefix


@dataclass(frozen=True, slots=True)
class CameBack:
    """One destroyed thing after the recovery: `back` (it is there again) and `expected` (the
    backup held it, so a restore must bring it back)."""

    kind: str
    id: str
    before: str
    back: bool
    expected: bool

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.id,
            "before": self.before,
            "back": self.back,
            "expected": self.expected,
        }

    @classmethod
    def from_json(cls, data: Any) -> CameBack:
        return cls(
            str(data["kind"]),
            str(data["id"]),
            str(data["before"]),
            bool(data["back"]),
            bool(data["expected"]),
        )


class Restored:
    """The recovered tree as the checks read it: the directory entries and mailbox rows (None
    when unreadable), config.db values, files; and the backup's summary (None: no manifest)."""

    def __init__(
        self, layout: Layout, stores: ScratchStores, summary: ManifestSummary | None
    ) -> None:
        self.layout = layout
        self.stores = stores
        self.summary = summary

    @cached_property
    def entries(self) -> Any:
        readable = self.stores.readable("entry/entry.db")
        return self.stores.handle("entry", "entry.db") if readable else None

    @cached_property
    def rows(self) -> Any:
        readable = self.stores.readable("mbox/rows.db")
        return self.stores.handle("mbox", "rows.db") if readable else None

    def config_value(self, key: str) -> str | None:
        try:
            config = configdb.load(self.layout.config)
        except (ConfigSyntaxError, OSError, FiredrillError):
            return None
        return config.get(configdb.ConfigKey.parse(key))


Check = Callable[[Restored, Damaged], tuple[bool, bool]]
"""(back, expected) for one destroyed thing."""


def account_back(tree: Restored, damaged: Damaged) -> tuple[bool, bool]:
    """A deleted account (and, for its mailbox item, the mailbox's rows)."""
    if damaged.kind == "mailbox":
        return mailbox_back(tree, damaged)
    back = tree.entries is not None and tree.entries.get(damaged.id.encode()) is not None
    return back, tree.summary is None or damaged.id in tree.summary.accounts


def mailbox_back(tree: Restored, damaged: Damaged) -> tuple[bool, bool]:
    """Back = every row the backup held (without a manifest: not empty, unless it was)."""
    prefix = folder_prefix(damaged.id)
    count = 0 if tree.rows is None else sum(1 for k, _ in items(tree.rows) if k.startswith(prefix))
    held = tree.summary.rows_per_mailbox[damaged.id] if tree.summary else None
    if held is not None:
        return count >= held, held > 0
    return count > 0 or damaged.before in ("", "0"), True


def config_key_back(tree: Restored, damaged: Damaged) -> tuple[bool, bool]:
    back = tree.config_value(damaged.id) == damaged.before
    return back, tree.summary is None or damaged.id in tree.summary.config


def config_file_back(tree: Restored, damaged: Damaged) -> tuple[bool, bool]:
    """config.db parses again (a key every installation has can be read)."""
    return tree.config_value("/*/common/defaultDomain") is not None, True


def message_back(tree: Restored, damaged: Damaged) -> tuple[bool, bool]:
    back = (tree.layout.msgfiles / relpath(damaged.id)).is_file()
    return back, tree.summary is None or damaged.id in tree.summary.messages


def path_back(tree: Restored, damaged: Damaged) -> tuple[bool, bool]:
    return (tree.layout.root / damaged.id).exists(), True


def came_back(tree: Restored, check: Check, damaged: Damaged) -> CameBack:
    back, expected = check(tree, damaged)
    return CameBack(damaged.kind, damaged.id, damaged.before, back, expected)
