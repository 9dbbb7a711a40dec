"""RefCounts: rows per message id, store ids packed in an array, other ids counted apart."""

from __future__ import annotations

import random

from harness.checker.refcounts import RefCounts
from harness.store.messagestore import new_msgid


def test_counts_match_a_plain_counter_for_store_ids_and_odd_ones() -> None:
    rng = random.Random(5)
    ids = [new_msgid() for _ in range(300)] + ["not-a-store-id", "ABCDEF0123456789", "12345"]
    rows = [rng.choice(ids) for _ in range(2000)]
    refs = RefCounts()
    for msgid in rows:
        refs.add(msgid)
    for msgid in [*ids, new_msgid(), "absent"]:
        assert refs.count(msgid) == rows.count(msgid), msgid
    assert len(refs) == len(rows)


def test_adding_after_counting_is_counted() -> None:
    refs = RefCounts()
    refs.add("00000000000000ff")
    assert refs.count("00000000000000ff") == 1
    refs.add("0000000000000001")
    refs.add("00000000000000ff")
    assert refs.count("00000000000000ff") == 2 and refs.count("0000000000000001") == 1
    assert refs.count("ffffffffffffffff") == 0
