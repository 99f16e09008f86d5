"""Tag conditions: p(c) from the training combinations, prompts fix their tags, the multi-label
loss against its formula, which networks each term updates, and the ways D sees the tags."""

import math

import pytest
import torch
from torch.nn import functional as F

from genlab.config import from_dict
from genlab.data.dataset import DataSpec
from genlab.errors import ConfigError, GenlabError
from genlab.models import MODELS
from genlab.models.conditions import tag_loss, tag_predict
from genlab.models.gan_nets import TILE_EMBED, DCGANDiscriminator

from .tiny import TAG_SPEC, tiny_tagged

VOCAB = tiny_tagged().tags  # hair: blue/green/red (always); ribbon: blue/red (or none); glasses, smile


def make(name, **cfg):
    torch.manual_seed(0)
    cls = MODELS[name]
    return cls(from_dict(cls.Config, {"ngf": 4, "ndf": 4, "z_dim": 4, **cfg}, section="model"), TAG_SPEC)


def idx(*tags):
    return [VOCAB.names.index(t) for t in tags]


def test_the_vocabulary_of_the_tiny_set():
    assert VOCAB.names == ("blue hair", "green hair", "red hair", "blue ribbon", "red ribbon", "glasses", "smile")
    assert [(g.name, g.members, g.always) for g in VOCAB.groups] == [("hair", (0, 1, 2), True), ("ribbon", (3, 4), False)]


def test_p_of_c_is_the_training_combinations_and_survives_a_checkpoint():
    model = make("cgan")
    data = tiny_tagged(n=200)
    model.prepare(data)
    rows = {tuple(r.tolist()) for r in data.train_tags}
    drawn = model.condition.sample(500, torch.Generator().manual_seed(0))
    assert {tuple(r.tolist()) for r in drawn} <= rows
    assert model.condition.rows.shape[0] == len(rows) and math.isclose(float(model.condition.p.sum()), 1, rel_tol=1e-6)
    fresh = make("cgan")  # buffers of another size until the checkpoint is loaded
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.condition.rows, model.condition.rows) and torch.equal(fresh.condition.p, model.condition.p)


def test_a_request_fixes_its_tags_and_draws_the_rest_from_agreeing_combinations():
    model = make("cgan")
    data = tiny_tagged(n=400)
    model.prepare(data)
    g = torch.Generator().manual_seed(0)
    c = model.condition.conditions("a girl with red hair and a blue ribbon", 300, g)
    assert (c[:, idx("red hair", "blue ribbon")] == 1).all()
    assert (c[:, idx("blue hair", "green hair", "red ribbon")] == 0).all()
    agreeing = data.train_tags[(data.train_tags[:, idx("red hair", "blue ribbon")] == 1).all(1)]
    assert {tuple(r.tolist()) for r in c} <= {tuple(r.tolist()) for r in agreeing}
    assert 0.2 < float(c[:, idx("smile")[0]].mean()) < 0.8  # open tags still vary
    # a combination the training set never had: the requested group replaces the drawn one
    rare = model.condition.request(idx("green hair"), 50, g)
    assert (rare[:, :3] == torch.tensor([0.0, 1.0, 0.0])).all()
    with pytest.raises(GenlabError, match="hair"):
        model.condition.conditions("red hair and blue hair", 4)


def test_tag_loss_is_a_cross_entropy_per_group_plus_a_binary_one_per_tag():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, -0.5, 1.0, -2.0],
                           [0.0, 1.0, 0.0, -1.0, -1.0, -1.0, 3.0]])
    tags = torch.tensor([[1.0, 0, 0, 0, 0, 1, 0],    # blue hair, no ribbon, glasses
                         [0.0, 0, 1, 0, 1, 0, 1]])   # red hair, red ribbon, smile
    hair = F.cross_entropy(logits[:, :3], torch.tensor([0, 2]))
    ribbon = F.cross_entropy(torch.cat([logits[:, 3:5], torch.zeros(2, 1)], 1), torch.tensor([2, 1]))
    binary = F.binary_cross_entropy_with_logits(logits[:, 5:], tags[:, 5:], reduction="sum") / 2
    assert torch.allclose(tag_loss(logits, tags, VOCAB), hair + ribbon + binary)
    assert torch.equal(tag_predict(logits, VOCAB), torch.tensor([[1.0, 0, 0, 1, 0, 1, 0], [0.0, 1, 0, 0, 0, 0, 1]]))


def test_the_multi_label_head_gives_raw_logits_to_the_loss():
    """Sharp wrong logits cost more than ln 3 for the hair group, which probabilities fed as
    logits (a softmax before the loss) never can."""
    model = make("acgan")
    data = tiny_tagged()
    x, c = data.train[:8] * 2 - 1, data.train_tags[:8]
    with torch.no_grad():
        model.discriminator.class_head.weight.mul_(300)
    _, feat = model.judge(x)
    logits = model.class_logits(feat)
    wrong = c.clone()
    wrong[:, :3] = F.one_hot((logits[:, :3].argmax(1) + 1) % 3, 3).float()
    term = model.d_terms(feat, feat, wrong, wrong)["class_real"]
    assert torch.allclose(term, tag_loss(logits, wrong, VOCAB))
    assert F.cross_entropy(logits[:, :3], wrong[:, :3].argmax(1)) > math.log(3) + 1


