"""The course's 2-D GAN pictures: real vs generated points over the discriminator's output.

One frame (:func:`draw_field`) shows, over the plane around the real data,

- D's output as a heat map: sigmoid(D(x)) in [0, 1] for the cross-entropy losses (ns, minimax),
  with a diverging colour map centred at 1/2 (D's decision boundary); the raw score for the other
  losses (ls, hinge: diverging around the boundary; wgan, wgan-gp: a critic is defined up to a
  constant, so colour limits come from the 2nd and 98th percentiles);
- the gradient field grad_x D(x) of the raw score (the logit for ns/minimax, the critic for wgan)
  as arrows on a coarser grid: where the generator's samples are pushed (up to the loss's factor,
  e.g. (1 - sigmoid(D)) for ns: Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661; exactly
  for wgan: Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875);
- the real points and the generated points in two colours.

:func:`make_gif` strings frames into an animation of a training run. Files are written atomically
(genlab.files.atomic_write), with matplotlib's Agg backend; figures are always closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

BCE_LOSSES = ("ns", "minimax")
FIGSIZE, DPI = (5.0, 4.4), 100  # every frame of a run has the same size: 500 x 440 pixels
MARGIN = 0.15  # of the real data's extent, on each side
QUIVER = 21  # arrows per side

Field = Callable[[torch.Tensor], torch.Tensor]


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (safe in threads, servers and tests)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, **savefig) -> Path:
    """Save a matplotlib figure atomically and close it."""
    from genlab.files import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = savefig.pop("format", path.suffix.lstrip(".") or "png")
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig))
    finally:
        pyplot().close(fig)


# -- the field ------------------------------------------------------------------------------------


def data_bounds(points: torch.Tensor, margin: float = MARGIN) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): a square around (N, 2) points, their extent plus ``margin`` on each side
    (a square so that the equal-aspect plot fills the frame)."""
    p = points.detach().float().cpu()
    lo, hi = p.min(0).values, p.max(0).values
    centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2
    half = half * (1 + 2 * margin) if half > 0 else 1.0
    return (float(centre[0]) - half, float(centre[0]) + half, float(centre[1]) - half, float(centre[1]) + half)


def grid(bounds: tuple[float, float, float, float], n: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """An n x n grid over bounds: X, Y (n, n) and the points (n*n, 2) float32, row-major in y."""
    xs = np.linspace(bounds[0], bounds[1], n)
    ys = np.linspace(bounds[2], bounds[3], n)
    X, Y = np.meshgrid(xs, ys)
    pts = torch.from_numpy(np.stack([X.ravel(), Y.ravel()], 1).astype(np.float32))
    return X, Y, pts


def gradient(field: Field, points: torch.Tensor, grad_field: Field | None = None) -> torch.Tensor:
    """grad_x field(x) at points (K, 2) -> (K, 2).

    ``grad_field`` when given; else autograd through ``field`` (called on a tensor that requires
    grad); if its output carries no graph (e.g. a ``torch.no_grad`` method such as ``GAN.field``),
    central differences (f(x + h e_i) - f(x - h e_i)) / 2h with h = 1e-3 times the points' extent.
    """
    if grad_field is not None:
        return grad_field(points).detach().float().cpu()
    x = points.clone().requires_grad_(True)
    with torch.enable_grad():
        out = field(x)
        if out.requires_grad:
            (g,) = torch.autograd.grad(out.sum(), x)
            return g.detach().float().cpu()
    h = 1e-3 * max(float((points.max(0).values - points.min(0).values).max()), 1e-6)
    cols = []
    for i in range(points.shape[1]):
        e = torch.zeros_like(points)
        e[:, i] = h
        cols.append((_eval(field, points + e) - _eval(field, points - e)) / (2 * h))
    return torch.stack(cols, 1)


def _eval(field: Field, points: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return field(points).detach().float().cpu().reshape(-1)


def _heat(scores: np.ndarray, loss: str, centre: float | None):
    """(values shown, norm, colour map, colour-bar label) for D's scores on the grid."""
    from matplotlib import colors

    if loss in BCE_LOSSES:  # sigmoid(s) = (1 + tanh(s/2)) / 2, without overflow
        return 0.5 * (1 + np.tanh(scores / 2)), colors.Normalize(0, 1), "RdBu_r", "D(x) = sigmoid(score)"
    if loss in ("wgan", "wgan-gp"):
        lo, hi = np.percentile(scores, [2, 98])
        hi = hi if hi > lo else lo + 1e-6
        return scores, colors.Normalize(lo, hi), "cividis", "critic f(x) (2nd-98th percentile)"
    if centre is None:  # ls: between the default labels a = 0 and b = 1; hinge: at 0
        centre = 0.5 if loss == "ls" else 0.0
    half = max(float(np.percentile(np.abs(scores - centre), 98)), 1e-6)
    return scores, colors.Normalize(centre - half, centre + half), "RdBu_r", "D(x), raw score"


def draw_field(path: str | Path, real: torch.Tensor, fake: torch.Tensor, field: Field | None, *,
               title: str = "", loss: str = "ns", bounds: tuple[float, float, float, float] | None = None,
               resolution: int = 100, grad_field: Field | None = None, centre: float | None = None) -> Path:
    """One PNG (500 x 440 pixels) of real (N, 2) and generated (M, 2) points over D's output.

    field: x (K, 2) -> D's raw score (K,) at data-space points (``GAN.field``), or None for the
    points alone. The arrows are grad_x of that score, see :func:`gradient` (``grad_field`` gives
    them directly, e.g. ``lambda x: field_and_grad(model, x)[1]``). bounds: (x0, x1, y0, y1),
    default :func:`data_bounds` of the real points, so every frame of a run shares its axes.
    loss: the GAN loss (``model.config.loss``), which decides how the score is coloured; centre:
    the score at the middle of the diverging colour map for ls/hinge (default (a + b)/2 = 0.5, 0).
    """
    plt = pyplot()
    bounds = bounds or data_bounds(real)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)  # fixed margins: a layout engine doubles the drawing time
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.93)
    if field is not None:
        X, Y, pts = grid(bounds, resolution)
        values, norm, cmap, label = _heat(_eval(field, pts).numpy().reshape(X.shape), loss, centre)
        mesh = ax.pcolormesh(X, Y, values, norm=norm, cmap=cmap, shading="auto", alpha=0.85)
        fig.colorbar(mesh, ax=ax, shrink=0.85, label=label)
        if loss in BCE_LOSSES and values.min() < 0.5 < values.max():
            ax.contour(X, Y, values, levels=[0.5], colors="k", linewidths=0.8, linestyles="--")
            ax.plot([], [], "k--", lw=0.8, label=r"$D(x) = 1/2$")
        QX, QY, qpts = grid(bounds, QUIVER)
        g = gradient(field, qpts, grad_field).numpy()
        ax.quiver(QX, QY, g[:, 0].reshape(QX.shape), g[:, 1].reshape(QX.shape), color="0.15",
                  alpha=0.7, width=0.003, pivot="mid", label=r"$\nabla_x D(x)$")
    r, f = real.detach().float().cpu().numpy(), fake.detach().float().cpu().numpy()
    dots = dict(s=5, edgecolors="k", linewidths=0.15)
    ax.scatter(r[:, 0], r[:, 1], c="tab:green", label=r"real $x \sim p_r$", zorder=3, **dots)
    ax.scatter(f[:, 0], f[:, 1], c="tab:orange", label=r"generated $G(z)$", zorder=4, **dots)
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=4, fontsize=7, markerscale=2,
              frameon=False, handlelength=1.2, columnspacing=1.0)
    ax.set_title(title or "real vs generated over D", fontsize=10)
    return save_figure(fig, path)


