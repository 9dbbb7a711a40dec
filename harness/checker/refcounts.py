"""How many mailbox rows point at each message id, in 8 bytes a row.

The row check counts, the record check asks once per msgid record. Ids of the store's own form
(16 lowercase hex digits, `new_msgid`) are kept as integers in an array, sorted once and
counted by bisection; anything else (a damaged row) goes to a small Counter. A tier L store
(about a million rows) costs ~9 MB instead of the ~500 MB of a dict of strings.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter

_STORE_ID = re.compile(r"[0-9a-f]{16}")


class RefCounts:
    def __init__(self) -> None:
        self._ids = array("Q")
        self._other: Counter[str] = Counter()
        self._sorted = True

    def add(self, msgid: str) -> None:
        if _STORE_ID.fullmatch(msgid):
            self._ids.append(int(msgid, 16))
            self._sorted = False
        else:
            self._other[msgid] += 1

    def count(self, msgid: str) -> int:
        """The number of rows pointing at msgid."""
        if not _STORE_ID.fullmatch(msgid):
            return self._other[msgid]
        if not self._sorted:
            self._ids = array("Q", sorted(self._ids))
            self._sorted = True
        value = int(msgid, 16)
        return bisect_right(self._ids, value) - bisect_left(self._ids, value)

    def __len__(self) -> int:
        return len(self._ids) + self._other.total()
