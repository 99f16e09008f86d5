"""The whitened w space of a GAN with a mapping network (genlab.latent.WSpace)."""

import pytest
import torch

from genlab.config import from_dict
from genlab.errors import ConfigError
from genlab.latent import WSpace, in_space
from genlab.models import MODELS

from .models.tiny import spec_for


def _gan(**config):
    torch.manual_seed(0)
    cls = MODELS["dcgan"]
    return cls(from_dict(cls.Config, {"ngf": 4, "ndf": 4, "z_dim": 6, **config}, section="model"), spec_for(cls, "image")).eval()


def test_the_mapping_network_turns_z_into_w_before_the_synthesis_network():
    model = _gan(mapping=3, mapping_width=16)
    g = model.generator
    assert [m.out_features for m in g.mapping if isinstance(m, torch.nn.Linear)] == [16, 16, 6]
    z = torch.randn(5, 6)
    assert torch.equal(g(z), g.synthesis(g.map(z)))
    # pixel norm first: z and 2 z have the same w
    assert torch.allclose(g.map(2 * z), g.map(z), atol=1e-6)


def test_mapping_width_without_a_mapping_network_is_refused():
    with pytest.raises(ConfigError, match="mapping_width"):
        _gan(mapping_width=64)
    with pytest.raises(ConfigError, match="mapping"):
        _gan(mapping=-1)


def test_whitened_codes_have_zero_mean_and_identity_covariance_and_decode_to_the_same_images():
    model = _gan(mapping=2, mapping_width=16)
    space = WSpace(model, n=4000)
    u = space.prior(4000, torch.Generator().manual_seed(0))  # the draws the statistics came from
    assert torch.allclose(u.mean(0), torch.zeros(6), atol=1e-4)
    assert torch.allclose(torch.cov(u.T), torch.eye(6), atol=1e-3)
    # a draw through w and back is the model's own image of that draw
    z = model.prior(8, torch.Generator().manual_seed(1))
    u = space.prior(8, torch.Generator().manual_seed(1))
    assert torch.allclose(space.decode(u), model.decode(z), atol=1e-4)
    # one unit along a unit direction moves w by one standard deviation of the draws' w along it
    v = torch.randn(6, dtype=torch.float64)
    v /= v.norm()
    with torch.no_grad():
        w = model.generator.map(model.prior(4000, torch.Generator().manual_seed(2))).double()
    step = (u[:1].double() + v) @ space.root - u[:1].double() @ space.root  # (1, 6): the move in w
    assert float(step @ torch.linalg.solve(torch.cov(w.T), step.T)) == pytest.approx(1.0, rel=0.1)


def test_the_noise_space_is_the_model_and_a_model_without_a_mapping_network_has_no_w_space():
    model = _gan()
    assert in_space(model, "noise") is model
    with pytest.raises(ValueError, match="mapping"):
        in_space(model, "w")
    with pytest.raises(ValueError, match="latent space"):
        in_space(model, "x")
