"""Berkeley DB logs live as chapter 13 says: `log.NNNNNNNNNN` files appear as transactions are
written, a checkpoint removes those recovery no longer needs, and recovery still works."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from berkeleydb import db

from harness.checker.databases import log_numbers
from harness.store.bdb import LOG_FILE_MAX, Environment

pytestmark = pytest.mark.integration

VALUE = bytes(range(256)) * 16
"""4 KiB per record: a few hundred records fill a log file."""
PER_LOG = LOG_FILE_MAX // len(VALUE)


def _write(env: Environment, start: int, count: int, per_txn: int = 64) -> None:
    handle = env.db("msgid.db")
    for first in range(start, start + count, per_txn):
        with env.transaction() as txn:
            for n in range(first, min(first + per_txn, start + count)):
                handle.put(f"{n:08d}".encode(), VALUE + str(n).encode(), txn=txn)


def _read_all(env: Environment) -> dict[bytes, bytes]:
    handle = env.db("msgid.db")
    cursor = handle.cursor()
    try:
        out = {}
        item = cursor.first()
        while item is not None:
            out[item[0]] = item[1]
            item = cursor.next()
        return out
    finally:
        cursor.close()


def _read_data_file(path: Path) -> list[bytes]:
    """The keys of a database file read on its own, without its environment's logs."""
    handle = db.DB()
    handle.open(str(path), dbtype=db.DB_BTREE, flags=db.DB_RDONLY)
    try:
        return list(handle.keys())
    finally:
        handle.close()


def _crash_copy(home: Path, target: Path) -> None:
    """What a crash leaves: data files and logs as they are on disk, no region files."""
    target.mkdir(parents=True)
    for p in home.iterdir():
        if not p.name.startswith("__db."):
            shutil.copy2(p, target / p.name)


def test_logs_roll_a_checkpoint_removes_the_old_ones_and_recovery_still_works(
    tmp_path: Path,
) -> None:
    home = tmp_path / "db" / "msgid"
    env = Environment(home, "msgid")
    try:
        _write(env, 0, 3 * PER_LOG)
        first = env.log_files()
        assert log_numbers(home) == list(range(1, len(first) + 1)) and len(first) >= 3, first

        env.checkpoint()
        after_checkpoint = env.log_files()
        assert set(after_checkpoint) < set(first), (first, after_checkpoint)
        assert log_numbers(home)[0] > 1

        _write(env, 3 * PER_LOG, 3 * PER_LOG)
        grown = env.log_files()
        assert set(grown) - set(first), "no new log file appeared"
        assert log_numbers(home)[0] == int(after_checkpoint[0][4:])
        lowest_before = log_numbers(home)[0]

        env.checkpoint()
        assert log_numbers(home)[0] > lowest_before
        numbers = log_numbers(home)
        assert numbers == list(range(numbers[0], numbers[-1] + 1)), "a gap in the log sequence"

        _write(env, 6 * PER_LOG, PER_LOG)  # committed after the last checkpoint: only in logs
        _crash_copy(home, tmp_path / "crashed" / "db" / "msgid")
    finally:
        env.close()

    crashed = tmp_path / "crashed" / "db" / "msgid"
    assert len(_read_data_file(crashed / "msgid.db")) < 7 * PER_LOG, "nothing left to recover"
    recovered = Environment(crashed, "msgid")
    try:
        rows = _read_all(recovered)
    finally:
        recovered.close()
    assert len(rows) == 7 * PER_LOG
    last = 7 * PER_LOG - 1
    assert rows[f"{last:08d}".encode()] == VALUE + str(last).encode()

    reopened = Environment(home, "msgid")  # a clean reopen recovers too
    try:
        assert len(_read_all(reopened)) == 7 * PER_LOG
    finally:
        reopened.close()
