"""What the checks of one `firedrill check` run share: the tree, the scratch stores, notes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness.checker.databases import ScratchStores
from harness.checker.findings import Skipped
from harness.checker.refcounts import RefCounts
from harness.layout import Layout


@dataclass
class CheckContext:
    layout: Layout
    stores: ScratchStores
    progress: bool = False
    skipped: list[Skipped] = field(default_factory=list)
    refs: RefCounts | None = None
    """msgid -> number of rows pointing at it, filled by the row check for the record check."""
    stats: Counter[str] = field(default_factory=Counter)

    def skip(self, check: str, reason: str) -> None:
        self.skipped.append(Skipped(check, reason))

    def require(self, check: str, *names: str) -> bool:
        """True when every named database ('env/file') can be read; else note the skip."""
        missing = [n for n in names if not self.stores.readable(n)]
        if missing:
            self.skip(check, f"{', '.join(missing)} cannot be read (reported above)")
        return not missing
