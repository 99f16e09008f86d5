"""The GAN theory of the course, computed: small pure functions with their formulas.

Everything ``genlab figures`` draws comes from here, so the figures are computations, not drawings:

- the optimal discriminator D*(x) = p_r(x) / (p_r(x) + p_g(x)) and the generator's objective
  against it, L(G | D*) = 2 JS(p_r || p_g) - 2 log 2 (Goodfellow et al. 2014,
  https://arxiv.org/abs/1406.2661, Proposition 1 and Theorem 1);
- the parallel-lines example where JS jumps and W_1 = |theta| is smooth (Arjovsky et al. 2017,
  https://arxiv.org/abs/1701.07875, Example 1), both in closed form and estimated from samples;
- the optimal 1-Lipschitz critic of W_1 in one dimension (Kantorovich-Rubinstein duality);
- the saturating vs non-saturating generator gradients and the shapes of every generator loss;
- a tiny 1-D discriminator trained with binary cross-entropy, to draw beside D*.

Densities on a grid are numpy arrays (any shape); probabilities are normalised where stated.
Natural logarithms throughout, so JS <= log 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize, stats
from torch import nn

LOG2 = math.log(2.0)

# -- densities -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mixture1D:
    """A 1-D Gaussian mixture sum_k w_k N(mu_k, sigma_k^2) (weights normalised on use)."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def _w(self) -> np.ndarray:
        w = np.ones(len(self.means)) if self.weights is None else np.asarray(self.weights, float)
        return w / w.sum()

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """p(x) = sum_k w_k N(x; mu_k, sigma_k^2), same shape as x."""
        x = np.asarray(x, float)
        return sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(self._w(), self.means, self.stds))

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n draws (n,) float64: pick a component by its weight, then x = mu_k + sigma_k eps."""
        rng = np.random.default_rng(seed)
        k = rng.choice(len(self.means), size=n, p=self._w())
        return np.asarray(self.means)[k] + np.asarray(self.stds)[k] * rng.standard_normal(n)


# -- the optimal discriminator and JS (Goodfellow et al. 2014, Section 4) -------------------------


def pointwise_optimum(a: float, b: float) -> float:
    """argmax_{y in (0,1)} f(y) = a log y + b log(1 - y) = a / (a + b)  (a, b >= 0, a + b > 0).

    f'(y) = a/y - b/(1-y) = 0  <=>  y = a/(a+b), and f'' < 0. With a = p_r(x), b = p_g(x) this is D*(x).
    """
    return a / (a + b)


def optimal_discriminator(p_r: np.ndarray, p_g: np.ndarray, undefined: float = np.nan) -> np.ndarray:
    """D*(x) = p_r(x) / (p_r(x) + p_g(x)) elementwise on a grid (densities of any shape).

    Outside both supports (p_r = p_g = 0) every value is optimal; those points get ``undefined``.
    """
    p_r, p_g = np.asarray(p_r, float), np.asarray(p_g, float)
    total = p_r + p_g
    out = np.full(total.shape, undefined, dtype=float)
    np.divide(p_r, total, out=out, where=total > 0)
    return out


def _normalise(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, float).ravel()
    if (p < 0).any() or not p.sum() > 0:
        raise ValueError("a density must be >= 0 with positive mass")
    return p / p.sum()


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) = sum_i p_i log(p_i / q_i) of two distributions on the same grid, 0 log 0 = 0.

    Densities on a uniform grid work too: both are normalised to probability vectors first
    (the grid spacing cancels). Infinite when p puts mass where q has none.
    """
    p, q = _normalise(p), _normalise(q)
    m = p > 0
    if (q[m] == 0).any():
        return math.inf
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JS(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2, in nats: 0 <= JS <= log 2.

    Discrete distributions or densities on a uniform grid (normalised first). JS = log 2 exactly
    when the supports are disjoint, 0 iff p = q.
    """
    p, q = _normalise(p), _normalise(q)
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


def generator_objective(p_r: np.ndarray, p_g: np.ndarray) -> float:
    """L(G | D*) = E_{p_r}[log D*(x)] + E_{p_g}[log(1 - D*(x))], summed on the grid directly.

    Goodfellow et al. 2014, Theorem 1: this equals 2 JS(p_r || p_g) - 2 log 2, minimal (-2 log 2)
    iff p_g = p_r; it is computed here from D* so that the identity can be checked, not assumed.
    """
    p, q = _normalise(p_r), _normalise(p_g)
    d = optimal_discriminator(p, q, undefined=0.5)
    real = np.sum(p[p > 0] * np.log(d[p > 0]))
    fake = np.sum(q[q > 0] * np.log1p(-d[q > 0]))
    return float(real + fake)


# -- the parallel lines (Arjovsky et al. 2017, Example 1) -----------------------------------------


@dataclass(frozen=True)
class ParallelLines:
    """JS and W_1 between P_0 = (0, Z) and Q_theta = (theta, Z), Z ~ U[0, 1], for each theta (T,).

    Closed forms: JS = log 2 if theta != 0 else 0;  W_1 = |theta|.
    Estimates from n samples of each: ``js_est`` by histograms on a grid of cells of width ``x_bin``
    (the lines are distinguishable once |theta| exceeds a cell), ``w1_est`` by exact optimal
    transport between the two samples in the plane (the assignment problem,
    W_1 ~ min_sigma 1/n sum_i ||x_i - y_sigma(i)||).
    """

    theta: np.ndarray
    js: np.ndarray
    w1: np.ndarray
    js_est: np.ndarray
    w1_est: np.ndarray

    @property
    def gan_objective(self) -> np.ndarray:
        """L(G | D*) = 2 JS - 2 log 2 (closed form): -2 log 2 at theta = 0, flat 0 elsewhere."""
        return 2 * self.js - 2 * LOG2

    @property
    def gan_objective_est(self) -> np.ndarray:
        return 2 * self.js_est - 2 * LOG2


def parallel_lines(theta, n: int = 256, seed: int = 0, x_bin: float = 0.02, y_bins: int = 8) -> ParallelLines:
    """The course's example of JS going flat while W_1 stays informative; see :class:`ParallelLines`.

    theta: a number or (T,) array. n: samples per distribution for the estimates (the OT estimate
    costs O(n^3) per theta; n = 256 takes a few ms). Independent Z samples for P_0 and Q_theta, so
    the estimates carry honest sampling error (W_1 of two empirical U[0,1] is O(1/sqrt(n))).
    """
    theta = np.atleast_1d(np.asarray(theta, float))
    rng = np.random.default_rng(seed)
    js_est, w1_est = np.empty_like(theta), np.empty_like(theta)
    for i, t in enumerate(theta):
        p = np.stack([np.zeros(n), rng.uniform(0, 1, n)], 1)
        q = np.stack([np.full(n, t), rng.uniform(0, 1, n)], 1)
        js_est[i] = js_from_samples(p, q, x_bin, y_bins)
        w1_est[i] = w1_from_samples(p, q)
    js = np.where(theta != 0, LOG2, 0.0)
    return ParallelLines(theta, js, np.abs(theta), js_est, w1_est)


def js_from_samples(p: np.ndarray, q: np.ndarray, x_bin: float, y_bins: int) -> float:
    """Histogram estimate of JS between two 2-D samples (n, 2): x cells of width ``x_bin`` centred
    on multiples of it, ``y_bins`` cells over the joint range of y; then :func:`js_divergence`."""
    both = np.concatenate([p, q])
    lo = math.floor(both[:, 0].min() / x_bin - 0.5) + 0.5
    hi = math.ceil(both[:, 0].max() / x_bin + 0.5) + 0.5
    x_edges = np.arange(lo, hi + 0.5, 1.0) * x_bin
    y_edges = np.linspace(both[:, 1].min(), both[:, 1].max() + 1e-12, y_bins + 1)
    hp, _, _ = np.histogram2d(p[:, 0], p[:, 1], bins=(x_edges, y_edges))
    hq, _, _ = np.histogram2d(q[:, 0], q[:, 1], bins=(x_edges, y_edges))
    return js_divergence(hp, hq)


def w1_from_samples(p: np.ndarray, q: np.ndarray) -> float:
    """W_1 between two equal-size empirical distributions (n, d): the optimal coupling of two sets
    of n equally weighted points is a permutation (Birkhoff), found by the Hungarian algorithm."""
    cost = np.linalg.norm(p[:, None, :] - q[None, :, :], axis=-1)
    rows, cols = optimize.linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def w1_1d(sample_r: np.ndarray, sample_g: np.ndarray) -> float:
    """W_1 of two 1-D samples = integral |F_r(x) - F_g(x)| dx (scipy.stats.wasserstein_distance)."""
    return float(stats.wasserstein_distance(sample_r, sample_g))


# -- the optimal critic of WGAN in 1-D (Kantorovich-Rubinstein) -----------------------------------


def optimal_critic_1d(x: np.ndarray, p_r: np.ndarray, p_g: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """A maximiser f* of E_{p_r}[f] - E_{p_g}[f] over 1-Lipschitz f, on a uniform 1-D grid x (N,).

    Integrating by parts, E_r[f] - E_g[f] = integral f'(x) (F_g(x) - F_r(x)) dx, maximised under
    |f'| <= 1 by f' = sign(F_g - F_r); its value is integral |F_r - F_g| dx = W_1 (Arjovsky et al.
    2017, Section 3). Returned with f*(x_0) = 0 and slope 0 where |F_g - F_r| <= tol (any slope is
    optimal there); unlike D* it has slope 1 between disjoint supports.
    """
    dx = x[1] - x[0]
    gap = np.cumsum(p_g) * dx - np.cumsum(p_r) * dx  # F_g - F_r
    slope = np.where(np.abs(gap) > tol, np.sign(gap), 0.0)  # where F_r = F_g any slope is optimal: 0
    return np.concatenate([[0.0], np.cumsum(slope[:-1]) * dx])


def critic_value(x: np.ndarray, f: np.ndarray, p_r: np.ndarray, p_g: np.ndarray) -> float:
    """E_{p_r}[f] - E_{p_g}[f] by the Riemann sum on the grid x: the dual estimate of W_1."""
    dx = x[1] - x[0]
    return float(np.sum(f * (p_r - p_g)) * dx)


# -- generator gradients and loss shapes (Goodfellow et al. 2014, Section 3) ---------------------


def generator_gradients(d_values) -> dict[str, np.ndarray]:
    """Gradients of the two generator losses at D = D(G(z)) in (0, 1), and w.r.t. the logit a
    (D = sigmoid(a)), through which backprop reaches G:

      saturating (minimax, descend log(1 - D)):  d/dD = -1 / (1 - D),   d/da = -D
      non-saturating (descend -log D):           d/dD = -1 / D,         d/da = -(1 - D)

    As D(G(z)) -> 0 (D confidently rejects the fakes, early in training) the saturating gradient
    w.r.t. the logit vanishes (-D -> 0) while the non-saturating one tends to -1.
    Keys: ``saturating``, ``non_saturating`` (w.r.t. D), ``saturating_logit``, ``non_saturating_logit``.
    """
    d = np.asarray(d_values, float)
    return {"saturating": -1.0 / (1.0 - d), "non_saturating": -1.0 / d,
            "saturating_logit": -d, "non_saturating_logit": -(1.0 - d)}


def generator_loss_curves(scores, losses=("minimax", "ns", "ls", "wgan")) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each generator loss of :mod:`genlab.models.gan_losses` as a function of D's raw score s on
    one fake (minimax: log(1 - sigmoid(s)), ns: -log sigmoid(s), ls: 1/2 (s - 1)^2, wgan/hinge: -s)
    and its derivative dL/ds by autograd. scores (N,) -> {loss: (L (N,), dL/ds (N,))}.

    The least-squares loss (Mao et al. 2016, https://arxiv.org/abs/1611.04076) keeps pulling fakes
    that the sigmoid losses already call real (large s) toward the target c; their gradients vanish.
    """
    from genlab.models.gan_losses import generator_loss

    out = {}
    for name in losses:
        s = torch.as_tensor(np.asarray(scores, float), dtype=torch.float64).requires_grad_(True)
        per_point = generator_loss(name, s) * s.numel()  # the losses are means over the batch
        values = torch.stack([generator_loss(name, s[i:i + 1]) for i in range(s.numel())])
        (grad,) = torch.autograd.grad(per_point, s)
        out[name] = (values.detach().numpy(), grad.numpy())
    return out


# -- a trained 1-D discriminator to draw beside D* ------------------------------------------------


class Discriminator1D(nn.Module):
    """A small MLP D: x (B,) -> logit (B,), inputs standardised by the training samples' mean/std."""

    def __init__(self, mean: float, std: float, hidden: int = 32):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(((x - self.mean) / self.std).unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def probability(self, x: np.ndarray) -> np.ndarray:
        """D(x) = sigmoid(logit) in (0, 1) at the points x (any shape)."""
        t = torch.as_tensor(np.asarray(x, np.float32))
        return torch.sigmoid(self(t.ravel())).reshape(t.shape).numpy().astype(float)


def train_1d_discriminator(sample_r: np.ndarray, sample_g: np.ndarray, steps: int = 1500, seed: int = 0,
                           lr: float = 1e-2) -> Discriminator1D:
    """Fit D by the discriminator's side of the game on fixed samples, full batch with Adam:

        max_D 1/n sum_i log D(x_i) + 1/m sum_j log(1 - D(y_j)),  x_i ~ p_r, y_j ~ p_g,

    (binary cross-entropy with logits). With enough samples and capacity D -> D* = p_r/(p_r + p_g)
    where the densities have mass (Goodfellow et al. 2014, Proposition 1). About 1 ms a step on one
    CPU thread for a few thousand samples.
    """
    torch.manual_seed(seed)
    xr = torch.as_tensor(np.asarray(sample_r, np.float32))
    xg = torch.as_tensor(np.asarray(sample_g, np.float32))
    both = torch.cat([xr, xg])
    d = Discriminator1D(both.mean(), both.std())
    opt = torch.optim.Adam(d.parameters(), lr=lr)
    bce = nn.functional.binary_cross_entropy_with_logits
    for _ in range(steps):
        loss = bce(d(xr), torch.ones_like(xr)) + bce(d(xg), torch.zeros_like(xg))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return d.eval()
