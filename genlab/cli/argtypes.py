"""argparse value types shared by the sub-commands: every number through genlab.limits, with
its bounds on the type (the fuzz test reads them to make values just outside)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from genlab.errors import ConfigError
from genlab.limits import MAX_SEED, MAX_STEPS


def example(parser: argparse.ArgumentParser, *lines: str) -> argparse.ArgumentParser:
    """Working commands of this sub-command (RUN: a trained run, OUT: a new path), shown in its
    --help; the fuzz test (tests/cli/test_fuzz.py) breaks one argument of them at a time."""
    parser.epilog = "\n".join(f"example: genlab {line}" for line in lines)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.set_defaults(examples=lines)
    return parser


@dataclass(frozen=True)
class Int:
    lo: int
    hi: int

    def __call__(self, text: str) -> int:
        from genlab.limits import whole

        try:
            return whole(text, "value", self.lo, self.hi)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("value ")) from None

    @property
    def __name__(self) -> str:  # argparse names the type in some messages
        return "whole number"


@dataclass(frozen=True)
class Float:
    above: float
    hi: float

    def __call__(self, text: str) -> float:
        from genlab.limits import real

        try:
            return real(text, "value", hi=self.hi, above=self.above)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("value ")) from None

    @property
    def __name__(self) -> str:
        return "number"


seed_int = Int(0, MAX_SEED)
steps_int = Int(0, MAX_STEPS)
positive_int = Int(1, 2**31 - 1)
epochs_float = Float(0.0, 1e6)
threads_int = Int(1, 1024)
samples_int = Int(1, 10**7)  # memory is checked on top of this
importance_int = Int(1, 10**6)  # IWAE samples a test image; beyond it the bound moves less than its noise
grid_int = Int(1, 1000)
