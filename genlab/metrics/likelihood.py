"""Importance-sampled log-likelihood of latent-variable models.

log p(x) >= L_k = E[log (1/k) sum_i p(x, z_i) / q(z_i|x)],  z_i ~ q(z|x),
the IWAE bound (Burda et al. 2015, https://arxiv.org/abs/1509.00519, eq. 8). L_1 is the
ELBO, L_k increases with k and tends to log p(x); published VAE NLLs use k = 5000.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from genlab.models.losses import log_normal_diag, log_normal_standard, reparameterize


@torch.no_grad()
def importance_log_likelihood(
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    log_px_given_z: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    k: int,
    chunk: int = 100,
) -> torch.Tensor:
    """Estimate log p(x) with k samples of the proposal N(mu, diag exp(logvar)) and prior N(0, I).

    x: (B, *shape); mu, logvar: (B, M); ``log_px_given_z(x, z)`` maps z (n, B, M) to (n, B).
    Returns (B,). Samples are drawn ``chunk`` at a time and combined by a running logsumexp, so
    memory does not grow with k.
    """
    if k <= 0:
        raise ValueError(f"k must be > 0, got {k}")
    total = torch.full((x.shape[0],), -math.inf, dtype=mu.dtype, device=mu.device)
    done = 0
    while done < k:
        n = min(chunk, k - done)
        z = reparameterize(mu, logvar, n)  # (n, B, M)
        log_w = log_px_given_z(x, z) + log_normal_standard(z) - log_normal_diag(z, mu, logvar)
        total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
        done += n
    return total - math.log(k)
