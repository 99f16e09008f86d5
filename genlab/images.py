"""Writing images: sample grids as PNG (Pillow) and 2-D point clouds as scatter plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.files import atomic_write


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (H', W', C) uint8 grid with ``nrow`` images per row."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top:top + h, left:left + w] = images[i]
    return (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
    """Save (N, C, H, W) images in [0, 1] as one PNG grid, written atomically."""
    arr = make_grid(images, nrow)
    img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return _atomic_save(img, Path(path))


def save_points(points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None,
                title: str | None = None) -> Path:
    """Scatter plot of (N, 2) points, over ``reference`` points in grey when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        r = reference.detach().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.7", label="real")
    p = points.detach().cpu().numpy()
    ax.scatter(p[:, 0], p[:, 1], s=2, c="tab:red", label="generated")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    try:
        return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))
    finally:
        plt.close(fig)


def upscale_for_display(images: torch.Tensor) -> int:
    """Integer scale that makes small images (8x8 digits) visible in a grid."""
    h = images.shape[-1]
    return max(1, 64 // h) if h < 32 else 1


def _atomic_save(img: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
