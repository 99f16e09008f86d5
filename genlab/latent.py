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


# -- attribute directions (InterFaceGAN, Shen et al. 2020, https://arxiv.org/abs/2005.09635) --------


@torch.no_grad()
def encode_mean(model, x: torch.Tensor) -> torch.Tensor:
    """The code of images x (B, *shape): an encoder's output, or the mean of a VAE's q(z|x)."""
    z = model.encode(x)
    return z[0] if isinstance(z, tuple) else z


def noise_dim(model) -> int:
    """How many leading values of the model's latent code are its noise (the rest is a condition)."""
    c = model.config
    return c.z_dim if hasattr(c, "z_dim") else c.latent_dim


def find_direction(codes: torch.Tensor, scores: torch.Tensor, *, fraction: float = 0.1,
                   seed: int = 0) -> tuple[torch.Tensor, float]:
    """The unit normal of a linear SVM separating the codes (N, d) with the top ``fraction`` of
    ``scores`` (N,) from those with the bottom ``fraction``, and the SVM's accuracy on a held-out
    30 % of them (section 3.3 of the paper: 'the normal vector of the separation hyperplane')."""
    import numpy as np
    from sklearn.svm import LinearSVC

    k = max(2, int(fraction * len(scores)))
    order = scores.argsort()
    x = torch.cat([codes[order[:k]], codes[order[-k:]]]).double().numpy()
    y = np.r_[np.zeros(k), np.ones(k)]
    perm = np.random.default_rng(seed).permutation(2 * k)
    cut = int(0.7 * 2 * k)
    svm = LinearSVC(C=1.0, max_iter=10_000).fit(x[perm[:cut]], y[perm[:cut]])
    held_out = float((svm.predict(x[perm[cut:]]) == y[perm[cut:]]).mean()) if cut < 2 * k else float("nan")
    normal = torch.from_numpy(svm.coef_[0]).float()
    return normal / normal.norm(), held_out


def orthogonal(direction: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """``direction`` (d,) with its component in the span of ``others`` ((d,) or (k, d)) removed,
    renormalised (conditional manipulation, section 3.4 of the paper): moving along it leaves the
    others' scores alone. Several others are handled at once (their span), not one after another,
    which would undo the earlier projections when the others are not orthogonal."""
    basis = torch.linalg.qr(others.reshape(-1, direction.numel()).T.double()).Q  # (d, k), orthonormal
    d = direction.double() - basis @ (basis.T @ direction.double())
    if float(d.norm()) < 1e-6:
        raise ValueError("the direction lies in the span of the others")
    return (d / d.norm()).to(direction.dtype)


def preserving(direction: torch.Tensor, grams: torch.Tensor, weight: float) -> torch.Tensor:
    """The unit direction nearest ``direction`` (d,) that moves less along what changes other
    attributes: argmin_v |v - direction|^2 + weight * sum_k v^T G_k v / tr G_k
    = (I + weight * sum_k G_k / tr G_k)^{-1} direction, renormalised. G_k (k, d, d) is attribute
    k's Jacobian Gram matrix E_z[J_k(z)^T J_k(z)] (see genlab.directions.sensitivity), so v^T G_k v
    is the expected squared first-order change of k along v; scaling by the trace weighs each
    attribute alike. A soft form of the null-space projection of LowRankGAN (Zhu et al. 2021,
    https://arxiv.org/abs/2106.04488), with a tag evaluator's Jacobian in place of the image's."""
    if weight < 0:
        raise ValueError(f"the preservation weight must be >= 0, got {weight}")
    g = grams.reshape(-1, direction.numel(), direction.numel()).double()
    trace = torch.diagonal(g, dim1=1, dim2=2).sum(1).clamp_min(1e-30).view(-1, 1, 1)
    a = torch.eye(direction.numel(), dtype=torch.float64) + weight * (g / trace).sum(0)
    v = torch.linalg.solve(a, direction.double())
    return (v / v.norm()).to(direction.dtype)


def move(codes: torch.Tensor, direction: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
    """Codes (B, M) moved by each strength along the unit ``direction`` (d,) on their first d
    values (the noise; a condition after them is kept): (B, S, M)."""
    d = direction.to(codes)
    shift = strengths.to(codes).view(1, -1, 1) * torch.nn.functional.pad(d, (0, codes.shape[1] - d.numel()))
    return codes.unsqueeze(1) + shift


# -- the w space of a generator with a mapping network (StyleGAN, https://arxiv.org/abs/1812.04948) ------

SPACES = ("noise", "w")
W_STAT_DRAWS = 10_000  # prior draws whose w give the whitening (seed 0)


class WSpace:
    """A GAN with a mapping network seen through its whitened w space: codes u = C^{-1/2} (w - m),
    w = mapping(z), with m and C the mean and covariance of w over W_STAT_DRAWS prior draws (seed
    0). u has zero mean and identity covariance as z does, so a unit move along a unit direction is
    one standard deviation of the draws along it, as in z, and InterFaceGAN's strengths mean the same
    in both spaces. ``prior`` draws u (then the condition), ``decode`` takes u; the rest is the
    model's. Used by genlab.directions to find and apply directions in w."""

    def __init__(self, model, n: int = W_STAT_DRAWS, seed: int = 0):
        from genlab.models.gan_nets import MappedGenerator

        g = getattr(model, "sampler", None)
        if not isinstance(g, MappedGenerator):
            raise ValueError(f"the w space is a mapping network's output; this {model.name} run has none "
                             "(train with mapping=4)")
        self.model, self.g, self.d = model, g, noise_dim(model)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            w = torch.cat([g.map(model.prior(min(1000, n - i), gen)[:, :self.d]).double().cpu()
                           for i in range(0, n, 1000)])  # (n, d)
        self.mean = w.mean(0)
        values, vectors = torch.linalg.eigh(torch.cov(w.T))
        values = values.clamp_min(values.max() * 1e-8)
        self.root = (vectors * values.sqrt()) @ vectors.T  # C^{1/2} (d, d), symmetric
        self.inverse_root = (vectors / values.sqrt()) @ vectors.T

    def __getattr__(self, name: str):  # spec, config, run_config, device, ... are the model's
        return getattr(self.model, name)

    def whiten(self, w: torch.Tensor) -> torch.Tensor:
        return ((w.double().cpu() - self.mean) @ self.inverse_root).to(w)

    def from_noise(self, codes: torch.Tensor) -> torch.Tensor:
        """The model's codes (N, d + k), noise then condition, as codes of this space: u, then the condition."""
        with torch.no_grad():
            return torch.cat([self.whiten(self.g.map(codes[:, :self.d])), codes[:, self.d:]], 1)

    def prior(self, n: int, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        return self.from_noise(self.model.prior(n, generator, condition))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Images (N, *shape) in data space of codes (N, d + k); keeps the graph when grad is on."""
        u = codes[:, :self.d]
        w = u @ self.root.to(u) + self.mean.to(u)
        x = self.model.to_data(self.g.synthesis(torch.cat([w, codes[:, self.d:]], 1)))
        return x.view(-1, *self.model.spec.shape)


def in_space(model, space: str = "noise"):
    """The model as directions see it: itself in its noise space, a ``WSpace`` in w."""
    if space not in SPACES:
        raise ValueError(f"a latent space is one of {', '.join(SPACES)}, not {space!r}")
    return model if space == "noise" else WSpace(model)
