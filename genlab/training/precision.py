"""Mixed precision for every model: autocast around the training step, one gradient scaler per
optimizer for fp16, fp32 master weights and optimizer state (torch.amp,
https://pytorch.org/docs/stable/amp.html).

The trainer owns a :class:`Precision`; a model's step calls :func:`backward_step` for each of its
optimizers, which scales the loss where fp16 needs it and is a plain backward + step otherwise.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from genlab.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes in bf16 natively, and the evidence."""
    if device.type == "cuda":
        major, _ = torch.cuda.get_device_capability(device)
        return major >= 8, f"CUDA compute capability {major}.x (bf16 from 8.0)"
    if device.type == "cpu":
        flags = _cpu_flags()
        found = sorted(flags & {"avx512_bf16", "amx_bf16"})
        if found:
            return True, f"CPU flags {', '.join(found)}"
        return False, "no avx512_bf16 or amx_bf16 CPU flag"
    return False, f"{device.type}: bf16 not assumed native"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def resolve(name: str, device: torch.device) -> tuple[str, str]:
    """(fp32 | bf16 | fp16, reason): ``auto`` becomes bf16 where the device runs it natively."""
    if name not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name == "auto":
        native, why = native_bf16(device)
        return ("bf16", f"auto: {why}") if native else ("fp32", f"auto: {why}")
    return name, "requested"


class Precision:
    """The training step's number format on one device."""

    def __init__(self, name: str, device: torch.device):
        self.name = name
        self.device = device
        self.dtype = _DTYPES.get(name)
        self.scalers: dict[str, torch.amp.GradScaler] = {}

    @property
    def mixed(self) -> bool:
        return self.dtype is not None

    def autocast(self) -> contextlib.AbstractContextManager:
        """Forward passes in the low precision where the op allows it (matmul, conv); fp32 else.

        It wraps a whole training step, in which optimizers update weights between forward
        passes (D, then G through D): :func:`backward_step` empties autocast's cache of
        low-precision weight copies after each update, or later passes would see old weights."""
        if not self.mixed:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def attach(self, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        """fp16: give every optimizer its own gradient scaler (their losses differ in scale)."""
        if self.name != "fp16":
            return
        for name, opt in optimizers.items():
            scaler = torch.amp.GradScaler(self.device.type)
            opt.grad_scaler = scaler  # read by backward_step
            self.scalers[name] = scaler

    def state_dict(self) -> dict:
        return {name: s.state_dict() for name, s in self.scalers.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, s in self.scalers.items():
            if name in state:
                s.load_state_dict(state[name])


def backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
    """zero_grad, backward and step of one optimizer; in fp16 through its gradient scaler (which
    skips the step when a gradient overflowed and adapts the scale, without a host sync for the
    fused Adam genlab uses)."""
    opt.zero_grad(set_to_none=True)
    scaler = getattr(opt, "grad_scaler", None)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    torch.clear_autocast_cache()  # the cached bf16/fp16 copies are of the weights before this step


def full_precision(device_type: str) -> contextlib.AbstractContextManager:
    """A region computed in fp32 even inside an autocast step (gradient penalties, likelihoods)."""
    return torch.autocast(device_type, enabled=False)
