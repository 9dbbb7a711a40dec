"""Tests for the seeded RFC 5322 mail generator in fixtures.mail."""

from __future__ import annotations

import base64
import datetime
import email
import email.policy
import random
import re
import statistics
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.mail import MAX_MESSAGE_SIZE, MIN_MESSAGE_SIZE, MailFactory, message_size

DATE = datetime.datetime(
    2024, 5, 14, 10, 23, 45, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
)
ATTACHMENT_MAGIC = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK\x03\x04",
    "application/zip": b"PK\x03\x04",
}


@pytest.fixture(scope="module")
def factory() -> MailFactory:
    return MailFactory(1234)


def recipients(n: int) -> list[str]:
    return [f"user{i}@example.net" for i in range(n)]


def compose(
    factory: MailFactory,
    index: int,
    size: int,
    n_recipients: int = 2,
    thread_subject: str | None = None,
) -> bytes:
    return factory.compose(
        index,
        sender="alice@example.org",
        sender_name="Dr. Alice O'Neil",
        recipients=recipients(n_recipients),
        date=DATE,
        size=size,
        thread_subject=thread_subject,
    )


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def assert_no_defects(msg: EmailMessage) -> None:
    for part in msg.walk():
        assert not part.defects, part.defects
        if not part.is_multipart():
            part.get_content()  # decoding registers transfer-encoding defects
            assert not part.defects, part.defects
        for name, value in part.items():
            assert not getattr(value, "defects", ()), (name, value.defects)


