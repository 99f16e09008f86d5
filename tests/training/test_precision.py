"""Mixed precision: what auto picks, autocast in every model's step with fp32 losses and master
weights, one gradient scaler per optimizer for fp16, fp32 where precision matters (the gradient
penalty, likelihoods), exact resume in each precision, and channels_last."""

import json

import pytest
import torch

import genlab
import genlab.errors
from genlab.metrics.likelihood import importance_log_likelihood
from genlab.models import gan_losses as L
from genlab.training import checkpoint as ckpt
from genlab.training import precision as amp
from tests.models.test_common import CASES as ALL_CASES, make
from tests.models.tiny import stream_for

CASES = [(name, i) for name, i, kind in ALL_CASES if kind == "image"]

CPU = torch.device("cpu")


def test_auto_picks_bf16_only_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(amp, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert amp.resolve("auto", CPU)[0] == "bf16"
    monkeypatch.setattr(amp, "_cpu_flags", lambda: {"avx2"})
    name, why = amp.resolve("auto", CPU)
    assert name == "fp32" and "no avx512_bf16" in why
    assert amp.resolve("fp16", CPU)[0] == "fp16" and amp.resolve("fp32", CPU)[0] == "fp32"
    assert amp.resolve("auto", torch.device("mps"))[0] == "fp32"


@pytest.mark.parametrize("prec", ["bf16", "fp16"])
@pytest.mark.parametrize("name,i", CASES)
def test_every_model_steps_in_mixed_precision_with_fp32_losses_and_weights(name, i, prec):
    model = make(name, i)
    opts = model.configure_optimizers()
    p = amp.Precision(prec, CPU)
    p.attach(opts)
    with p.autocast():
        out = model.train_step(stream_for(type(model)), opts, 0)
    for k, v in out.items():
        assert v.dtype == torch.float32 and torch.isfinite(v), k
    assert all(t.dtype == torch.float32 for t in model.state_dict().values() if t.is_floating_point())
    for opt in opts.values():
        for state in opt.state.values():
            assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point() and v.dim())


def test_fp16_gives_each_optimizer_its_own_scaler_and_skips_an_overflowing_step():
    model = make("dcgan", 0)
    opts = model.configure_optimizers()
    p = amp.Precision("fp16", CPU)
    p.attach(opts)
    assert set(p.scalers) == {"d", "g"} and p.scalers["d"] is not p.scalers["g"]
    assert opts["d"].grad_scaler is p.scalers["d"]
    w = model.discriminator.net[0].weight.detach().clone()
    loss = model.critic(torch.rand(4, 1, 8, 8)).sum() * float("inf")  # every gradient overflows
    amp.backward_step(loss, opts["d"])
    assert torch.equal(w, model.discriminator.net[0].weight)  # step skipped
    assert p.scalers["d"].get_scale() < p.scalers["g"].get_scale()  # only D's scale backed off


def test_the_gradient_penalty_is_computed_in_fp32_under_autocast(monkeypatch):
    seen = []
    real_gp = L.gradient_penalty

    def spy(critic, real, fake):
        seen.append((real.dtype, fake.dtype, torch.is_autocast_enabled("cpu")))
        return real_gp(critic, real, fake)

    monkeypatch.setattr(L, "gradient_penalty", spy)
    model = make("wgan-gp", 0)
    with amp.Precision("bf16", CPU).autocast():
        out = model.train_step(stream_for(type(model)), model.configure_optimizers(), 0)
    assert seen and all(s == (torch.float32, torch.float32, False) for s in seen)
    assert out["gp"].dtype == torch.float32


def test_the_likelihood_estimate_is_fp32_whatever_comes_in():
    x = torch.rand(3, 5)
    mu, logvar = torch.zeros(3, 2, dtype=torch.bfloat16), torch.zeros(3, 2, dtype=torch.bfloat16)
    seen = []

    def log_px(x_, z):
        seen.append((x_.dtype, z.dtype))
        return -(x_ - z.sum(-1, keepdim=True)).pow(2).sum(-1)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        ll = importance_log_likelihood(x, mu, logvar, log_px, k=10)
    assert ll.dtype == torch.float32 and set(seen) == {(torch.float32, torch.float32)}


def _train(out, steps, prec, **kw):
    return genlab.train("dcgan", "digits", steps=steps, out=out, batch_size=16, seed=3, progress=False,
                        tensorboard=False, sample_every=0, log_every=2,
                        overrides=["ngf=4", "ndf=4", "z_dim=8", f"train.precision={prec}"], **kw)


@pytest.mark.parametrize("prec", ["bf16", "fp16"])
def test_resume_is_bit_exact_in_mixed_precision(tmp_path, prec):
    one_go = _train(tmp_path / "a", 8, prec)
    _train(tmp_path / "b", 4, prec)
    resumed = genlab.train(resume=tmp_path / "b", steps=8, progress=False)
    a, b = one_go.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    meta = ckpt.find_checkpoint(tmp_path / "b").meta
    assert meta["precision"] == prec and meta["threads"] == 1 and meta["memory_format"] == "channels_last"
    state = ckpt.load_state(ckpt.find_checkpoint(tmp_path / "b"))
    assert ("precision" in state) == (prec == "fp16")  # the scalers' state, for fp16
    assert not torch.equal(a["generator.net.0.weight"], _train(tmp_path / "c", 8, "fp32").state_dict()["generator.net.0.weight"])


def test_auto_is_saved_as_what_it_chose(tmp_path, monkeypatch):
    monkeypatch.setattr(amp, "_cpu_flags", lambda: {"amx_bf16"})
    _train(tmp_path / "r", 2, "auto")
    meta = json.loads((ckpt.find_checkpoint(tmp_path / "r").path / "meta.json").read_text())
    assert meta["precision"] == "bf16" and meta["precision_reason"].startswith("auto: CPU flags amx_bf16")


def test_channels_last_is_the_same_maths_for_convolutions():
    model = make("dcgan", 0)
    x = torch.rand(8, 3, 8, 8)
    from genlab.models.gan_nets import DCGANDiscriminator

    d = DCGANDiscriminator((3, 8, 8), 4, "batch")
    ref = d(x)
    d = d.to(memory_format=torch.channels_last)
    assert d.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(d(x.contiguous(memory_format=torch.channels_last)), ref)
    from genlab.training.trainer import memory_format

    assert memory_format("auto", model, CPU) == torch.channels_last
    assert memory_format("auto", make("vae", 0), CPU) == torch.contiguous_format
    with pytest.raises(genlab.errors.ConfigError, match="applies to convolutional"):
        memory_format("channels_last", make("vae", 0), CPU)


@pytest.mark.parametrize("prec", ["bf16", "fp16"])
def test_a_pass_after_an_update_in_the_same_step_sees_the_new_weights(prec):
    lin = torch.nn.Linear(8, 8)
    opt = torch.optim.SGD(lin.parameters(), lr=1.0)
    x = torch.ones(4, 8)
    with amp.Precision(prec, CPU).autocast():
        before = lin(x)
        amp.backward_step(-before.float().sum() / 4, opt)  # weights += 1: D's update before G's pass
        after = lin(x)
    torch.testing.assert_close((after - before).float(), torch.full((4, 8), 9.0), atol=0.1, rtol=0.02)
