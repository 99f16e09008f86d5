"""The VAE's math against its formulas: closed-form KL, likelihoods, reparameterisation."""

import math

import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from genlab.models import losses


def test_kl_golden_number():
    # 1/2 [(1 + 1 - 1 - 0) + (4 + 4 - 1 - log 4)] = 0.5 + 0.5 (7 - log 4)
    mu = torch.tensor([[1.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    expected = 0.5 + 0.5 * (7 - math.log(4))
    assert torch.allclose(losses.kl_normal_standard(mu, logvar), torch.tensor([expected]))


def test_kl_matches_torch_distributions_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g) * 0.5
    closed = losses.kl_normal_standard(mu, logvar)
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    assert torch.allclose(closed, kl_divergence(q, p).sum(-1), atol=1e-5)
    torch.manual_seed(1)
    z = losses.reparameterize(mu, logvar, n=200_000)  # (n, 4, 3)
    mc = (losses.log_normal_diag(z, mu, logvar) - losses.log_normal_standard(z)).mean(0)
    assert torch.allclose(mc, closed, atol=0.03), (mc, closed)


def test_kl_is_zero_only_at_the_prior():
    zero = torch.zeros(1, 5)
    assert losses.kl_normal_standard(zero, zero).item() == 0.0
    assert losses.kl_normal_standard(zero + 0.1, zero).item() > 0


def test_reparameterize_moments_and_gradient():
    mu = torch.tensor([[2.0, -1.0]], requires_grad=True)
    logvar = torch.tensor([[math.log(0.25), 0.0]], requires_grad=True)
    torch.manual_seed(0)
    z = losses.reparameterize(mu, logvar, n=100_000)
    assert torch.allclose(z.mean((0, 1)), mu.detach()[0], atol=0.01)
    assert torch.allclose(z.std((0, 1)), torch.tensor([0.5, 1.0]), atol=0.01)
    z.sum().backward()  # d z / d mu = 1 per sample: the gradient flows through the sample
    assert torch.allclose(mu.grad, torch.full_like(mu, 100_000.0))
    assert logvar.grad is not None


def test_log_normals_match_torch():
    g = torch.Generator().manual_seed(2)
    z, mu, logvar = torch.randn(3, 5, 4, generator=g)
    expected = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    assert torch.allclose(losses.log_normal_diag(z, mu, logvar), expected, atol=1e-5)
    assert torch.allclose(losses.log_normal_standard(z), Normal(0.0, 1.0).log_prob(z).sum(-1), atol=1e-5)


def test_bernoulli_and_gaussian_log_likelihood_match_torch():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 6, 1, 4, 4, generator=g)  # (S, B, C, H, W)
    x = torch.bernoulli(torch.full((6, 1, 4, 4), 0.3), generator=g)
    expected = Bernoulli(logits=logits).log_prob(x.expand_as(logits)).flatten(2).sum(-1)
    assert torch.allclose(losses.bernoulli_log_likelihood(logits, x, 3), expected, atol=1e-5)
    mean = torch.rand(6, 1, 4, 4, generator=g)
    log_sigma = torch.full((1, 4, 4), math.log(0.2))
    expected = Normal(mean, 0.2).log_prob(x).flatten(1).sum(-1)
    assert torch.allclose(losses.gaussian_log_likelihood(mean, log_sigma, x, 3), expected, atol=1e-4)


def test_kl_warmup_and_beta():
    from genlab.data.dataset import DataSpec
    from genlab.models.vae import VAE, VAEConfig

    spec = DataSpec(kind="image", shape=(1, 4, 4))
    vae = VAE(VAEConfig(hidden=(8,), latent_dim=2, beta=2.0, warmup_steps=100), spec)
    assert [vae.kl_weight(s) for s in (0, 50, 100, 1000)] == [0.0, 1.0, 2.0, 2.0]
    assert VAE(VAEConfig(hidden=(8,), latent_dim=2, beta=0.5, warmup_steps=0), spec).kl_weight(0) == 0.5
