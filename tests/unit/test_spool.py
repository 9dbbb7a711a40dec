"""Queue files round trip and any damage to their end record is detected."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from harness.store.spool import Spool, SpoolDamage, read, wait_drained
from harness.waiting import WaitTimeout


def test_a_queued_message_reads_back_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    body = b"Subject: x\n\n" + bytes(range(256)) * 40
    queued = spool.enqueue("a@partner.example", ["b@example.com", "c@example.net"], body)
    again = read(queued.path)
    assert again.body == body and again.recipients == ("b@example.com", "c@example.net")
    assert again.sender == "a@partner.example" and spool.leftovers() == []
    spool.remove(queued)
    assert spool.paths() == []


@pytest.mark.parametrize("cut", [1, 10, 70, 200])
def test_a_truncated_queue_file_is_damage(tmp_path: Path, cut: int) -> None:
    queued = Spool(tmp_path).enqueue("a@x.example", ["b@example.com"], b"hello\n" * 40)
    os.truncate(queued.path, queued.path.stat().st_size - cut)
    with pytest.raises(SpoolDamage):
        read(queued.path)


def test_a_changed_body_is_damage(tmp_path: Path) -> None:
    queued = Spool(tmp_path).enqueue("a@x.example", ["b@example.com"], b"hello world\n")
    data = queued.path.read_bytes().replace(b"hello", b"jello")
    queued.path.write_bytes(data)
    with pytest.raises(SpoolDamage, match="digest"):
        read(queued.path)


def test_wait_drained_says_how_many_are_left_after_the_timeout(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert wait_drained(spool, 0) == 0  # no directory yet: nothing queued
    for n in range(3):
        spool.enqueue("a@x.example", ["b@example.com"], b"hi\n", queue_id=f"q{n}")
    assert wait_drained(spool.root, 0.05, interval=0.01) == 3


def test_wait_drained_strict_names_what_is_still_queued(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.enqueue("a@x.example", ["b@example.com"], b"hi\n", queue_id="stuck")
    with pytest.raises(WaitTimeout) as caught:
        wait_drained(spool, 0.05, interval=0.01, strict=True)
    message = str(caught.value)
    assert "waiting for the spool" in message and "after 0.05s" in message
    assert "1 queued message(s) still there (stuck.q)" in message


def test_wait_drained_returns_once_the_spool_empties(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    queued = spool.enqueue("a@x.example", ["b@example.com"], b"hi\n")
    delivery = threading.Timer(0.05, spool.remove, args=(queued,))
    delivery.start()
    try:
        assert wait_drained(spool, 10, interval=0.01, strict=True) == 0
    finally:
        delivery.join()
