"""The history is append-only, typed, and readable after its writer died mid-line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.history import (
    Delete,
    Deliver,
    HistoryWriter,
    Operation,
    Outcome,
    Provision,
    operations,
    read_history,
)


def test_invoke_and_complete_pair_into_typed_operations(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as history:
        a = history.invoke(Deliver("<m1@x>", "s@x", ("a@example.com",), 10), worker=1)
        b = history.invoke(Delete("a@example.com", "pop3", ("<m0@x>",)), worker=2)
        history.complete(
            a,
            Outcome.OK,
            result=Deliver("<m1@x>", "s@x", ("a@example.com",), 10, ("a@example.com",), "q1"),
        )
        history.event("fault", "kill", servers=["mss"])
        history.complete(b, Outcome.FAIL, error="refused")
    ops = list(operations(path))
    assert [op.index for op in ops] == [0, 1]
    first, second = ops
    assert first.outcome is Outcome.OK and isinstance(first.result, Deliver)
    assert first.result.accepted == ("a@example.com",) and first.completed is not None
    assert first.completed.mono >= first.invoked.mono
    assert second.outcome is Outcome.FAIL and second.error == "refused"
    assert isinstance(second.target, Delete) and second.target.message_ids == ("<m0@x>",)
    kinds = [type(item).__name__ for item in read_history(path)]
    assert kinds == ["Operation", "Operation", "Event"]


def test_an_operation_without_completion_is_unknown_and_a_torn_line_is_ignored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as history:
        history.invoke(Provision("new@example.com", "pw"))
    with path.open("a") as handle:
        handle.write('{"type": "complete", "index": 0, "outc')  # the writer died here
    (op,) = list(operations(path))
    assert isinstance(op, Operation) and op.outcome is Outcome.UNKNOWN and op.completed is None


def test_the_history_survives_its_writer_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from harness.history import HistoryWriter, Deliver, Outcome\n"
        "h = HistoryWriter(Path(sys.argv[1]))\n"
        "for n in range(5):\n"
        "    i = h.invoke(Deliver(f'<{n}@x>', 's@x', ('a@example.com',), 1))\n"
        "    h.complete(i, Outcome.OK)\n"
        "h.invoke(Deliver('<last@x>', 's@x', ('a@example.com',), 1))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=False, timeout=60)
    ops = list(operations(path))
    assert [op.outcome for op in ops] == [Outcome.OK] * 5 + [Outcome.UNKNOWN]


def test_a_new_writer_continues_the_numbering(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as history:
        history.invoke(Provision("a@example.com", "pw"))
    with HistoryWriter(path) as history:
        assert history.invoke(Provision("b@example.com", "pw")) == 1
