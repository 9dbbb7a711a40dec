"""Waiting for a condition: one polling loop, with a hint in the timeout error.

`poll_until` calls a predicate until it is satisfied and raises `WaitTimeout` (saying what was
awaited, for how long, and what was last seen) when time runs out; `poll_last` runs the same
loop for callers that record a timeout instead of failing, and returns the last value seen.

Times are in seconds on the monotonic clock. The predicate is always called at least once, and
once more when the timeout is reached, so a condition that holds at the deadline is not
missed. No sleep follows a satisfied call. An exception raised by the predicate is not retried:
it ends the wait and propagates (a predicate raises to give up early, e.g. when the child it
waits for has exited).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from harness.errors import FiredrillError

T = TypeVar("T")


class WaitTimeout(FiredrillError):
    """A condition did not hold within its timeout; the message says what was awaited (`hint`),
    the timeout in seconds, and what was last seen (`last_seen`, "" when nothing useful)."""

    def __init__(self, hint: str, timeout: float, last_seen: str = "") -> None:
        message = f"timed out after {timeout:g}s waiting for {hint}"
        super().__init__(f"{message}; last seen: {last_seen}" if last_seen else message)
        self.hint = hint
        self.timeout = timeout
        self.last_seen = last_seen


def poll_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float,
    hint: str,
    *,
    done: Callable[[T], object] = bool,
    describe: Callable[[T], str] | None = None,
) -> T:
    """Call `predicate()` every `interval` seconds until `done(value)` holds (by default: until
    the value is truthy) and return that value; after `timeout` seconds raise `WaitTimeout`.

    `hint` names what is awaited ("the spool to drain"); `describe(last value)` says what was
    last seen. Without `describe` the last value's repr is shown, unless it is None or False
    (nothing to tell beyond "not yet").
    """
    satisfied, value = _poll(predicate, timeout, interval, done)
    if satisfied:
        return value
    if describe is not None:
        seen = describe(value)
    else:
        seen = "" if value is None or value is False else repr(value)
    raise WaitTimeout(hint, timeout, seen)


def poll_last(
    predicate: Callable[[], T],
    timeout: float,
    interval: float,
    *,
    done: Callable[[T], object] = bool,
) -> T:
    """Like `poll_until`, but never raises for the timeout: the value `predicate()` last
    returned, which satisfies `done` unless `timeout` seconds passed first (for a truthy-test
    predicate returning `X | None`, None means "timed out")."""
    return _poll(predicate, timeout, interval, done)[1]


def _poll(
    predicate: Callable[[], T], timeout: float, interval: float, done: Callable[[T], object]
) -> tuple[bool, T]:
    """The loop: (whether `done` held, the last value)."""
    if interval < 0:
        raise ValueError(f"poll interval must not be negative: {interval}")
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if done(value):
            return True, value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, value
        time.sleep(min(interval, remaining))
