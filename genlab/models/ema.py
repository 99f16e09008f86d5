"""An exponential moving average of a network's weights, for sampling (Yazici et al. 2019,
https://arxiv.org/abs/1806.04498), updated without a host sync.

theta_ema <- theta_ema + (1 - decay) (theta - theta_ema) by one ``torch._foreach_lerp_`` over every
floating-point parameter and buffer (batch-norm statistics too); the first update copies. Which
update is the first is the caller's step count, so unlike torch's ``AveragedModel`` (which tests a
device counter, two host syncs an update on a GPU) nothing is read back from the device.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """``module``: the averaged copy of the network given at construction."""

    def __init__(self, net: nn.Module, decay: float):
        super().__init__()
        self.module = copy.deepcopy(net).requires_grad_(False)
        self.decay = decay

    def _pairs(self, net: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor], list[tuple]]:
        ema = [*self.module.parameters(), *self.module.buffers()]
        src = [*net.parameters(), *net.buffers()]
        floats = [(e, s) for e, s in zip(ema, src) if e.is_floating_point()]
        others = [(e, s) for e, s in zip(ema, src) if not e.is_floating_point()]
        return [e for e, _ in floats], [s.detach() for _, s in floats], others

    @torch.no_grad()
    def update(self, net: nn.Module, first: bool = False) -> None:
        """Move the average towards ``net``'s current weights (copy them when ``first``)."""
        ema, src, others = self._pairs(net)
        torch._foreach_lerp_(ema, src, 1.0 if first else 1.0 - self.decay)
        for e, s in others:  # integer buffers (batch-norm's step counter): the network's own
            e.copy_(s)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
