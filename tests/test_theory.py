"""The GAN theory of genlab.theory against its formulas (Goodfellow et al. 2014; Arjovsky et al. 2017)."""

import math
import time

import numpy as np
import pytest
import torch
from scipy import stats

from genlab import theory as T
from genlab.models import gan_losses as L

LOG2 = math.log(2)


# -- D* and JS ----------------------------------------------------------------------------------


def test_pointwise_optimum_is_the_argmax():
    y = np.linspace(1e-4, 1 - 1e-4, 100_001)
    for a, b in [(1.0, 1.0), (0.3, 2.0), (5.0, 0.1)]:
        f = a * np.log(y) + b * np.log1p(-y)
        assert y[f.argmax()] == pytest.approx(T.pointwise_optimum(a, b), abs=1e-4)


def test_optimal_discriminator_formula():
    p_r = np.array([0.0, 1.0, 2.0, 0.5, 0.0])
    p_g = np.array([1.0, 1.0, 0.0, 1.5, 0.0])
    d = T.optimal_discriminator(p_r, p_g)
    np.testing.assert_allclose(d[:4], [0.0, 0.5, 1.0, 0.25])
    assert np.isnan(d[4])  # outside both supports any D is optimal
    assert T.optimal_discriminator(p_r, p_g, undefined=0.5)[4] == 0.5


def test_js_equal_disjoint_and_bounds():
    rng = np.random.default_rng(0)
    p = rng.random(50)
    assert T.js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert T.js_divergence(p, 3 * p) == pytest.approx(0.0, abs=1e-12)  # normalised first
    a, b = np.r_[p, np.zeros(50)], np.r_[np.zeros(50), p]
    assert T.js_divergence(a, b) == pytest.approx(LOG2)
    q = rng.random(50)
    js = T.js_divergence(p, q)
    assert 0 < js < LOG2 and js == pytest.approx(T.js_divergence(q, p))
    # against scipy's Jensen-Shannon distance (its square, natural log)
    assert js == pytest.approx(stats.entropy((p / p.sum() + q / q.sum()) / 2) - 0.5 * stats.entropy(p)
                               - 0.5 * stats.entropy(q))


def test_generator_objective_is_2js_minus_2log2():
    rng = np.random.default_rng(1)
    for _ in range(5):
        p, q = rng.random(40), rng.random(40) * (rng.random(40) > 0.3)
        assert T.generator_objective(p, q) == pytest.approx(2 * T.js_divergence(p, q) - 2 * LOG2)
    p = rng.random(40)
    assert T.generator_objective(p, p) == pytest.approx(-2 * LOG2)  # minimal iff p_g = p_r
    assert T.generator_objective(np.r_[p, 0 * p], np.r_[0 * p, p]) == pytest.approx(0.0, abs=1e-12)


# -- the parallel lines -------------------------------------------------------------------------


def test_parallel_lines_closed_form_and_estimates():
    theta = np.array([-0.8, -0.3, -0.1, 0.0, 0.1, 0.3, 0.8])
    res = T.parallel_lines(theta, n=256, seed=0)
    np.testing.assert_allclose(res.w1, np.abs(theta))
    np.testing.assert_allclose(res.js, np.where(theta != 0, LOG2, 0.0))
    np.testing.assert_allclose(res.gan_objective, np.where(theta != 0, 0.0, -2 * LOG2))
    # sampling error O(1/sqrt(n)): for theta = 0, E W1 of two empirical U[0,1] ~ 0.313 sqrt(2/n) = 0.028
    np.testing.assert_allclose(res.w1_est, np.abs(theta), atol=0.08)
    assert np.all(res.w1_est >= np.abs(theta) - 1e-12)  # ||(theta, dz)|| >= |theta| for every pair
    np.testing.assert_allclose(res.js_est[theta != 0], LOG2, atol=1e-9)  # separated lines: exactly log 2
    assert res.js_est[3] < 0.05  # same line: only histogram noise


