"""Argument types of the command lines: each turns a string into a value or raises
argparse.ArgumentTypeError (argparse prints it as a one-line usage error, exit 2)."""

from __future__ import annotations

import argparse
import math


def natural(text: str) -> int:
    """An integer of at least 0 (a seed)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def positive(text: str) -> int:
    """An integer of at least 1 (a count)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def finite(text: str) -> float:
    """A finite number (`nan` would silently disable every comparison, `inf` every scale)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def fraction(text: str) -> float:
    """A finite number of at least 0 (a margin)."""
    value = finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value