def field_and_grad(model, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D's raw score (K,) and its gradient w.r.t. the data-space points (K, 2), on the CPU.

    ``GAN.field`` runs under ``torch.no_grad``; this is the same computation (to model space by
    ``model.to_model``, each point packed with copies of itself for a packed D, ``model.critic``)
    with autograd on the input only: D's parameters get no ``.grad``.
    """
    x = points.detach().to(model.device, torch.float32).requires_grad_(True)
    with torch.enable_grad():
        xm = model.to_model(x)
        p = model.config.pack
        if p > 1:
            xm = xm.repeat_interleave(p, dim=0)
        score = model.critic(xm)
        (g,) = torch.autograd.grad(score.sum(), x)
    return score.detach().cpu(), g.detach().cpu()


def draw_model_field(path: str | Path, model, real: torch.Tensor, fake: torch.Tensor, *, title: str = "",
                     bounds: tuple[float, float, float, float] | None = None) -> Path:
    """:func:`draw_field` for a GAN on 2-D points: its ``field``, exact gradients by
    :func:`field_and_grad`, coloured by ``model.config.loss``. Call with the model in eval mode."""
    c = model.config
    return draw_field(path, real, fake, lambda x: model.field(x.to(model.device)), title=title,
                      loss=c.loss, bounds=bounds, grad_field=lambda x: field_and_grad(model, x)[1],
                      centre=(c.ls_a + c.ls_b) / 2 if c.loss == "ls" else None)


# -- the animation --------------------------------------------------------------------------------


def make_gif(frames: list[Path], out: str | Path, duration_ms: int = 200, max_frames: int = 200) -> Path:
    """An animated GIF (looping) of PNG frames, each resized to the first frame's size.

    More than ``max_frames`` frames are thinned evenly (first and last kept) to bound memory.
    The last frame is held 5 times longer. Written atomically.
    """
    from PIL import Image

    frames = [Path(f) for f in frames]
    if not frames:
        raise ValueError("make_gif needs at least one frame")
    if len(frames) > max_frames:
        keep = np.unique(np.linspace(0, len(frames) - 1, max_frames).round().astype(int))
        frames = [frames[i] for i in keep]
    images = []
    for f in frames:
        with Image.open(f) as im:
            im = im.convert("RGB")
            if images and im.size != images[0].size:
                im = im.resize(images[0].size, Image.BILINEAR)
            images.append(im.quantize(colors=255, method=Image.Quantize.MEDIANCUT))
    from genlab.files import atomic_write

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    durations = [duration_ms] * (len(images) - 1) + [duration_ms * 5]
    return atomic_write(out, lambda tmp: images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                                                        duration=durations, loop=0, disposal=1, optimize=False))