def test_w1_from_samples_matches_scipy_in_1d():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 200), rng.normal(1.5, 0.5, 200)
    assert T.w1_from_samples(a[:, None], b[:, None]) == pytest.approx(stats.wasserstein_distance(a, b))


def test_optimal_critic_attains_w1_and_is_1_lipschitz():
    x = np.linspace(-4, 8, 2401)
    p_r, p_g = T.Mixture1D((-1.0, 1.0), (0.3, 0.5)).pdf(x), T.Mixture1D((4.0,), (0.7,)).pdf(x)
    f = T.optimal_critic_1d(x, p_r, p_g)
    assert np.abs(np.diff(f)).max() <= (x[1] - x[0]) * (1 + 1e-9)
    dx = x[1] - x[0]
    w1 = np.sum(np.abs(np.cumsum(p_r) - np.cumsum(p_g))) * dx * dx  # integral |F_r - F_g|
    assert T.critic_value(x, f, p_r, p_g) == pytest.approx(w1, rel=1e-3)
    samples = T.Mixture1D((-1.0, 1.0), (0.3, 0.5)).sample(20_000, 0), T.Mixture1D((4.0,), (0.7,)).sample(20_000, 1)
    assert T.w1_1d(*samples) == pytest.approx(w1, rel=0.02)


# -- generator gradients ----------------------------------------------------------------------------


def test_generator_gradients_match_autograd_of_the_losses():
    a = torch.linspace(-6, 6, 25, dtype=torch.float64, requires_grad=True)
    d = torch.sigmoid(a).detach().numpy()
    g = T.generator_gradients(d)
    for name, fn in [("saturating_logit", L.g_loss_minimax), ("non_saturating_logit", L.g_loss_ns)]:
        (auto,) = torch.autograd.grad(fn(a) * a.numel(), a)
        np.testing.assert_allclose(g[name], auto.numpy(), atol=1e-12)
    np.testing.assert_allclose(g["saturating"], -1 / (1 - d))
    np.testing.assert_allclose(g["non_saturating"], -1 / d)


def test_saturating_gradient_vanishes_non_saturating_does_not():
    d = np.array([1e-1, 1e-2, 1e-4, 1e-8])
    g = T.generator_gradients(d)
    assert np.all(np.abs(np.diff(np.abs(g["saturating_logit"]))) > 0) and abs(g["saturating_logit"][-1]) < 1e-7
    np.testing.assert_allclose(g["non_saturating_logit"], -1, atol=0.11)
    assert abs(g["non_saturating_logit"][-1]) > 0.99


def test_generator_loss_curves_shapes():
    s = np.linspace(-5, 5, 11)
    c = T.generator_loss_curves(s)
    np.testing.assert_allclose(c["ls"][0], 0.5 * (s - 1) ** 2)
    np.testing.assert_allclose(c["ls"][1], s - 1)  # keeps pulling fakes toward c = 1
    np.testing.assert_allclose(c["wgan"][1], -1.0)
    np.testing.assert_allclose(c["ns"][0], np.log1p(np.exp(-s)))
    assert abs(c["ns"][1][-1]) < 0.01 and abs(c["minimax"][1][0]) < 0.01  # the sigmoid losses saturate


# -- a trained 1-D discriminator -------------------------------------------------------------------


@pytest.mark.timing
def test_trained_1d_discriminator_approaches_d_star():
    p_r, p_g = T.Mixture1D((-2.0, 1.5), (0.6, 0.8), (0.4, 0.6)), T.Mixture1D((0.5,), (1.2,))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.process_time()
        d = T.train_1d_discriminator(p_r.sample(3000, 0), p_g.sample(3000, 1), steps=600, seed=0)
        elapsed = time.process_time() - t0
    finally:
        torch.set_num_threads(threads)
    x = np.linspace(-4, 4, 401)
    pr, pg = p_r.pdf(x), p_g.pdf(x)
    mass = (pr + pg) / 2 > 0.05
    err = np.abs(d.probability(x) - T.optimal_discriminator(pr, pg))[mass]
    assert err.max() < 0.12 and err.mean() < 0.04, (err.max(), err.mean())
    assert elapsed < 10
