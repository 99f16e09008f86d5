"""No host sync in a training step: no model's step reads a tensor back to Python."""

import pytest
import torch

from genlab.data.dataset import DataSpec
from genlab.data.loader import BatchStream
from genlab.models import MODELS
from genlab.training import precision as amp
from tests.models.test_common import CASES as ALL_CASES, make
from tests.models.tiny import stream_for

CASES = [(name, i) for name, i, kind in ALL_CASES if kind == "image"]

SYNCS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy")

POINT_CASES = [  # the 2-D recipe's parts, each on: clusters, packing, EMA, decay, R1 (lazy too), SN, GP, clipping
    dict(g_hidden=(16,), d_hidden=(16,), z_dim=4, clusters=3, ema=0.9, r1_gamma=1.0),
    dict(g_hidden=(16,), d_hidden=(16,), z_dim=4, r1_gamma=1.0, r1_every=2),  # lazy: steps with and without
    dict(g_hidden=(16,), d_hidden=(16,), z_dim=4, loss="wgan-gp", spectral_norm=True, d_steps=2),
    dict(g_hidden=(16,), d_hidden=(16,), z_dim=4, loss="wgan", optimizer="rmsprop", pack=1, clusters=0),
]


@pytest.fixture
def no_sync(monkeypatch):
    """Arms a detector: reading any tensor back raises, except the optimizers' step counters,
    which torch keeps on the CPU for a model on a GPU (non-fused, non-capturable optimizers)."""
    def armed(allowed=frozenset()):
        for name in SYNCS:
            original = getattr(torch.Tensor, name)

            def call(self, *args, _name=name, _original=original, **kwargs):
                if id(self) in allowed:
                    return _original(self, *args, **kwargs)
                raise AssertionError(f"Tensor.{_name} called in a training step (a host sync on a GPU)")
            monkeypatch.setattr(torch.Tensor, name, call)
    return armed


def _steps(model, batches, no_sync, prec="fp32"):
    opts = model.configure_optimizers()
    p = amp.Precision(prec, torch.device("cpu"))
    p.attach(opts)
    with p.autocast():
        model.train_step(batches, opts, 0)  # creates the optimizer states
        counters = {id(s["step"]) for o in opts.values() for s in o.state.values()
                    if "step" in s and s["step"].device.type == "cpu" and not o.defaults.get("fused")}
        no_sync(frozenset(counters))
        for step in range(1, 4):
            model.train_step(batches, opts, step)


@pytest.mark.parametrize("prec", ["fp32", "bf16"])
@pytest.mark.parametrize("name,i", CASES)
def test_no_model_step_reads_a_tensor_back(name, i, prec, no_sync):
    model = make(name, i)
    _steps(model, stream_for(type(model)), no_sync, prec)


@pytest.mark.parametrize("cfg", POINT_CASES)
def test_no_step_of_the_2d_recipe_reads_a_tensor_back(cfg, no_sync):
    from genlab.config import from_dict

    cls = MODELS["gan"]
    torch.manual_seed(0)
    model = cls(from_dict(cls.Config, cfg, section="model"), DataSpec(kind="points", shape=(2,), center=(0.0, 0.0), scale=1.0))
    x = torch.randn(256, 2) + torch.tensor([[3.0, 0.0]]) * torch.randint(0, 2, (256, 1))
    if model.condition is not None:
        from genlab.data.dataset import Dataset

        model.prepare(Dataset(name="two", kind="points", train=x, test=x[:32]))
    _steps(model, BatchStream(x, None, 32, seed=0), no_sync)


def test_the_fp16_step_of_fused_adam_has_no_sync_either(no_sync):
    _steps(make("dcgan", 0), stream_for(MODELS["dcgan"]), no_sync, "fp16")


def test_the_sync_detector_catches_a_sync(no_sync):
    no_sync()
    with pytest.raises(AssertionError, match="Tensor.item"):
        torch.ones(()).item()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: the CPU test above stands in")
@pytest.mark.parametrize("name,i", CASES)
def test_no_synchronising_cuda_call_in_a_step(name, i):
    model = make(name, i).cuda()
    batches = stream_for(type(model))
    batches.device = torch.device("cuda")
    if batches.labelled is not None:
        batches.labelled.device = torch.device("cuda")
    opts = model.configure_optimizers()
    model.train_step(batches, opts, 0)  # warm-up: lazy initialisation may sync once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(1, 4):
            model.train_step(batches, opts, step)
    finally:
        torch.cuda.set_sync_debug_mode("default")
