"""Progress lines for long phases, on stderr, rate-limited, silent when asked."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """`with Progress("populate", total=n, unit="msg") as p: p.advance()`."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "",
        stream: TextIO | None = None,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self._tty = self.stream.isatty()
        self._interval = 0.5 if self._tty else 5.0
        self._start = self._last = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        now = time.monotonic()
        if self.enabled and now - self._last >= self._interval:
            self._last = now
            self._emit(final=False)

    def _emit(self, *, final: bool) -> None:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        line = (
            f"{self.label}: {self.done:,}{of} {self.unit}{pct}, "
            f"{self.done / elapsed:,.0f} {self.unit}/s, {elapsed:.1f}s"
        )
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.enabled and (exc_type is None) and (self._tty or self.done):
            self._emit(final=True)
