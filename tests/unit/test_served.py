"""The served comparison's pure part (invariant 10): a folder as served against the same folder
as stored, one precise difference at a time gives exactly one finding with the expected
subject; the POP3 listing likewise; the FETCH answer is parsed as imaplib returns it; the
followed accounts are those the history touched, sampled with the seed at tier M and above."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from harness.checker.findings import ServedStateDiffers
from harness.checker.served import choose, diff_folder, diff_listing, followed, pop3_sample
from harness.checker.served_clients import FolderState, Message, Unreadable, parse_fetch
from harness.history import (
    Delete,
    Deliver,
    HistoryWriter,
    Outcome,
    Provision,
    Read,
    Seen,
    SetFlag,
)

WHO = "ann@example.com"
STORED = FolderState(
    "INBOX",
    1700000000,
    5,
    (
        Message(1, "<one@x>", frozenset({"\\Seen"})),
        Message(2, "<two@x>", frozenset()),
        Message(4, "<four@x>", frozenset({"\\Seen", "\\Flagged"})),
    ),
)


def _changed(uid: int, **changes: Any) -> FolderState:
    """STORED with the message `uid` changed (or dropped when `changes` is empty)."""
    messages = tuple(
        dataclasses.replace(m, **changes) if m.uid == uid and changes else m
        for m in STORED.messages
        if m.uid != uid or changes
    )
    return dataclasses.replace(STORED, messages=messages)


def test_a_folder_served_as_stored_has_no_difference() -> None:
    assert diff_folder(WHO, STORED, STORED) == []


@pytest.mark.parametrize(
    ("served", "subject", "words"),
    [
        (_changed(2), f"{WHO}/INBOX/2", "stored ('<two@x>', flags ()), not served"),
        (
            dataclasses.replace(
                STORED, messages=(*STORED.messages, Message(3, "<new@x>", frozenset()))
            ),
            f"{WHO}/INBOX/3",
            "served ('<new@x>', flags ()), not stored",
        ),
        (
            _changed(4, message_id="<other@x>"),
            f"{WHO}/INBOX/4",
            "Message-ID served '<other@x>', stored '<four@x>'",
        ),
        (
            _changed(1, flags=frozenset({"\\Seen", "\\Deleted"})),
            f"{WHO}/INBOX/1",
            "flags served (\\Deleted \\Seen), stored (\\Seen)",
        ),
        (dataclasses.replace(STORED, uidnext=4), f"{WHO}/INBOX", "UIDNEXT served 4, stored 5"),
        (
            dataclasses.replace(STORED, uidvalidity=1),
            f"{WHO}/INBOX",
            "UIDVALIDITY served 1, stored 1700000000",
        ),
    ],
    ids=["stored-only", "served-only", "message-id", "flags", "uidnext", "uidvalidity"],
)
def test_one_difference_is_one_finding_with_its_subject(
    served: FolderState, subject: str, words: str
) -> None:
    found = diff_folder(WHO, served, STORED)
    assert [(type(f), f.subject) for f in found] == [(ServedStateDiffers, subject)]
    assert words in found[0].detail


def test_a_message_differing_twice_is_one_finding_saying_both() -> None:
    served = _changed(4, message_id="<other@x>", flags=frozenset())
    (found,) = diff_folder(WHO, served, STORED)
    assert found.subject == f"{WHO}/INBOX/4"
    assert (
        "Message-ID served" in found.detail
        and "flags served (), stored (\\Flagged \\Seen)" in found.detail
    )


def test_a_stored_row_without_its_record_is_compared_by_uid_and_flags_only() -> None:
    unknown = dataclasses.replace(STORED, messages=(Message(1, None, frozenset({"\\Seen"})),))
    served = dataclasses.replace(STORED, messages=(Message(1, "<any@x>", frozenset({"\\Seen"})),))
    assert diff_folder(WHO, served, unknown) == []
    assert [f.subject for f in diff_folder(WHO, dataclasses.replace(served, messages=()), unknown)]


@pytest.mark.parametrize(
    ("served", "words"),
    [
        (["a", "b"], "stored, not served: c"),
        (["a", "b", "c", "d"], "served, not stored: d"),
        (["b", "a", "c"], "the same unique-ids in another order"),
    ],
    ids=["missing", "extra", "order"],
)
def test_a_pop3_listing_that_differs_is_one_finding(served: list[str], words: str) -> None:
    assert diff_listing(WHO, ["a", "b", "c"], ["a", "b", "c"]) == []
    (found,) = diff_listing(WHO, served, ["a", "b", "c"])
    assert found.subject == f"{WHO}/pop3" and words in found.detail


def test_the_fetch_answer_is_read_as_imaplib_returns_it() -> None:
    data: list[object] = [
        (
            b"2 (UID 7 FLAGS (\\Seen \\Recent $Junk) BODY[HEADER.FIELDS (MESSAGE-ID)] {24}",
            b"Message-ID: <b@x>\r\n\r\n",
        ),
        b")",
        (b"1 (UID 3 FLAGS () BODY[HEADER.FIELDS (MESSAGE-ID)] {2}", b"\r\n"),
        b")",
    ]
    assert parse_fetch(data) == (
        Message(3, "", frozenset()),
        Message(7, "<b@x>", frozenset({"\\Seen"})),
    )
    with pytest.raises(Unreadable, match="without UID or FLAGS"):
        parse_fetch([(b"1 (FLAGS (\\Seen) BODY[HEADER.FIELDS (MESSAGE-ID)] {2}", b"\r\n")])


def test_a_flags_only_fetch_answer_has_unknown_message_ids_that_never_differ() -> None:
    """After the restart the comparison fetches (UID FLAGS): no literal, Message-ID unknown,
    compared by UID and flags only."""
    data: list[object] = [b"1 (UID 3 FLAGS (\\Seen))", b"2 (UID 7 FLAGS ())"]
    served = parse_fetch(data)
    assert served == (Message(3, None, frozenset({"\\Seen"})), Message(7, None, frozenset()))
    stored = FolderState("INBOX", 5, 8, (Message(3, "<a@x>", frozenset({"\\Seen"})),))
    (found,) = diff_folder(WHO, FolderState("INBOX", 5, 8, served), stored)
    assert found.subject == f"{WHO}/INBOX/7" and "not stored" in found.detail


def test_the_followed_accounts_are_those_the_history_touched(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / "history.jsonl") as history:
        sent = Deliver("<m@x>", "s@partner.example", ("Bob@example.com", "eve@example.com"), 9)
        op = history.invoke(sent)
        history.complete(
            op, Outcome.OK, result=dataclasses.replace(sent, accepted=("Bob@example.com",))
        )
        history.invoke(Deliver("<n@x>", "s@partner.example", ("lost@example.com",), 9))  # unknown
        for target in (
            Read("carl@example.com", "pop3"),
            SetFlag("dana@example.com", "imap", "<m@x>", "\\Seen"),
            Delete("fay@example.com", "imap", ("<m@x>",)),
            Provision("new@example.com", "secret"),
        ):
            history.complete(history.invoke(target), Outcome.OK)
        history.seen(Seen("gil@example.com", "imap", "INBOX", 1, 2, (("1", "<m@x>"),)))
        history.event("phase", "verify")
    assert followed(tmp_path / "history.jsonl") == {
        "bob@example.com",
        "carl@example.com",
        "dana@example.com",
        "fay@example.com",
        "gil@example.com",
    }


def test_followed_accounts_are_sampled_with_the_seed_at_tier_m_and_above() -> None:
    addresses = {f"user{n}@example.com" for n in range(100)}
    assert choose(addresses, "S", 1) == sorted(addresses)  # below M: all of them
    sample = choose(addresses, "M", 1, limit=40)
    assert len(sample) == 40 and set(sample) <= addresses and sample == sorted(sample)
    assert choose(addresses, "m", 1, limit=40) == sample  # the same seed, the same sample
    assert choose(addresses, "L", 2, limit=40) != sample
    assert choose(set(sample[:5]), "M", 1, limit=40) == sample[:5]  # fewer than the limit
    assert len(pop3_sample(sample, 1)) == 3 and pop3_sample(sample, 1) <= set(sample)
    assert pop3_sample(sample[:2], 1) == set(sample[:2])