def test_acgan_tag_terms_reach_the_networks_they_should():
    model = make("acgan")
    data = tiny_tagged()
    x, c_real = data.train[:8] * 2 - 1, data.train_tags[:8]
    with torch.no_grad():
        latent = model.prior(8)
        fake = model.generator(latent)
    (_, r_feat), (_, f_feat) = model.judge(x), model.judge(fake)
    d = model.discriminator
    parts = {"G": model.generator, "D trunk": d.net[:-1], "D score": d.net[-1], "head": d.class_head}

    def reached():
        return {k: any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters()) for k, m in parts.items()}

    for name, term in model.d_terms(r_feat, f_feat, c_real, model.condition_of(latent)).items():
        model.zero_grad(set_to_none=True)
        term.backward(retain_graph=True)
        assert reached() == {"G": False, "D trunk": True, "D score": False, "head": True}, name
    model.zero_grad(set_to_none=True)
    d.requires_grad_(False)
    latent = model.prior(8)
    _, f_feat = model.judge(model.generator(latent))
    model.g_terms(f_feat, model.condition_of(latent))["class_g"].backward()
    assert reached() == {"G": True, "D trunk": False, "D score": False, "head": False}


@pytest.mark.parametrize("d_condition", ["projection", "concat", "tile"])
def test_d_sees_the_tags(d_condition):
    model = make("cgan", d_condition=d_condition)
    data = tiny_tagged()
    x, c = data.train[:8] * 2 - 1, data.train_tags[:8]
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.add_(0.05 * torch.randn_like(p))
        assert not torch.allclose(model.critic(x, c), model.critic(x, c.roll(1, 0)))


@pytest.mark.parametrize("loss, norm", [("ns", torch.nn.BatchNorm2d), ("wgan-gp", torch.nn.GroupNorm)])
def test_the_tiled_d_embeds_the_tags_and_normalises_their_mixing_as_its_other_layers(loss, norm):
    """Reed et al. 2016, section 4.1: the tags (B, k) -> linear + rectification (B, 128), tiled onto
    D's last map, a 1x1 convolution normalised as D's other layers; D's loss reaches the embedding
    (without it, D judged toonfaces faces without reading their tags and G collapsed)."""
    model = make("cgan", d_condition="tile", loss=loss)
    d = model.discriminator
    assert (d.embed[0].in_features, d.embed[0].out_features) == (len(VOCAB.names), TILE_EMBED)
    assert isinstance(d.mix[1], norm) and d.mix[0].in_channels == d.mix[0].out_channels + TILE_EMBED
    data = tiny_tagged()
    x, c = data.train[:8] * 2 - 1, data.train_tags[:8]
    model.critic(x, c).mean().backward()
    assert d.embed[0].weight.grad.abs().sum() > 0 and d.mix[0].weight.grad[:, -TILE_EMBED:].abs().sum() > 0


def test_the_tags_can_be_tiled_onto_an_earlier_larger_map():
    """tile_at=8 on 16 x 16 images (maps 8 -> 4): the tags join D's first map, (B, ndf + 128, 8, 8),
    and the trunk goes on from the mixed map; the last map (4) stays the default."""
    torch.manual_seed(0)
    d = DCGANDiscriminator((3, 16, 16), 4, "batch", tile_dim=7, tile_at=8)
    seen = []
    d.mix.register_forward_hook(lambda m, args, out: seen.append((args[0].shape, out.shape)))
    x, c = torch.randn(8, 3, 16, 16), torch.rand(8, 7)
    score, features = d.judge(x, c)
    assert seen == [((8, 4 + TILE_EMBED, 8, 8), (8, 4, 8, 8))]
    assert score.shape == (8,) and features.shape == (8, 8 * 4 * 4)
    assert not torch.allclose(score, d.judge(x, c.roll(1, 0))[0])
    score.sum().backward()
    assert d.embed[0].weight.grad.abs().sum() > 0 and d.net[2].weight.grad.abs().sum() > 0  # the conv after the mix
    assert DCGANDiscriminator((3, 16, 16), 4, "batch", tile_dim=7).mix[0].out_channels == 8  # default: the 4 x 4 map
    for side in (16, 5):
        with pytest.raises(ConfigError, match=r"tile_at must be the side of one of D's feature maps \(8, 4\)"):
            DCGANDiscriminator((3, 16, 16), 4, "batch", tile_dim=7, tile_at=side)


