"""The importance-sampled NLL on a model whose exact likelihood is known.

Linear-Gaussian model: p(z) = N(0, I_M), p(x|z) = N(W z + b, s^2 I_D), so
p(x) = N(b, W W^T + s^2 I) and the exact posterior is Gaussian too (Bishop, PRML 12.2).
"""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from genlab.metrics.likelihood import importance_log_likelihood
from genlab.models.losses import gaussian_log_likelihood

D, M, S = 5, 2, 0.5


def model():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(D, M, generator=g, dtype=torch.float64)
    b = torch.randn(D, generator=g, dtype=torch.float64)
    return W, b


def log_px_given_z(W, b):
    log_s = torch.full((D,), math.log(S), dtype=torch.float64)
    return lambda x, z: gaussian_log_likelihood(z @ W.T + b, log_s, x, 1)


def exact(W, b, x):
    cov = W @ W.T + S**2 * torch.eye(D, dtype=torch.float64)
    return MultivariateNormal(b, cov).log_prob(x)


def posterior(W, b, x):
    # Sigma = (I + W^T W / s^2)^-1, mean = Sigma W^T (x - b) / s^2
    prec = torch.eye(M, dtype=torch.float64) + W.T @ W / S**2
    cov = torch.linalg.inv(prec)
    mean = (x - b) @ W @ cov.T / S**2
    return mean, torch.log(torch.diagonal(cov)).expand_as(mean), cov


def test_exact_posterior_gives_the_exact_likelihood_with_one_sample():
    # With orthogonal columns of W the exact posterior is diagonal, so it is a valid proposal
    # and every importance weight equals p(x): one sample gives log p(x) exactly.
    _, b = model()
    W = torch.zeros(D, M, dtype=torch.float64)
    W[0, 0], W[1, 1] = 1.5, -0.7
    x = torch.randn(7, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + b
    mean, logvar, cov = posterior(W, b, x)
    assert torch.allclose(cov, torch.diag(torch.diagonal(cov)))
    torch.manual_seed(0)
    est = importance_log_likelihood(x, mean, logvar, log_px_given_z(W, b), k=1)
    assert torch.allclose(est, exact(W, b, x), atol=1e-9)


def test_estimate_tightens_with_k_and_converges_to_the_exact_value():
    W, b = model()
    x = torch.randn(20, D, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + b
    mean, _, _ = posterior(W, b, x)
    logvar = torch.zeros_like(mean)  # a deliberately poor proposal: wrong variances
    f = log_px_given_z(W, b)
    truth = exact(W, b, x).mean()
    torch.manual_seed(0)
    def average_bound(k, repeats):  # E[L_k], averaged over many independent estimates
        xs, ms, ls = (t.repeat(repeats, 1) for t in (x, mean, logvar))
        return importance_log_likelihood(xs, ms, ls, f, k=k).mean()

    l1, l50 = average_bound(1, 2000), average_bound(50, 200)
    l5000 = importance_log_likelihood(x, mean, logvar, f, k=5000, chunk=700).mean()
    assert l1 < l50 < l5000 <= truth + 0.01
    assert truth - l1 > 0.5  # the ELBO is loose here...
    assert abs(l5000 - truth) < 0.02  # ...and 5000 importance samples are not


def test_the_many_sample_bernoulli_likelihood_equals_the_cross_entropy_one():
    from genlab.models.losses import bernoulli_log_likelihood, bernoulli_log_likelihood_samples

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 1, 4, 4, generator=g) * 4  # (B, n, *shape)
    x = (torch.rand(3, 1, 4, 4, generator=g) > 0.5).float()
    fast = bernoulli_log_likelihood_samples(logits, x, 3)  # (B, n)
    slow = bernoulli_log_likelihood(logits.transpose(0, 1), x, 3).T  # (n, B) -> (B, n)
    torch.testing.assert_close(fast, slow)
    grey = torch.rand(3, 1, 4, 4, generator=g)  # not only binary pixels
    torch.testing.assert_close(bernoulli_log_likelihood_samples(logits, grey, 3),
                               bernoulli_log_likelihood(logits.transpose(0, 1), grey, 3).T)


def test_the_vae_evaluates_with_the_same_likelihood_it_trains_with():
    from genlab.models.vae import VAE, VAEConfig
    from tests.models.tiny import IMAGE_SPEC

    torch.manual_seed(0)
    vae = VAE(VAEConfig(hidden=(16,), latent_dim=3), IMAGE_SPEC)
    x = (torch.rand(4, 1, 8, 8) > 0.5).float()
    z = torch.randn(4, 6, 3).transpose(0, 1)  # (n, B, M), example-major in memory as the estimator draws it
    torch.testing.assert_close(vae.log_px_given_z_samples(x, z), vae.log_px_given_z(x, z))


@pytest.mark.parametrize("chunk", [1, 7, None])
def test_the_estimate_does_not_depend_on_how_the_samples_are_chunked_in_expectation(chunk):
    W, b = model()
    x = torch.tensor([[0.3, -1.2, 0.8, 0.1, -0.4]], dtype=torch.float64)
    mean, logvar, _ = posterior(W, b, x)
    torch.manual_seed(0)
    est = importance_log_likelihood(x, mean, logvar + 1.0, log_px_given_z(W, b), k=4000, chunk=chunk)
    assert abs(float(est) - float(exact(W, b, x))) < 0.02
