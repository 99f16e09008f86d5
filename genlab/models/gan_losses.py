"""GAN losses as small pure functions of the discriminator's raw outputs (logits / critic values).

Notation: r = D(x) on real data, f = D(G(z)) on generated data, both (B,) before any sigmoid;
D_sigma = sigmoid(D). Every function returns a 0-d tensor to *minimise*.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# -- the original GAN (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661) -----------------


def d_loss_bce(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Discriminator of the minimax game: max E[log D(x)] + E[log(1 - D(G(z)))].

    log sigmoid(r) = -softplus(-r) and log(1 - sigmoid(f)) = -softplus(f), so we minimise
    E[softplus(-r)] + E[softplus(f)] (binary cross-entropy with logits).
    """
    return F.softplus(-r).mean() + F.softplus(f).mean()


def g_loss_minimax(f: torch.Tensor) -> torch.Tensor:
    """Saturating generator loss: descend E[log(1 - D(G(z)))] = -E[softplus(f)].

    Its gradient d/df = -sigmoid(f) vanishes when D confidently rejects fakes (f -> -inf).
    """
    return -F.softplus(f).mean()


def g_loss_ns(f: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: ascend E[log D(G(z))], i.e. minimise E[softplus(-f)].

    Its gradient d/df = -(1 - sigmoid(f)) tends to -1 when D rejects fakes: strong early signal.
    """
    return F.softplus(-f).mean()


# -- least squares (Mao et al. 2016, https://arxiv.org/abs/1611.04076, eq. 2) --------------------


def d_loss_ls(r: torch.Tensor, f: torch.Tensor, a: float = 0.0, b: float = 1.0) -> torch.Tensor:
    """min_D 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], linear D output."""
    return 0.5 * (r - b).pow(2).mean() + 0.5 * (f - a).pow(2).mean()


def g_loss_ls(f: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """min_G 1/2 E[(D(G(z)) - c)^2]."""
    return 0.5 * (f - c).pow(2).mean()


# -- Wasserstein (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875, eq. 3) ------------------


def d_loss_wgan(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Critic maximises E[f(x)] - E[f(G(z))], the Kantorovich-Rubinstein estimate of W_1."""
    return f.mean() - r.mean()


def g_loss_wgan(f: torch.Tensor) -> torch.Tensor:
    """Generator minimises -E[f(G(z))]. Also the hinge GAN's generator loss."""
    return -f.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP penalty E[(||grad_x f(x_hat)||_2 - 1)^2], x_hat uniform on lines between real and
    fake samples (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028, eq. 3). Not yet
    multiplied by lambda. real, fake: (B, ...)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(r: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 penalty E_x[||grad_x D(x)||^2] on real data (Mescheder et al. 2018,
    https://arxiv.org/abs/1801.04406, eq. 9), not yet multiplied by gamma / 2. ``r`` = D(real),
    computed from a ``real`` (B, ...) that requires grad."""
    (grad,) = torch.autograd.grad(r.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


# -- path length regularization (Karras et al. 2019, StyleGAN2, https://arxiv.org/abs/1912.04958, eq. 4) --

PL_DECAY = 0.01  # the running mean a follows the lengths with this weight a step (the paper's code)


def path_lengths(fake: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """||J_w^T y||_2 per sample, y ~ N(0, I) / sqrt(H W) image-shaped noise, J_w = dG(w)/dw: how far
    a random image-space direction moves w back. fake (B, C, H, W) or (B, D) = G(w), w (B, Z) with
    grad; the graph is kept so the penalty can be minimised. Returns (B,)."""
    pixels = fake[0, 0].numel() if fake.dim() == 4 else fake.shape[1]
    y = torch.randn_like(fake) / math.sqrt(pixels)
    (grad,) = torch.autograd.grad((fake * y).sum(), w, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


def path_length_penalty(lengths: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """E_{w,y}[(||J_w^T y||_2 - a)^2] (StyleGAN2, eq. 4), a the running mean of the lengths; not yet
    multiplied by the weight."""
    return (lengths - a).pow(2).mean()


# -- hinge (Lim & Ye 2017, https://arxiv.org/abs/1705.02894; Miyato et al. 2018) ------------------


def d_loss_hinge(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - r).mean() + F.relu(1 + f).mean()


LOSSES = ("ns", "minimax", "ls", "wgan", "wgan-gp", "hinge")


def discriminator_loss(loss: str, r: torch.Tensor, f: torch.Tensor, ls_labels=(0.0, 1.0, 1.0)) -> torch.Tensor:
    if loss in ("ns", "minimax"):
        return d_loss_bce(r, f)
    if loss == "ls":
        return d_loss_ls(r, f, a=ls_labels[0], b=ls_labels[1])
    if loss in ("wgan", "wgan-gp"):
        return d_loss_wgan(r, f)
    if loss == "hinge":
        return d_loss_hinge(r, f)
    raise ValueError(f"unknown GAN loss {loss!r}")


def generator_loss(loss: str, f: torch.Tensor, ls_labels=(0.0, 1.0, 1.0)) -> torch.Tensor:
    if loss == "ns":
        return g_loss_ns(f)
    if loss == "minimax":
        return g_loss_minimax(f)
    if loss == "ls":
        return g_loss_ls(f, c=ls_labels[2])
    if loss in ("wgan", "wgan-gp", "hinge"):
        return g_loss_wgan(f)
    raise ValueError(f"unknown GAN loss {loss!r}")


# -- the semi-supervised GAN (Salimans et al. 2016, https://arxiv.org/abs/1606.03498, section 5) --


def real_logit_from_classes(logits: torch.Tensor) -> torch.Tensor:
    """D's K class logits (B, K), the fake class's logit fixed at 0, as one real/fake logit (B,):
    D(x) = Z(x) / (Z(x) + 1) with Z(x) = sum_k exp(l_k), so logit D(x) = logsumexp_k l_k."""
    return torch.logsumexp(logits.float(), dim=1)


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """G's feature matching loss (Salimans et al. 2016, section 3.1): ||E f(x) - E f(G(z))||^2 of
    D's trunk features (B, F), the real side held fixed."""
    return (real_features.detach().float().mean(0) - fake_features.float().mean(0)).pow(2).sum()
