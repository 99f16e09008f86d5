"""Paths through latent space: linear and spherical interpolation.

Spherical interpolation (Shoemake 1985; for GAN latents, White 2016, https://arxiv.org/abs/1609.04468)
keeps the norm of Gaussian latents near the shell where the prior puts its mass, while the
midpoint of a linear path is shorter than typical samples.
"""

from __future__ import annotations

import torch


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) z0 + t z1. z0, z1: (B, M); t: (T,) -> (B, T, M)."""
    t = t.view(1, -1, 1).to(z0)
    return (1 - t) * z0.unsqueeze(1) + t * z1.unsqueeze(1)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """sin((1 - t) w) / sin w * z0 + sin(t w) / sin w * z1, w the angle between z0 and z1.

    Falls back to lerp where the two are (anti)parallel. z0, z1: (B, M); t: (T,) -> (B, T, M).
    """
    t = t.view(1, -1, 1).to(z0)
    cos = torch.nn.functional.cosine_similarity(z0, z1, dim=-1).clamp(-1, 1).view(-1, 1, 1)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    safe = sin.abs() > eps
    w0 = torch.where(safe, torch.sin((1 - t) * omega) / sin.clamp_min(eps), 1 - t)
    w1 = torch.where(safe, torch.sin(t * omega) / sin.clamp_min(eps), t)
    return w0 * z0.unsqueeze(1) + w1 * z1.unsqueeze(1)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` points from z0 to z1 inclusive: (B, M), (B, M) -> (B, steps, M)."""
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    t = torch.linspace(0, 1, steps)
    if method == "lerp":
        return lerp(z0, z1, t)
    if method == "slerp":
        return slerp(z0, z1, t)
    raise ValueError(f"unknown interpolation method {method!r}; use lerp or slerp")
