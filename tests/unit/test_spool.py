"""Queue files round trip and any damage to their end record is detected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.store.spool import Spool, SpoolDamage, read


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
