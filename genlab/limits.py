"""Where numbers and memory requests enter genlab, they are checked here.

Every number a user gives (flag, ``key=value``, YAML, file) goes through :func:`whole` or
:func:`real`: a value past its type or its bounds is an error with the allowed range, never an
overflow deep inside. Every large allocation is estimated first with :func:`ensure_fits`.
"""

from __future__ import annotations

import math
import os
from typing import Any

from genlab.errors import ConfigError

INT64 = (-(2**63), 2**63 - 1)
MAX_STEPS = 10**12  # training steps, sample and checkpoint intervals
MAX_SEED = 2**32 - 1  # numpy's and most libraries' seed range


def whole(value: Any, what: str, lo: int = INT64[0], hi: int = INT64[1]) -> int:
    """``value`` (int, integral float, or text such as "1000", "1_000" or "1e3") as an int in [lo, hi]."""
    n = _as_int(value)
    if n is None or not lo <= n <= hi:
        span = " that fits in 64 bits" if (lo, hi) == INT64 else f" from {_show(lo)} to {_show(hi)}"
        raise ConfigError(f"{what} must be a whole number{span}, got {_text(value)}")
    return n


def real(value: Any, what: str, lo: float | None = None, hi: float | None = None, *,
         above: float | None = None) -> float:
    """``value`` as a finite float in [lo, hi] (and > ``above`` when given)."""
    x = _as_float(value)
    ok = (x is not None and math.isfinite(x) and (lo is None or x >= lo) and (hi is None or x <= hi)
          and (above is None or x > above))
    if not ok:
        bounds = " and ".join(filter(None, [f"> {_show(above)}" if above is not None else "",
                                        f">= {_show(lo)}" if lo is not None else "",
                                        f"<= {_show(hi)}" if hi is not None else ""]))
        raise ConfigError(f"{what} must be a finite number{' ' + bounds if bounds else ''}, got {_text(value)}")
    return x


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text.replace("_", "")) if len(text) <= 40 else None
        except ValueError:
            x = _as_float(text)  # "1e3": whole, exactly representable up to 2**53
            return int(x) if x is not None and math.isfinite(x) and x.is_integer() and abs(x) <= 2**53 else None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value.replace("_", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _show(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        x = int(x)
    return f"{x:,}".replace(",", "_") if isinstance(x, int) else f"{x:g}"


def _text(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- memory --------------------------------------------------------------------------------------

def available_bytes(device: Any = "cpu") -> int | None:
    """Memory free for a new allocation on ``device`` (RAM: MemAvailable), None if unknown."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        return torch.cuda.mem_get_info(device)[0]
    if kind != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def ensure_fits(nbytes: float, what: str, device: Any = "cpu", hint: str = "") -> None:
    """An error, before the allocation, when ``what`` (``nbytes``) cannot fit in free memory."""
    free = available_bytes(device)
    if free is not None and nbytes > free:
        raise ConfigError(f"{what} needs about {_gb(nbytes)} of memory; {_gb(free)} is free on {device}"
                          + (f" ({hint})" if hint else ""))


def _gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"
