"""Linear and spherical interpolation."""

import math

import pytest
import torch

from genlab.latent import interpolate, lerp, slerp


def test_endpoints_are_exact():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 4, 16, generator=g)
    for method in ("lerp", "slerp"):
        path = interpolate(z0, z1, 7, method)
        assert path.shape == (4, 7, 16)
        assert torch.allclose(path[:, 0], z0, atol=1e-5) and torch.allclose(path[:, -1], z1, atol=1e-5)


def test_slerp_keeps_the_norm_on_a_sphere_and_lerp_does_not():
    z0 = torch.tensor([[1.0, 0.0]])
    z1 = torch.tensor([[0.0, 1.0]])
    t = torch.tensor([0.5])
    mid = slerp(z0, z1, t)[0, 0]
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]))
    assert torch.allclose(lerp(z0, z1, t)[0, 0].norm(), torch.tensor(math.sqrt(0.5)))


def test_slerp_falls_back_to_lerp_for_parallel_vectors():
    z0 = torch.tensor([[1.0, 2.0]])
    t = torch.linspace(0, 1, 5)
    assert torch.allclose(slerp(z0, 2 * z0, t), lerp(z0, 2 * z0, t))
    assert torch.isfinite(slerp(z0, z0, t)).all()


def test_unknown_method_and_too_few_steps():
    z = torch.zeros(1, 2)
    with pytest.raises(ValueError):
        interpolate(z, z, 5, "cubic")
    with pytest.raises(ValueError):
        interpolate(z, z, 1)


# -- attribute directions -------------------------------------------------------------------------

def test_the_svm_normal_recovers_a_known_attribute_direction():
    """Scores that depend on the codes only through w . z: the direction found is w (up to noise)."""
    from genlab.latent import find_direction

    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, generator=g)
    w = w / w.norm()
    z = torch.randn(4000, 16, generator=g)
    scores = z @ w + 0.1 * torch.randn(4000, generator=g)
    d, held_out = find_direction(z, scores, fraction=0.1)
    assert float(d.norm()) == pytest.approx(1.0, abs=1e-5)
    assert float(d @ w) > 0.97  # same sign: towards higher scores
    assert held_out > 0.95
    # a score that depends on nothing: no direction to speak of
    d_noise, acc_noise = find_direction(z, torch.randn(4000, generator=g), fraction=0.1)
    assert abs(float(d_noise @ w)) < 0.5 and acc_noise < 0.75


def test_orthogonal_directions_and_moves():
    from genlab.latent import move, orthogonal

    a, b = torch.tensor([1.0, 1.0, 0.0]) / 2**0.5, torch.tensor([1.0, 0.0, 0.0])
    d = orthogonal(a, b)
    assert torch.allclose(d, torch.tensor([0.0, 1.0, 0.0])) and abs(float(d @ b)) < 1e-7
    with pytest.raises(ValueError):
        orthogonal(b, b)
    # two others that are not orthogonal: the result is orthogonal to both (one after the other is not)
    c, e = torch.tensor([1.0, 1.0, 1.0, 0.0]) / 3**0.5, torch.tensor([1.0, 0.0, 0.0, 0.0])
    x = torch.tensor([0.5, 0.1, 0.8, 0.3])
    both = orthogonal(x, torch.stack([c, e]))
    assert abs(float(both @ c)) < 1e-6 and abs(float(both @ e)) < 1e-6 and float(both.norm()) == pytest.approx(1)
    assert abs(float(orthogonal(orthogonal(x, c), e) @ c)) > 0.03
    assert torch.allclose(both, torch.tensor([0.0, -0.35, 0.35, 0.3]) / 0.335**0.5, atol=1e-6)
    with pytest.raises(ValueError):
        orthogonal(c, torch.stack([c, e]))
    codes = torch.zeros(2, 5)  # 3 noise values, then a condition of 2 that must not move
    codes[:, 3:] = 1
    moved = move(codes, d, torch.tensor([-2.0, 0.0, 3.0]))
    assert moved.shape == (2, 3, 5)
    assert torch.equal(moved[0, :, 1], torch.tensor([-2.0, 0.0, 3.0])) and (moved[..., 3:] == 1).all()


def test_preserving_shrinks_the_moves_that_change_the_others_by_their_weight():
    from genlab.latent import preserving

    n = torch.tensor([1.0, 1.0, 0.0]) / 2**0.5
    e1 = torch.tensor([1.0, 0.0, 0.0])
    gram = 5 * torch.outer(e1, e1)  # a tag read along e1 alone: its trace-scaled Gram is e1 e1^T
    for w in (0.0, 1.0, 9.0):  # (I + w e1 e1^T)^{-1} n = (1 / (1 + w), 1, 0) / sqrt 2
        want = torch.tensor([1 / (1 + w), 1.0, 0.0])
        assert torch.allclose(preserving(n, gram, w), want / want.norm(), atol=1e-6)
    two = torch.stack([gram, 0.01 * torch.outer(n, n)])  # each tag weighs alike, whatever its scale
    v = preserving(torch.tensor([0.0, 0.0, 1.0]), two, 3.0)
    assert torch.allclose(v, torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)  # a move neither reads stays
    with pytest.raises(ValueError, match=">= 0"):
        preserving(n, gram, -1.0)