def test_matching_aware_d_counts_reals_with_wrong_tags_as_half_the_fakes():
    """GAN-CLS (Reed et al. 2016, Algorithm 1): L_D = log D(x, h) + (log(1 - D(x, h')) + log(1 - D(G(z), h))) / 2."""
    model = make("cgan", mismatch=True)
    data = tiny_tagged()
    x, c = data.train[:8] * 2 - 1, data.train_tags[:8]
    torch.manual_seed(1)
    out = model.discriminator_step(x, c, torch.optim.SGD(model.parameters(), lr=0.0))
    torch.manual_seed(1)
    with torch.no_grad():
        latent = model.prior(8)
        fake = model.generator(latent)
        r, f, w = model.critic(x, c), model.critic(fake, model.condition_of(latent)), model.critic(x, c.roll(1, 0))
    expected = F.softplus(-r).mean() + 0.5 * (F.softplus(f).mean() + F.softplus(w).mean())
    assert torch.allclose(out["loss_d"], expected, atol=1e-6)
    assert torch.allclose(out["d_wrong"], w.mean())


def test_settings_that_do_not_fit_the_tags_are_errors():
    assert make("cgan").condition.kind == "tags" and make("acgan").condition.kind == "tags"
    with pytest.raises(ConfigError, match="mismatch"):
        make("acgan", mismatch=True)  # acgan's D does not see the tags
    cgan = MODELS["cgan"]
    with pytest.raises(ConfigError, match="tile"):
        cgan(from_dict(cgan.Config, dict(net="mlp", d_single=(), d_condition="tile"), section="model"), TAG_SPEC)
    with pytest.raises(ConfigError, match="tile_at applies to d_condition=tile"):
        make("cgan", tile_at=4)  # D by projection
    with pytest.raises(ConfigError, match="tile_at must be >= 0"):
        make("cgan", d_condition="tile", tile_at=-1)
    assert make("cgan", d_condition="tile", tile_at=4).discriminator.tile_after == 2  # the tiny D's one map
    with pytest.raises(ConfigError, match="tagged"):
        cgan(from_dict(cgan.Config, {"condition": "tags"}, section="model"), DataSpec(kind="image", shape=(3, 8, 8)))


# -- it learns its tags -----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("d_condition", ["d_condition=projection", "d_condition=tile mismatch=true"])
def test_a_tiny_tag_conditioned_cgan_draws_the_hair_colour_it_is_asked_for(tmp_path, d_condition):
    """800 toonfaces at 16 x 16, a tag evaluator trained on them (hair colour read on >= 90 % of real
    test faces), a seeded cgan of 600 steps at batch 32: its samples show the asked-for hair colour
    on at least 50 % (chance 1/12 = 8 %; measured 0.79 by projection, 0.93 by tiling with
    matching-aware negatives (Reed et al.'s GAN-CLS); tiling alone reads the tags later: 0.135)."""
    import genlab
    from genlab.data import toonfaces
    from genlab.metrics.conditional import tag_accuracy
    from genlab.metrics.evaluator import train_evaluator

    faces = toonfaces.generate(tmp_path / "faces", n=800, workers=1)
    meta = train_evaluator(str(faces), image_size=16, epochs=15, seed=0)
    assert meta["test_tag_accuracy"]["hair"] >= 0.9, meta["test_tag_accuracy"]
    model = genlab.train("cgan", str(faces), image_size=16, steps=600, batch_size=32, seed=0, out=tmp_path / "run",
                         progress=False, tensorboard=False, sample_every=0, log_every=200,
                         overrides=["ngf=16", "ndf=16", "z_dim=32", *d_condition.split()])
    result = tag_accuracy(model, genlab.api.load_data(model.run_config.data), n=600, seed=0)
    print(result["tag_accuracy"])
    assert result["tag_accuracy"]["hair"] >= 0.5, result


def test_the_toonfaces_recipe_is_what_cgan_and_dcgan_train_with_no_flag():
    from genlab.api import build_config

    for name in ("cgan", "acgan", "dcgan"):
        cfg = build_config(name, data="toonfaces")
        mc = cfg.model_config
        assert (mc.ngf, mc.ndf, mc.lr_g, mc.lr_d) == (32, 32, 2e-4, 2e-4), name
        assert mc.ema == 0.999, name
        assert mc.r1_gamma == (1.0 if name == "dcgan" else 0.0), name  # R1 keeps the twin diverse
        steps = 16_000 if name == "dcgan" else 24_000  # the tags' eye colour is learnt late
        assert (cfg.train.steps, cfg.train.batch_size, cfg.train.precision) == (steps, 32, "auto"), name
        assert cfg.model_config.pack == (2 if name == "dcgan" else 1), name  # the unconditional twin judges pairs
    assert build_config("cgan", data="toonfaces", overrides=["ngf=48"]).model_config.ngf == 48
    assert build_config("cgan", data="fashion-mnist").model_config.ngf == 64  # no recipe there
