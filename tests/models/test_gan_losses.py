"""GAN losses against their formulas, and the GAN model's update rules."""

import math

import pytest
import torch
from torch import nn

from genlab.data.dataset import DataSpec
from genlab.data.loader import BatchStream
from genlab.models import gan_losses as L
from genlab.models.gan import GAN, GANRecipeConfig as GANConfig  # the `gan` preset: the 2-D recipe


def test_bce_discriminator_loss_golden_number():
    # D(x) = sigmoid(0) = 1/2 on both sides: -log(1/2) - log(1 - 1/2) = 2 log 2
    zero = torch.zeros(4)
    assert math.isclose(L.d_loss_bce(zero, zero).item(), 2 * math.log(2), rel_tol=1e-6)
    r, f = torch.tensor([2.0]), torch.tensor([-1.0])
    expected = -math.log(torch.sigmoid(r).item()) - math.log(1 - torch.sigmoid(f).item())
    assert math.isclose(L.d_loss_bce(r, f).item(), expected, rel_tol=1e-6)


def test_minimax_and_ns_generator_gradients_match_their_formulas():
    f = torch.tensor([-6.0, -2.0, 0.0, 3.0], requires_grad=True)  # logits of a fixed D on fakes
    (g_mm,) = torch.autograd.grad(L.g_loss_minimax(f), f)
    (g_ns,) = torch.autograd.grad(L.g_loss_ns(f), f)
    s = torch.sigmoid(f.detach())
    # d/df of mean log(1 - sigmoid(f)) = -sigmoid(f) / B; of mean -log sigmoid(f) = -(1 - sigmoid(f)) / B
    assert torch.allclose(g_mm, -s / 4)
    assert torch.allclose(g_ns, -(1 - s) / 4)
    # when D rejects fakes confidently the saturating gradient vanishes, the non-saturating does not
    assert abs(g_mm[0]) < 1e-3 and abs(g_ns[0]) > 0.24


def test_least_squares_and_wasserstein_and_hinge_golden_numbers():
    r, f = torch.tensor([1.0, 0.0]), torch.tensor([0.5, -1.0])
    assert math.isclose(L.d_loss_ls(r, f).item(), 0.5 * 0.5 + 0.5 * 0.625, rel_tol=1e-6)
    assert math.isclose(L.d_loss_ls(r, f, a=-1, b=1).item(), 0.5 * 0.5 + 0.5 * 1.125, rel_tol=1e-6)
    assert math.isclose(L.g_loss_ls(f).item(), 0.5 * (0.25 + 4) / 2, rel_tol=1e-6)
    assert math.isclose(L.d_loss_wgan(r, f).item(), -0.25 - 0.5, rel_tol=1e-6)
    assert math.isclose(L.d_loss_hinge(r, f).item(), (0 + 1) / 2 + (1.5 + 0) / 2, rel_tol=1e-6)


def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic_and_positive_otherwise():
    torch.manual_seed(0)
    real, fake = torch.randn(64, 3), torch.randn(64, 3)
    unit = nn.Linear(3, 1)
    with torch.no_grad():
        unit.weight.copy_(torch.tensor([[0.6, 0.0, 0.8]]))  # ||w|| = 1: gradient norm 1 everywhere
    assert L.gradient_penalty(lambda x: unit(x).squeeze(1), real, fake).item() < 1e-10
    with torch.no_grad():
        unit.weight.mul_(3.0)  # ||w|| = 3: penalty (3 - 1)^2 = 4
    assert math.isclose(L.gradient_penalty(lambda x: unit(x).squeeze(1), real, fake).item(), 4.0, rel_tol=1e-5)
    mlp = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    assert L.gradient_penalty(lambda x: mlp(x).squeeze(1), real, fake).item() > 0


SPEC = DataSpec(kind="points", shape=(2,), center=(0.0, 0.0), scale=1.0)


def gan(**kw):
    torch.manual_seed(0)
    return GAN(GANConfig(g_hidden=(16,), d_hidden=(16,), z_dim=4, **kw), SPEC)


def stream():
    return BatchStream(torch.randn(256, 2), None, 32, seed=0)


@pytest.mark.parametrize("loss", L.LOSSES)
def test_each_loss_updates_both_networks(loss):
    model = gan(loss=loss)
    g0 = [p.clone() for p in model.generator.parameters()]
    d0 = [p.clone() for p in model.discriminator.parameters()]
    out = model.train_step(stream(), model.configure_optimizers(), 0)
    assert all(math.isfinite(float(v)) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters()))


def test_weight_clipping_holds_its_bound():
    model = gan(loss="wgan", clip=0.02, lr_d=0.5, optimizer="rmsprop", d_steps=3)
    model.train_step(stream(), model.configure_optimizers(), 0)
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) <= 0.02 + 1e-7


def test_k_discriminator_steps_draw_k_fresh_batches():
    model = gan(d_steps=4)
    s = stream()
    model.train_step(s, model.configure_optimizers(), 0)
    assert s.batches_drawn == 4 and model.batches_per_step == 4


def test_generator_step_leaves_the_discriminator_alone():
    model = gan()
    opts = model.configure_optimizers()
    d0 = [p.clone() for p in model.discriminator.parameters()]
    model.generator_step(32, opts["g"], 0)
    assert all(torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters()))
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_ema_follows_its_formula_and_is_used_for_sampling():
    model = gan(ema=0.9)
    opts = model.configure_optimizers()
    s = stream()
    model.train_step(s, opts, 0)  # first update copies G
    assert all(torch.equal(a, b) for a, b in zip(model.ema_generator.module.parameters(), model.generator.parameters()))
    ema_before = [p.clone() for p in model.ema_generator.module.parameters()]
    model.train_step(s, opts, 1)
    for e0, e1, g in zip(ema_before, model.ema_generator.module.parameters(), model.generator.parameters()):
        assert torch.allclose(e1, 0.9 * e0 + 0.1 * g, atol=1e-6)
    z = model.prior(5)  # z, then the one-hot cluster of these 2-D points
    assert torch.allclose(model.decode(z), model.ema_generator.module(z))


def test_packing_groups_samples_for_the_discriminator():
    model = gan(pack=4)
    x = torch.arange(16.0).view(8, 2)
    packed = model.packed(x)
    assert packed.shape == (2, 8) and torch.equal(packed[0], torch.arange(8.0))
    assert model.critic(x).shape == (2,)
    assert model.field(torch.zeros(3, 2)).shape == (3,)
