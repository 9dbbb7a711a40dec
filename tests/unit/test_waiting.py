"""poll_until and poll_last: one loop, on a fake clock (no real sleeps)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness import waiting
from harness.errors import FiredrillError
from harness.waiting import WaitTimeout, poll_last, poll_until


class FakeClock:
    """Stands in for the `time` module inside harness.waiting: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(waiting, "time", fake)
    return fake


def returning(*values: object) -> Callable[[], object]:
    """A predicate giving `values` in turn, then the last one for ever."""
    items: Iterator[object] = iter(values)
    last: list[object] = [None]

    def predicate() -> object:
        last[0] = next(items, last[0])
        return last[0]

    return predicate


def test_a_truthy_value_is_returned_at_once_without_sleeping(clock: FakeClock) -> None:
    assert poll_until(lambda: 42, 5, 1, "the answer") == 42
    assert clock.sleeps == []


def test_the_first_truthy_value_is_returned_and_no_sleep_follows_it(clock: FakeClock) -> None:
    assert poll_until(returning(None, 0, "", "ready", "later"), 10, 0.5, "x") == "ready"
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_the_interval_separates_calls_until_the_timeout(clock: FakeClock) -> None:
    calls: list[float] = []

    def never() -> bool:
        calls.append(clock.now)
        return False

    assert poll_last(never, 1.0, 0.25) is False
    assert [round(t - 1000, 2) for t in calls] == [0, 0.25, 0.5, 0.75, 1.0]
    assert sum(clock.sleeps) == pytest.approx(1.0)


def test_the_last_sleep_is_cut_to_reach_the_deadline_and_the_condition_is_checked_there(
    clock: FakeClock,
) -> None:
    calls: list[float] = []

    def at_deadline() -> bool:
        calls.append(clock.now)
        return clock.now >= 1001.0

    assert poll_until(at_deadline, 1.0, 0.375, "the deadline") is True
    assert clock.sleeps == [0.375, 0.375, 0.25]


def test_the_timeout_message_names_the_hint_the_timeout_and_the_last_value(
    clock: FakeClock,
) -> None:
    with pytest.raises(WaitTimeout) as caught:
        poll_until(returning([3], [2]), 20, 1, "the queue to empty", done=lambda v: not v)
    error = caught.value
    assert str(error) == "timed out after 20s waiting for the queue to empty; last seen: [2]"
    assert (error.hint, error.timeout, error.last_seen) == ("the queue to empty", 20, "[2]")
    assert isinstance(error, FiredrillError)


def test_describe_words_what_was_last_seen(clock: FakeClock) -> None:
    seen = r"after 2s waiting for the spool to drain; last seen: 3 queued message\(s\) still"
    with pytest.raises(WaitTimeout, match=seen):
        poll_until(
            lambda: ["a", "b", "c"],
            2,
            0.5,
            "the spool to drain",
            done=lambda left: not left,
            describe=lambda left: f"{len(left)} queued message(s) still there",
        )


@pytest.mark.parametrize("last", [None, False])
def test_a_bare_not_yet_adds_no_last_seen(clock: FakeClock, last: object) -> None:
    with pytest.raises(WaitTimeout) as caught:
        poll_until(lambda: last, 1, 0.5, "the server to stop")
    assert str(caught.value) == "timed out after 1s waiting for the server to stop"


def test_poll_last_returns_the_last_value_seen_on_timeout(clock: FakeClock) -> None:
    assert poll_last(returning(5, 4, 3, 2), 1, 0.5, done=lambda n: n == 0) == 3


def test_the_predicate_is_called_once_even_with_no_time_left(clock: FakeClock) -> None:
    calls = returning(None)
    assert poll_last(calls, 0, 1) is None
    assert poll_last(lambda: "now", -1, 1) == "now"
    assert clock.sleeps == []


def test_an_error_in_the_predicate_ends_the_wait(clock: FakeClock) -> None:
    def exited() -> bool:
        raise FiredrillError("the child exited")

    with pytest.raises(FiredrillError, match="the child exited"):
        poll_until(exited, 10, 1, "the child to listen")
    assert clock.sleeps == []


def test_a_negative_interval_is_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="interval"):
        poll_last(lambda: False, 1, -0.1)


def test_on_the_real_clock_a_short_wait_times_out_after_its_timeout() -> None:
    import time

    started = time.monotonic()
    with pytest.raises(WaitTimeout):
        poll_until(lambda: False, 0.05, 0.01, "nothing")
    assert 0.05 <= time.monotonic() - started < 1.0