def within_tolerance(actual: int, target: int) -> bool:
    return abs(actual - target) <= max(600, target // 10)


def test_same_seed_and_index_give_identical_bytes(factory: MailFactory) -> None:
    twin = MailFactory(1234)
    for index, size in [(0, 600), (1, 5000), (2, 40_000), (3, 300_000), (99, 9000)]:
        assert compose(factory, index, size) == compose(twin, index, size)
    assert twin.message_id(7) == factory.message_id(7)


def test_messages_and_people_do_not_depend_on_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faker's date helpers draw from [1970, now]: a seed would give other subjects a second
    later (seen: "Meeting on Monday at 02:21" / "02:22" from two runs of the same seed)."""
    import faker.providers.date_time

    from fixtures.people import generate

    def clock_bound(*args: object, **kwargs: object) -> float:
        raise AssertionError("a Faker helper that depends on the current time was used")

    monkeypatch.setattr(faker.providers.date_time.Provider, "unix_time", clock_bound)
    factory = MailFactory(77)
    for index in range(200):
        compose(factory, index, 700 + 131 * index)
    assert len(list(generate(30, seed=77, created=1_700_000_000))) == 30


def test_different_seeds_give_different_messages(factory: MailFactory) -> None:
    other = MailFactory(4321)
    assert compose(factory, 5, 5000) != compose(other, 5, 5000)
    assert factory.message_id(5) != other.message_id(5)


def test_different_indices_give_different_messages(factory: MailFactory) -> None:
    assert compose(factory, 1, 5000) != compose(factory, 2, 5000)


def test_messages_do_not_depend_on_generation_order(factory: MailFactory) -> None:
    sizes = {i: 700 + 997 * i for i in range(40)}
    forward = {i: compose(factory, i, sizes[i]) for i in sorted(sizes)}
    fresh = MailFactory(1234)
    order = list(sizes)
    random.Random(0).shuffle(order)
    shuffled = {i: compose(fresh, i, sizes[i]) for i in order}
    assert forward == shuffled


def test_message_ids_are_unique_and_match_the_header(factory: MailFactory) -> None:
    ids = {factory.message_id(i) for i in range(5000)}
    assert len(ids) == 5000
    other = MailFactory(99)
    assert ids.isdisjoint(other.message_id(i) for i in range(5000))
    for index in (0, 17, 4999):
        mid = factory.message_id(index)
        assert re.fullmatch(r"[0-9a-f]+\.\d+@[a-z0-9.-]+", mid)
        assert parse(compose(factory, index, 3000))["Message-ID"] == f"<{mid}>"


@pytest.mark.parametrize(
    "size", [MIN_MESSAGE_SIZE, 1000, 2500, 4096, 12_000, 13_000, 65_536, 500_000, MAX_MESSAGE_SIZE]
)
def test_generated_size_is_close_to_target(factory: MailFactory, size: int) -> None:
    indices = range(3) if size > 100_000 else range(30)
    for index in indices:
        data = compose(factory, index, size, n_recipients=1 + index % 4)
        assert within_tolerance(len(data), size), (index, len(data))


def test_size_distribution_looks_like_real_mail() -> None:
    rng = random.Random(42)
    sizes = [message_size(rng) for _ in range(5000)]
    assert 3000 <= statistics.median(sizes) <= 5500
    assert 0.85 <= sum(s < 65_536 for s in sizes) / len(sizes) <= 0.95
    assert max(sizes) <= MAX_MESSAGE_SIZE
    assert min(sizes) >= MIN_MESSAGE_SIZE
    assert max(sizes) > 1_000_000  # a real tail


def test_message_size_is_deterministic_for_a_seeded_rng() -> None:
    first = [message_size(random.Random(3)) for _ in range(3)]
    assert len(set(first)) == 1


def test_generated_messages_parse_without_defects(factory: MailFactory) -> None:
    rng = random.Random(7)
    kinds: set[str] = set()
    for index in range(200):
        size = min(message_size(rng), 96 * 1024)
        thread = "Budget review" if index % 5 == 0 else None
        data = compose(factory, index, size, n_recipients=1 + index % 8, thread_subject=thread)
        msg = parse(data)
        assert_no_defects(msg)
        assert within_tolerance(len(data), size), (index, size, len(data))
        kinds.add(msg.get_content_type())
    assert kinds == {"text/plain", "multipart/mixed", "multipart/alternative"}


def test_large_messages_are_mostly_multipart_mixed_with_base64_attachments(
    factory: MailFactory,
) -> None:
    mixed = 0
    for index in range(80):
        data = compose(factory, index, 20_000 + 1500 * index)
        msg = parse(data)
        if msg.get_content_type() != "multipart/mixed":
            assert msg.get_content_type() == "text/plain"
            continue
        mixed += 1
        parts = list(msg.iter_parts())
        assert parts[0].get_content_type() == "text/plain"
        attachments = list(msg.iter_attachments())
        assert 1 <= len(attachments) <= 3
        for part in attachments:
            assert isinstance(part, EmailMessage)
            assert part["Content-Transfer-Encoding"] == "base64"
            assert part.get_filename()
            raw = part.get_payload(decode=False)
            assert isinstance(raw, str)
            lines = raw.splitlines()
            assert all(len(line) == 76 for line in lines[:-1])
            assert 0 < len(lines[-1]) <= 76
            content = base64.b64decode("".join(lines), validate=True)
            assert content.startswith(ATTACHMENT_MAGIC[part.get_content_type()])
            assert part.get_content() == content
            assert not part.defects
    assert 0.65 <= mixed / 80 <= 0.95


def test_some_small_messages_are_multipart_alternative_with_html(factory: MailFactory) -> None:
    kinds = [parse(compose(factory, i, 6000)).get_content_type() for i in range(300)]
    share = kinds.count("multipart/alternative") / len(kinds)
    assert 0.04 <= share <= 0.18
    assert set(kinds) == {"text/plain", "multipart/alternative"}
    index = kinds.index("multipart/alternative")
    msg = parse(compose(factory, index, 6000))
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "text/html"]


def test_headers_only_use_loopback_addresses(factory: MailFactory) -> None:
    for index in range(120):
        data = compose(factory, index, 1000 + 300 * index)
        header_block = data.split(b"\n\n", 1)[0].decode()
        addresses = re.findall(r"\d+\.\d+\.\d+\.\d+", header_block)
        assert addresses
        assert all(re.fullmatch(r"127\.0\.0\.\d{1,3}", a) for a in addresses), addresses
        assert all(0 < int(a.rsplit(".", 1)[1]) < 255 for a in addresses)
        assert 1 <= len(parse(data).get_all("Received", [])) <= 2


def test_more_than_four_recipients_spill_into_cc(factory: MailFactory) -> None:
    for index in range(20):
        msg = parse(compose(factory, index, 4000, n_recipients=12))
        to = [a.addr_spec for a in msg["To"].addresses]
        cc = [a.addr_spec for a in msg["Cc"].addresses]
        assert 1 <= len(to) <= 4
        assert to + cc == recipients(12)


def test_few_recipients_are_all_in_to(factory: MailFactory) -> None:
    msg = parse(compose(factory, 3, 4000, n_recipients=4))
    assert [a.addr_spec for a in msg["To"].addresses] == recipients(4)
    assert msg["Cc"] is None


def test_headers_carry_sender_date_and_mime_version(factory: MailFactory) -> None:
    msg = parse(compose(factory, 11, 4000))
    assert msg["Return-Path"] == "<alice@example.org>"
    assert msg["From"].addresses[0].display_name == "Dr. Alice O'Neil"
    assert msg["From"].addresses[0].addr_spec == "alice@example.org"
    assert msg["Date"].datetime == DATE
    assert msg["MIME-Version"] == "1.0"
    assert msg["Subject"]


def test_a_few_messages_carry_rfc2047_subjects_and_8bit_bodies(factory: MailFactory) -> None:
    found = []
    for index in range(1000):
        data = compose(factory, index, 1500)
        if b"=?utf-8?b?" in data.split(b"\n\n", 1)[0]:
            found.append((index, data))
    assert 10 <= len(found) <= 55  # about 3 %
    for _index, data in found[:5]:
        msg = parse(data)
        assert_no_defects(msg)
        assert not str(msg["Subject"]).isascii()
        assert msg["Content-Transfer-Encoding"] == "8bit"
        assert not msg.get_content().isascii()


def test_thread_subject_becomes_a_reply_or_forward(factory: MailFactory) -> None:
    subjects = {
        str(parse(compose(factory, i, 3000, thread_subject="Offsite plans"))["Subject"])
        for i in range(60)
    }
    plain = {s.split(" – ")[0] for s in subjects}  # drop any non-ASCII decoration
    assert plain == {"Re: Offsite plans", "Fwd: Offsite plans"}
    again = parse(compose(factory, 1, 3000, thread_subject="Re: Offsite plans"))["Subject"]
    assert not str(again).startswith(("Re: Re:", "Fwd: Re:"))


def test_lines_use_lf_and_stay_within_limits(factory: MailFactory) -> None:
    for index in range(50):
        data = compose(factory, index, 500 + 700 * index, n_recipients=1 + index % 9)
        assert b"\r" not in data
        assert data.endswith(b"\n")
        assert max(len(line) for line in data.split(b"\n")) <= 100


def test_header_values_with_line_breaks_are_rejected(factory: MailFactory) -> None:
    with pytest.raises(ValueError, match="line break"):
        factory.compose(
            0,
            sender="a@example.org",
            sender_name="Eve\nBcc: victim@example.org",
            recipients=["b@example.org"],
            date=DATE,
            size=1000,
        )


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 10**9), size=st.integers(MIN_MESSAGE_SIZE, 100_000))
def test_any_index_and_size_gives_a_clean_message_near_the_target(index: int, size: int) -> None:
    factory = _shared_factory()
    data = compose(factory, index, size, n_recipients=1 + index % 6)
    assert_no_defects(parse(data))
    assert within_tolerance(len(data), size)


_FACTORIES: dict[int, MailFactory] = {}


def _shared_factory() -> MailFactory:
    if 1234 not in _FACTORIES:
        _FACTORIES[1234] = MailFactory(1234)
    return _FACTORIES[1234]
