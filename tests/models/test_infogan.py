"""InfoGAN: the codes, which networks the information loss updates (with and without D's trunk),
raw logits into the cross-entropy, the code sweep, and that a tiny run's Q finds the digits."""

import math

import pytest
import torch
from torch.nn import functional as F

from genlab.config import from_dict
from genlab.data.dataset import DataSpec
from genlab.errors import ConfigError, GenlabError
from genlab.models import MODELS
from genlab.models import infogan as infogan_module

SPEC = DataSpec(kind="image", shape=(1, 8, 8), num_classes=10)


def make(**cfg):
    torch.manual_seed(0)
    cls = MODELS["infogan"]
    return cls(from_dict(cls.Config, {"ngf": 4, "ndf": 4, "z_dim": 4, **cfg}, section="model"), SPEC)


def test_codes_are_a_uniform_category_then_uniform_continuous_values():
    model = make(categories=5, continuous=3)
    latent = model.prior(4000, torch.Generator().manual_seed(0))
    c = model.condition_of(latent)
    assert latent.shape == (4000, 4 + 5 + 3) and c.shape == (4000, 8)
    assert torch.equal(c[:, :5].sum(1), torch.ones(4000))
    counts = torch.bincount(c[:, :5].argmax(1), minlength=5).float() / 4000
    assert (counts - 0.2).abs().max() < 0.03
    u = c[:, 5:]
    assert u.min() >= -1 and u.max() <= 1 and abs(float(u.mean())) < 0.03 and abs(float(u.var()) - 1 / 3) < 0.02
    again = model.condition_of(model.prior(4000, torch.Generator().manual_seed(0)))
    assert torch.equal(c, again)


def test_the_sweep_holds_one_noise_a_category_a_row_and_sweeps_one_code():
    model = make(categories=3, continuous=2)
    latent = model.code_sweep(1, columns=5, generator=torch.Generator().manual_seed(0))
    assert latent.shape == (15, 4 + 5)
    z, cat, cont = latent[:, :4], latent[:, 4:7], latent[:, 7:]
    assert torch.equal(z, z[:1].expand(15, -1))
    assert torch.equal(cat.argmax(1), torch.arange(3).repeat_interleave(5))
    assert torch.equal(cont[:, 0], torch.zeros(15))
    assert torch.allclose(cont[:5, 1], torch.linspace(-2, 2, 5)) and torch.equal(cont[:5, 1], cont[5:10, 1])
    with pytest.raises(GenlabError, match="no code 3"):
        model.code_sweep(2)


def parts_with_gradient(model) -> dict[str, bool]:
    d = model.discriminator
    parts = {"G": model.generator, "D trunk": d.net[:-1], "D score": d.net[-1], "Q": d.q_head}
    return {k: any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters()) for k, m in parts.items()}


@pytest.mark.parametrize("trunk", [True, False])
def test_the_information_loss_reaches_the_networks_it_should(trunk):
    model = make(info_updates_trunk=trunk)
    with torch.no_grad():  # as in discriminator_step: D's side sees fixed fakes
        latent = model.prior(8)
        fake = model.generator(latent)
    _, f_feat = model.judge(fake)
    model.d_terms(None, f_feat, None, model.condition_of(latent))["info_d"].backward()
    assert parts_with_gradient(model) == {"G": False, "D trunk": trunk, "D score": False, "Q": True}
    for p in model.parameters():
        p.grad = None
    model.discriminator.requires_grad_(False)  # as in generator_step
    latent = model.prior(8)
    _, f_feat = model.judge(model.generator(latent))
    model.g_terms(f_feat, model.condition_of(latent))["info_g"].backward()
    assert parts_with_gradient(model) == {"G": True, "D trunk": False, "D score": False, "Q": False}


def test_q_gives_raw_logits_to_the_cross_entropy(monkeypatch):
    model = make(continuous=0)
    with torch.no_grad():  # sharp logits: category 0 for everything
        model.discriminator.q_head.bias.copy_(50 * F.one_hot(torch.tensor(0), 10))
    seen, real_cross_entropy = {}, F.cross_entropy

    def spy(logits, y, *a, **k):
        seen["logits"] = logits.detach()
        return real_cross_entropy(logits, y, *a, **k)

    monkeypatch.setattr(infogan_module.F, "cross_entropy", spy)
    latent = model.prior(8)
    _, feat = model.judge(model.generator(latent))
    raw = model.discriminator.q_head(feat).float()
    wrong = F.one_hot((raw.argmax(1) + 1) % 10, 10).float()
    loss = model.info_loss(feat, wrong)
    assert torch.equal(seen["logits"], raw.detach()) and loss > math.log(10) + 1


def test_infogan_settings_are_checked():
    with pytest.raises(ConfigError, match="pack"):
        make(pack=2)
    with pytest.raises(ConfigError, match="condition=code"):
        make(d_condition="projection")
    with pytest.raises(ConfigError, match="infogan"):
        MODELS["gan"](MODELS["gan"].Config(condition="code"), SPEC)


def test_genlab_sample_sweep_code_draws_the_papers_grid(tmp_path, capsys):
    from PIL import Image

    from genlab.cli.main import main

    run = tmp_path / "run"
    assert main(["train", "infogan", "--data", "digits", "--steps", "3", "--out", str(run), "--no-progress",
                 "ngf=4", "ndf=4", "z_dim=4", "categories=4", "continuous=2", "train.tensorboard=false"]) == 0
    assert main(["sample", str(run), "--sweep", "code2", "--n", "5", "--out", str(tmp_path / "s.png")]) == 0
    w, h = Image.open(tmp_path / "s.png").size
    assert w * 4 > h * 5 * 0.9 and w * 4 < h * 5 * 1.1  # 4 rows of 5 columns of square images
    assert (run / "samples" / "code-sweep-step00000003.png").is_file()
    capsys.readouterr()
    assert main(["sample", str(run), "--sweep", "code3", "--out", str(tmp_path / "t.png")]) == 2
    assert "no code 3" in capsys.readouterr().err and not (tmp_path / "t.png").exists()
    assert main(["sample", str(run), "--sweep", "codes", "--out", str(tmp_path / "t.png")]) == 2
    assert main(["eval", str(run), "--k", "5"]) == 2


@pytest.mark.slow
def test_a_tiny_infogan_on_digits_finds_the_digits_without_labels(tmp_path):
    """Seeded, 1,000 steps on the 8x8 digits (no label is read in training): Q's category matches
    the test digits one to one on at least 30 % of the 360 test images (0.458 measured, 0.481 at
    1,500 steps; a random 10-way assignment scores about 0.13), and the information term nearly
    reaches ln 10 (2.289 of 2.303 measured)."""
    import genlab
    from genlab.metrics.clustering import clustering_scores

    model = genlab.train("infogan", "digits", steps=1000, batch_size=64, seed=0, out=tmp_path / "i",
                         progress=False, tensorboard=False, sample_every=0, checkpoint_every=0)
    data = genlab.api.load_data(model.run_config.data)
    scores = clustering_scores(model.infer_category(data.test), data.test_labels)
    assert scores["cluster_accuracy"] >= 0.30 and scores["nmi"] >= 0.2, scores
    random = clustering_scores(torch.randint(0, 10, (360,), generator=torch.Generator().manual_seed(0)),
                               data.test_labels)
    assert random["cluster_accuracy"] < 0.2
    assert math.log(10) - 0.1 < model.information() <= math.log(10)
