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
