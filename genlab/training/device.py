"""Device choice and seeding, with nothing that assumes a CPU."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from genlab.config import check_device
from genlab.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """auto -> cuda if available, else mps, else cpu; an explicit device must exist."""
    check_device(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name} requested but CUDA is not available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name} requested but only {torch.cuda.device_count()} CUDA devices exist")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name} requested but MPS is not available here; use --device cpu")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a torch.distributed job (only rank 0 writes files)."""
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def rank_and_world_size() -> tuple[int, int]:
    """(rank, world size) of a torch.distributed job (launched by torchrun), else (0, 1)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def idle_cores(window: float = 0.05) -> float | None:
    """Cores left idle by every other process, measured from /proc/stat over ``window`` seconds
    (Linux); None where that file does not exist."""
    import time

    def sample() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # total, idle + iowait

    a = sample()
    if a is None:
        return None
    time.sleep(window)
    b = sample()
    total = b[0] - a[0]
    return (b[1] - a[1]) / total * (os.cpu_count() or 1) if total > 0 else None


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def choose_threads(requested: int | None) -> tuple[int, str]:
    """Torch threads for a command and why: ``requested`` (``--threads``), else $GENLAB_THREADS,
    else one per core that other processes leave idle (at least 1). On a shared CPU a thread per
    core ran the VAE step 4 to 36 times slower than one thread (benchmarks/speed)."""
    if requested is not None:
        return requested, "--threads"
    env = os.environ.get("GENLAB_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ConfigError(f"GENLAB_THREADS must be a whole number, got {env!r}") from None
        if not 1 <= n <= 1024:
            raise ConfigError(f"GENLAB_THREADS must be between 1 and 1024, got {n}")
        return n, "GENLAB_THREADS"
    cores = usable_cores()
    idle = idle_cores()
    if idle is None:
        return cores, f"{cores} usable cores"
    n = max(1, min(cores, int(idle + 0.5)))
    return n, f"{cores} usable cores, {idle:.1f} idle"


def set_threads(requested: int | None) -> tuple[int, str]:
    """Apply :func:`choose_threads` to torch; returns (threads, reason)."""
    n, why = choose_threads(requested)
    torch.set_num_threads(n)
    return n, why
