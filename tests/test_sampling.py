"""One sampling request for `genlab sample` and the explorer: truncation, InfoGAN codes, edits."""

import json

import pytest
import torch

import genlab
from genlab import sampling
from genlab.cli.main import main
from genlab.errors import GenlabError


@pytest.fixture(scope="module")
def infogan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sampling") / "infogan"
    genlab.train("infogan", "digits", steps=2, batch_size=8, out=out, progress=False, tensorboard=False,
                 sample_every=0, threads=1, overrides=["ngf=4", "ndf=4", "z_dim=4"])
    return out


def test_truncation_scales_the_noise_and_keeps_the_condition(infogan_run):
    model = genlab.load(infogan_run)
    full = sampling.latent_codes(model, sampling.Draw(seed=2, n=5))
    half = sampling.latent_codes(model, sampling.Draw(seed=2, n=5, truncation=0.5))
    assert torch.allclose(half[:, :4], 0.5 * full[:, :4]) and torch.equal(half[:, 4:], full[:, 4:])


def test_a_code_is_the_category_then_the_continuous_values(infogan_run):
    model = genlab.load(infogan_run)
    k, c = model.condition.categories, model.condition.continuous
    codes = sampling.latent_codes(model, sampling.Draw(seed=0, n=3, code=(2, *[0.5] * c)))
    assert codes.shape == (3, 4 + k + c)
    assert torch.equal(codes[:, 4:4 + k].argmax(1), torch.full((3,), 2)) and torch.all(codes[:, 4 + k:] == 0.5)
    with pytest.raises(GenlabError, match="numbers"):
        sampling.latent_codes(model, sampling.Draw(code=(1,)))


def test_edits_move_the_noise_along_the_unit_direction(infogan_run):
    model = genlab.load(infogan_run)
    v = torch.tensor([3.0, 4.0, 0.0, 0.0])
    (infogan_run / "directions.json").write_text(json.dumps({"smile": {"vector": v.tolist()}}))
    try:
        base = sampling.latent_codes(model, sampling.Draw(seed=1, n=2))
        moved = sampling.latent_codes(model, sampling.Draw(seed=1, n=2, edits=(("smile", 2.0),)))
        assert torch.allclose(moved[:, :4] - base[:, :4], (2 * v / 5).expand(2, -1), atol=1e-6)
        assert torch.equal(moved[:, 4:], base[:, 4:])
    finally:
        (infogan_run / "directions.json").unlink()


@pytest.mark.parametrize("req, words", [
    (sampling.Draw(n=0), "n must be"), (sampling.Draw(truncation=0.0), "truncation"),
    (sampling.Draw(condition="1", tags="x"), "one of"), (sampling.Draw(edits=(("a", 20.0),)), "strength"),
])
def test_bad_requests(req, words):
    with pytest.raises(GenlabError, match=words):
        req.check()


@pytest.mark.parametrize("text, value", [("smile:2", ("smile", 2.0)), ("blonde hair:-1.5", ("blonde hair", -1.5))])
def test_parse_edit(text, value):
    assert sampling.parse_edit(text) == value


@pytest.mark.parametrize("text", ["smile", ":2", "smile:x", "smile:nan"])
def test_parse_edit_refuses(text):
    with pytest.raises(GenlabError, match="ATTRIBUTE:STRENGTH"):
        sampling.parse_edit(text)


def test_the_command_redraws_the_request(infogan_run, tmp_path, capsys):
    import shlex

    model = genlab.load(infogan_run)
    req = sampling.Draw(seed=4, n=3, truncation=0.7, code=(1, -0.5, 0.25))
    line = sampling.command(str(infogan_run), req, out=str(tmp_path / "x.pt"))
    assert main(shlex.split(line)[1:] + ["--device", "cpu"]) == 0
    drawn = torch.load(tmp_path / "x.pt")
    assert torch.equal(drawn, model.decode(sampling.latent_codes(model, req)).cpu())


def test_the_cli_refuses_a_code_for_a_run_without_one(infogan_run, tmp_path, capsys):
    assert main(["sample", str(infogan_run), "--code", "a,b", "--out", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.startswith("error: a code is numbers")
