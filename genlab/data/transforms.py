"""Array -> tensor conversion, splits, resizing, channel conversion and test-set binarisation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luminance weights
_CHUNK = 4096  # images resized at a time, to bound temporary memory


def split_indices(n: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed seeded permutation of range(n): (first n - n_test indices, last n_test indices)."""
    perm = np.random.default_rng(seed).permutation(n)
    return perm[: n - n_test], perm[n - n_test :]


def ten_percent(n: int) -> int:
    """Test-set size for an n-item set: 10%, at least 1 when n >= 2."""
    return max(1, round(0.1 * n)) if n >= 2 else 0


def to_float(arr: np.ndarray, scale: float = 255.0) -> torch.Tensor:
    """Any numeric array -> contiguous float32 tensor divided by ``scale`` (uint8 images -> [0, 1])."""
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).div_(scale)


def to_labels(arr: np.ndarray) -> torch.Tensor:
    """int64 (N,) tensor."""
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64))


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of float (N, C, H, W) in [0, 1] to (N, C, size, size)."""
    if x.shape[-2:] == (size, size):
        return x
    out = torch.empty((x.shape[0], x.shape[1], size, size), dtype=x.dtype)
    for start in range(0, len(x), _CHUNK):
        chunk = x[start : start + _CHUNK]
        out[start : start + _CHUNK] = F.interpolate(chunk, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, channels, H, W): grey -> RGB by repeating, RGB -> grey by luminance."""
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1 and channels == 3:
        return x.repeat(1, 3, 1, 1)
    if x.shape[1] == 3 and channels == 1:
        weights = torch.tensor(_LUMA, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * weights).sum(dim=1, keepdim=True).clamp_(0.0, 1.0)
    raise ValueError(f"cannot convert {x.shape[1]} channels to {channels}")


def binarize(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One fixed Bernoulli draw of every pixel of x in [0, 1] (values exactly 0.0 or 1.0)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.bernoulli(x, generator=gen)
