"""The suite every registered model gets for free, at tiny widths (as in diffusers / pythae):
shapes, determinism, save/load, and one step changes the weights."""

import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab.config import from_dict
from genlab.models import MODELS

from .tiny import ON_POINTS, ON_TAGS, TINY, spec_for, stream_for, tiny_data, tiny_images

CASES = [(name, i, "image") for name in sorted(MODELS) for i in range(len(TINY.get(name, [None])))] + \
    [(name, i, "points") for name, cases in sorted(ON_POINTS.items()) for i in cases] + \
    [(name, i, "tags") for name, cases in sorted(ON_TAGS.items()) for i in range(len(cases))]


def make(name, i, seed=0, kind="image"):
    torch.manual_seed(seed)
    cls = MODELS[name]
    cfg = from_dict(cls.Config, (ON_TAGS if kind == "tags" else TINY)[name][i], section="model")
    return cls(cfg, spec_for(cls, kind))


def test_every_model_has_a_tiny_config():
    assert set(TINY) == set(MODELS)


@pytest.mark.parametrize("name,i,kind", CASES)
def test_train_step_returns_finite_named_scalars(name, i, kind):
    model = make(name, i, kind=kind)
    out = model.train_step(stream_for(type(model), kind=kind), model.configure_optimizers(), 0)
    assert any(k.startswith("loss") for k in out)
    for k, v in out.items():
        assert isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad, k
        assert math.isfinite(float(v)), k


@pytest.mark.parametrize("name,i,kind", CASES)
def test_one_step_changes_every_network(name, i, kind):
    model = make(name, i, kind=kind)
    before = {k: v.clone() for k, v in model.named_parameters()}
    model.train_step(stream_for(type(model), kind=kind), model.configure_optimizers(), 0)
    after = dict(model.named_parameters())
    for module_name, module in model.named_children():  # every network, and each weight matrix in it
        params = [k for k, _ in module.named_parameters(prefix=module_name)]
        assert not params or any(not torch.equal(before[k], after[k]) for k in params), f"{module_name} did not change"
        for k in params:  # biases may be exempt: a critic's score bias gets no gradient under a shift-invariant loss
            assert after[k].dim() < 2 or not torch.equal(before[k], after[k]), f"{k} did not change"


@pytest.mark.parametrize("name,i,kind", CASES)
def test_same_seed_same_training(name, i, kind):
    def run():
        model = make(name, i, seed=3, kind=kind)
        torch.manual_seed(5)
        s, opts = stream_for(type(model), 1, kind=kind), model.configure_optimizers()
        for step in range(3):
            model.train_step(s, opts, step)
        return model.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name,i,kind", CASES)
def test_safetensors_round_trip(name, i, kind, tmp_path):
    model = make(name, i, seed=1, kind=kind)
    model.train_step(stream_for(type(model), kind=kind), model.configure_optimizers(), 0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    other = make(name, i, seed=2, kind=kind)
    other.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    model.eval(), other.eval()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    if getattr(model, "generator", True) is None:  # a classifier alone: the same classes
        x = tiny_images().test[:8]
        assert torch.equal(model.classify(x), other.classify(x))
        return
    z = model.prior(4, torch.Generator().manual_seed(0)) if hasattr(model, "prior") else \
        torch.randn(4, model.config.latent_dim)
    assert torch.equal(model.decode(z), other.decode(z))


@pytest.mark.parametrize("name,i,kind", CASES)
def test_preview_and_evaluate(name, i, kind):
    model = make(name, i, kind=kind)
    data = tiny_data(kind)
    state = torch.get_rng_state()
    previews = model.preview(data.test[:4], seed=0)
    assert torch.equal(state, torch.get_rng_state()), "preview must not touch the global RNG"
    assert previews or getattr(model, "generator", True) is None  # a classifier alone has nothing to draw
    for images in previews.values():
        assert images.shape[1:] == spec_for(type(model), kind).shape
    assert all(torch.equal(a, b) for a, b in zip(previews.values(), model.preview(data.test[:4], 0).values()))
    if hasattr(model, "reconstruct") and not hasattr(model, "generator"):  # a GAN's scores need an evaluator: its own tests
        results = model.evaluate(data, k=5)
        assert results["recon_mse"] > 0 and math.isfinite(results["recon_mse"])


@pytest.mark.parametrize("name,i,kind", [c for c in CASES if c[0] in ("ae", "vae")])
def test_encode_decode_shapes(name, i, kind):
    model = make(name, i, kind=kind)
    x = tiny_data(kind).test[:5]
    z = model.encode(x)
    z = z[0] if isinstance(z, tuple) else z
    assert z.shape == (5, model.config.latent_dim)
    assert model.decode(z).shape == x.shape
    assert model.decode(z.unsqueeze(0).expand(2, -1, -1)).shape == (2, *x.shape)
