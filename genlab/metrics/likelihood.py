"""Importance-sampled log-likelihood of latent-variable models.

log p(x) >= L_k = E[log (1/k) sum_i p(x, z_i) / q(z_i|x)],  z_i ~ q(z|x),
the IWAE bound (Burda et al. 2015, https://arxiv.org/abs/1509.00519, eq. 8). L_1 is the
ELBO, L_k increases with k and tends to log p(x); published VAE NLLs use k = 5000.

Computed in fp32 whatever the training precision (in bf16 the estimate moved by 0.3 nats).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

# Samples a pass: chunk * batch * values of the decoder output stay under this many elements
# (4 MiB of fp32): one decoder matmul a chunk whose output is still in cache when the likelihood
# reads it (2^20 ran 1.6-2x faster than 2^24 and than the former 100 samples a pass, benchmarks/speed)
MAX_ELEMENTS = 2**20


@torch.no_grad()
def importance_log_likelihood(
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    log_px_given_z: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    k: int,
    chunk: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Estimate log p(x) with k samples of the proposal N(mu, diag exp(logvar)) and prior N(0, I).

    x: (B, *shape); mu, logvar: (B, M); ``log_px_given_z(x, z)`` maps z (n, B, M) to (n, B).
    Returns (B,). Samples are drawn ``chunk`` at a time (default: as many as fit MAX_ELEMENTS)
    and combined by a running logsumexp, so memory does not grow with k. ``generator``: where
    the draws come from (default torch's global generator), on mu's device.
    """
    if k <= 0:
        raise ValueError(f"k must be > 0, got {k}")
    dtype = torch.promote_types(mu.dtype, torch.float32)  # fp32 at least (fp64 stays fp64)
    x, mu, logvar = x.to(dtype), mu.to(dtype), logvar.to(dtype)
    b = x.shape[0]
    chunk = chunk or max(1, min(k, MAX_ELEMENTS // max(1, b * x[0].numel())))
    std = torch.exp(0.5 * logvar)
    # log q(z|x) = -1/2 sum(eps^2 + logvar + log 2 pi) at z = mu + std * eps; log 2 pi cancels
    # against the prior's, so log p(z) - log q(z|x) = -1/2 sum z^2 + 1/2 sum eps^2 + 1/2 sum logvar
    half_logdet = 0.5 * logvar.sum(-1)  # (B,)
    total = torch.full((b,), -math.inf, dtype=dtype, device=mu.device)
    done = 0
    while done < k:
        n = min(chunk, k - done)
        # drawn example-major, (B, n, M) in memory, and seen as (n, B, M): a model can run its
        # decoder on z.transpose(0, 1) without a copy and keep each example's samples together
        eps = torch.randn((b, n, mu.shape[1]), generator=generator, dtype=dtype, device=mu.device).transpose(0, 1)
        z = torch.addcmul(mu, std, eps)
        log_w = log_px_given_z(x, z)  # (n, B)
        log_w += 0.5 * (eps.square().sum(-1) - z.square().sum(-1)) + half_logdet
        total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
        done += n
    return total - math.log(k)
