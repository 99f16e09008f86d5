"""argparse value types shared by the sub-commands: a bad number is one clear usage error."""

from __future__ import annotations

import argparse


def _number(text: str, cast: type, what: str):
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    v = _number(text, int, "a whole number")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {v}")
    return v


def nonneg_int(text: str) -> int:
    v = _number(text, int, "a whole number")
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {v}")
    return v


def positive_float(text: str) -> float:
    v = _number(text, float, "a number")
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return v


def threads_int(text: str) -> int:
    v = _number(text, int, "a whole number")
    if not 1 <= v <= 1024:
        raise argparse.ArgumentTypeError(f"expected a number of threads from 1 to 1024, got {v}")
    return v
