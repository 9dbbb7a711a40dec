"""The history is append-only, typed, and readable after its writer died mid-line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import FiredrillError
from harness.history import (
    Delete,
    Deliver,
    HistoryWriter,
    Operation,
    Outcome,
    Provision,
    operations,
    read_history,
    validate_history,
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


def test_a_new_writer_after_a_torn_line_truncates_it_and_the_file_stays_readable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as history:
        history.invoke(Provision("a@example.com", "pw"))
    whole = path.read_bytes()
    with path.open("a") as handle:
        handle.write('{"type": "complete", "index": 0, "outc')  # the writer was killed here
    with HistoryWriter(path) as history:
        assert history.invoke(Provision("b@example.com", "pw")) == 1
    assert path.read_bytes().startswith(whole)
    ops = list(operations(path))
    assert [(op.index, op.outcome) for op in ops] == [(0, Outcome.UNKNOWN), (1, Outcome.UNKNOWN)]
    assert isinstance(ops[1].target, Provision) and ops[1].target.address == "b@example.com"


def test_a_new_writer_keeps_a_whole_last_record_that_only_lacks_its_newline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as history:
        index = history.invoke(Provision("a@example.com", "pw"))
        history.complete(index, Outcome.OK)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    with HistoryWriter(path) as history:
        history.invoke(Provision("b@example.com", "pw"))
    assert [op.outcome for op in operations(path)] == [Outcome.OK, Outcome.UNKNOWN]


def test_a_torn_history_without_any_whole_line_is_emptied_by_a_new_writer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text('{"type": "inv')
    with HistoryWriter(path) as history:
        assert history.invoke(Provision("a@example.com", "pw")) == 0
    assert len(list(operations(path))) == 1


_INVOKE = (
    '{"type":"invoke","index":0,"worker":0,"mono":1.0,"wall":1.0,'
    '"target":{"kind":"provision","address":"a@example.com","password":"pw","mailbox":""}}'
)
_COMPLETE = '{"type":"complete","index":0,"outcome":"ok","mono":2.0,"wall":2.0,"error":""}'
_EVENT = '{"type":"event","kind":"fault","name":"kill","mono":3.0,"wall":3.0,"detail":{}}'


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"type": "complete", "index": 0, "outc', "not JSON"),
        ('{"type":"complete","index":0,"mono":2.0,"wall":2.0}', "no field 'outcome'"),
        (_COMPLETE.replace('"ok"', '"maybe"'), "'maybe' is not a valid Outcome"),
        (_INVOKE.replace('"index":0,', '"index":1,').replace("provision", "teleport"), "kind"),
        ('{"type":"checkpoint","mono":1.0,"wall":1.0}', "unknown record type 'checkpoint'"),
        ("[1, 2]", "not an object"),
        (_EVENT.replace('"detail":{}', '"detail":[]'), "detail"),
    ],
    ids=["torn", "missing-field", "bad-outcome", "unknown-kind", "unknown-type", "list", "detail"],
)
def test_a_malformed_line_in_the_middle_is_one_error_naming_file_and_line(
    bad: str, reason: str, tmp_path: Path
) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([_INVOKE, bad, _COMPLETE, _EVENT]) + "\n")
    with pytest.raises(FiredrillError) as caught:
        validate_history(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: not a history record") and reason in message, message
    assert "\n" not in message
    with pytest.raises(FiredrillError, match=":2: "):
        HistoryWriter(path)


def test_a_well_formed_history_validates(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([_INVOKE, _COMPLETE, _EVENT]) + "\n")
    validate_history(path)
    assert [type(i).__name__ for i in read_history(path)] == ["Operation", "Event"]
