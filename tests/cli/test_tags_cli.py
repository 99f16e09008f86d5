"""Tags end to end on the command line: a tagged folder, its tag evaluator, a tag-conditioned run,
prompts, attribute directions, edits, and what genlab eval reports about them."""

from __future__ import annotations

import json

import pytest
from PIL import Image

import genlab
from genlab.cli.main import main
from genlab.data import toonfaces

SIZE = 16


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """A small toonfaces folder, its quick tag evaluator (at 16 px) in a cache of its own, and a
    cgan trained on it for a few steps."""
    base = tmp_path_factory.mktemp("tags-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CACHE", str(base / "cache"))
        faces = toonfaces.generate(base / "faces", n=240, workers=1)
        assert main(["evaluator", "train", "--data", str(faces), "--image-size", str(SIZE), "--min-tag-count", "1",
                     "--quick"]) == 0
        genlab.train("cgan", str(faces), out=base / "run", steps=6, batch_size=16, image_size=SIZE, min_tag_count=1,
                     overrides=["ngf=4", "ndf=4", "z_dim=8"], progress=False, tensorboard=False, sample_every=0,
                     checkpoint_every=0)
        genlab.train("vae", str(faces), out=base / "vae", steps=6, batch_size=16, image_size=SIZE, min_tag_count=1,
                     overrides=["hidden=[16]", "latent_dim=5"], progress=False, tensorboard=False, sample_every=0,
                     checkpoint_every=0)
        genlab.train("dcgan", str(faces), out=base / "mapped", steps=6, batch_size=16, image_size=SIZE,
                     min_tag_count=1, overrides=["ngf=4", "ndf=4", "z_dim=8", "mapping=2", "mapping_width=16"],
                     progress=False, tensorboard=False, sample_every=0, checkpoint_every=0)
    return {"cache": base / "cache", "faces": faces, "run": base / "run", "vae": base / "vae", "mapped": base / "mapped"}


@pytest.fixture
def run(tagged, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tagged["cache"]))
    return tagged["run"]


def test_a_prompt_draws_its_samples_and_several_prompts_draw_rows(run, tmp_path, capsys):
    one, grid = tmp_path / "one.png", tmp_path / "grid.png"
    assert main(["sample", str(run), "--prompt", "girl with red hair and red eyes", "--n", "4", "--out", str(one)]) == 0
    assert main(["sample", str(run), "--prompt", "blue hair blue eyes", "--prompt", "green hair red eyes",
                 "--tags", "blue hair, green eyes", "--n", "5", "--out", str(grid)]) == 0
    with Image.open(one) as a, Image.open(grid) as b:
        assert b.size[1] > a.size[1] and b.size[0] > a.size[0]  # 3 rows of 5 against 1 row of 4
    again = tmp_path / "again.png"
    assert main(["sample", str(run), "--prompt", "girl with red hair and red eyes", "--n", "4", "--out", str(again)]) == 0
    assert again.read_bytes() == one.read_bytes()  # same seed, same picture


@pytest.mark.parametrize("flag,text,message", [
    ("--tags", "red hare", "did you mean 'red hair'"),
    ("--prompt", "a girl with red hair and blue hair", "hair"),
    ("--prompt", "a girl with silver hair", "unknown tag"),
    ("--prompt", "a girl", "no known tag"),
])
def test_words_that_name_no_tag_are_clear_errors(run, tmp_path, capsys, flag, text, message):
    out = tmp_path / "x.png"
    assert main(["sample", str(run), flag, text, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err and not out.exists()


def test_eval_reports_tag_accuracy_per_group_and_the_evaluator_features(run, capsys):
    assert main(["eval", str(run), "--json", "--n-samples", "60"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {"hair", "eyes", "ribbon", "smile", "glasses"} <= set(r["tag_accuracy"])
    assert all(0 <= v <= 1 for v in r["tag_accuracy"].values()) and r["n_tag_samples"] == 60
    assert r["tag_accuracy_real"]["hair"] > 0.3  # a quick evaluator, yet far above chance (1/12)
    assert r["fid"] > 0 and "folder-faces" in r["evaluator"]


def test_directions_edits_and_their_scores(run, tmp_path, capsys):
    assert main(["edit", str(run), "--attribute", "smile", "--out", str(tmp_path / "e.png")]) == 2
    assert "no direction for 'smile'" in capsys.readouterr().err
    assert main(["directions", str(run), "--attribute", "smiling", "--n", "200"]) == 0
    assert main(["directions", str(run), "--attribute", "blonde hair", "--orthogonal-to", "smile",
                 "--orthogonal-to", "Ribbon", "--n", "200"]) == 0
    records = json.loads((run / "directions.json").read_text())
    assert set(records) == {"smile", "blonde hair"} and len(records["smile"]["vector"]) == 8
    assert records["blonde hair"]["orthogonal_to"] == ["smile", "ribbon"]
    s, b = records["smile"]["vector"], records["blonde hair"]["vector"]
    assert abs(sum(x * y for x, y in zip(s, b))) < 1e-5
    out = tmp_path / "edit.png"
    assert main(["edit", str(run), "--attribute", "smile", "--strength", "-3:3", "--steps", "5", "--n", "2",
                 "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size[0] > 2 * im.size[1]  # 2 rows of 5
    capsys.readouterr()
    assert main(["eval", str(run), "--json", "--n-samples", "40"]) == 0
    scores = json.loads(capsys.readouterr().out)["directions"]
    assert set(scores) == {"smile", "blonde hair"}
    assert 0 <= scores["smile"]["flip_rate"] <= 1 and 0 <= scores["smile"]["preservation"] <= 1
    assert "smile" not in scores["smile"]["preserved"] and "hair" not in scores["blonde hair"]["preserved"]


def test_directions_need_a_tagged_run_and_a_known_attribute(run, tmp_path, capsys):
    assert main(["directions", str(run), "--attribute", "purple ribbon", "--n", "200"]) == 2
    assert "unknown tag" in capsys.readouterr().err
    assert main(["edit", str(run), "--attribute", "smile", "--strength", "3:-3", "--out", str(tmp_path / "e.png")]) == 2
    assert "LOW < HIGH" in capsys.readouterr().err
    before = (run / "directions.json").read_bytes() if (run / "directions.json").exists() else None
    for keep, message in (("hair", "is one of the hair tags"), ("hair colour", "a tag or a tag group (eyes, hair"),
                          ("eyes", "lies in the span")):  # 10 eye colours span this run's 8 noise values
        assert main(["directions", str(run), "--attribute", "blonde hair", "--orthogonal-to", keep, "--n", "200"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err and "Traceback" not in err
    assert ((run / "directions.json").read_bytes() if (run / "directions.json").exists() else None) == before


def test_directions_that_preserve_the_other_tags(run, tmp_path, capsys):
    assert main(["directions", str(run), "--attribute", "glasses", "--preserve", "all", "--preserve-weight", "50",
                 "--jacobian-codes", "100", "--n", "200"]) == 0
    record = json.loads((run / "directions.json").read_text())["glasses"]
    assert {"hair", "eyes", "ribbon", "smile"} <= set(record["preserve"]) and "glasses" not in record["preserve"]
    assert "keeping 3 tag groups and" in capsys.readouterr().out
    assert record["preserve_weight"] == 50 and record["jacobian_codes"] == 100 and len(record["vector"]) == 8
    before = (run / "directions.json").read_bytes()
    for extra, message in ((["--preserve-weight", "5"], "give --preserve too"),
                           (["--jacobian-codes", "100"], "give --preserve too"),
                           (["--preserve", "all", "--preserve-weight", "-1"], "a number >= 0"),
                           (["--preserve", "all", "--preserve-weight", "nan"], "a number >= 0"),
                           (["--preserve", "sunglasses"], "none of them"),
                           (["--preserve", "glasses"], "the tag or group it changes")):
        assert main(["directions", str(run), "--attribute", "glasses", "--n", "200", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err and "Traceback" not in err
    assert (run / "directions.json").read_bytes() == before


def test_directions_by_the_mean_gradient_with_the_weight_held_out_edits_choose(run, capsys):
    assert main(["directions", str(run), "--attribute", "smile", "--method", "gradient", "--preserve", "all",
                 "--keep", "0.5", "--jacobian-codes", "100", "--n", "200"]) == 0
    out = capsys.readouterr().out
    record = json.loads((run / "directions.json").read_text())["smile"]
    assert record["method"] == "gradient" and record["n_codes"] == 200 and record["keep"] == 0.5
    weight, flip, kept = record["held_out"]["tried"][-1]
    assert weight == record["preserve_weight"] and record["held_out"]["edits"] == 1000
    assert "the mean gradient of log p(smile) over 200 samples" in out and "chosen on 1,000 held-out edits" in out
    assert f"other tags kept {kept:.3f}" in out and ("none of 0 to" in out) == (kept < 0.5)
    before = (run / "directions.json").read_bytes()
    for extra, message in ((["--method", "gradient", "--fraction", "0.2"], "--method gradient fits one only"),
                           (["--keep", "0.9"], "give --preserve too"),
                           (["--preserve", "all", "--keep", "0.9", "--preserve-weight", "5"], "give one of them"),
                           (["--preserve", "all", "--keep", "1.5"], "a fraction in (0, 1]"),
                           (["--preserve", "all", "--keep", "nan"], "a fraction in (0, 1]"),
                           (["--method", "pca"], "invalid choice")):
        assert main(["directions", str(run), "--attribute", "smile", "--n", "200", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err and "Traceback" not in err
    assert (run / "directions.json").read_bytes() == before


def test_directions_work_in_a_vae_code_too(tagged, monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CACHE", str(tagged["cache"]))
    vae = tagged["vae"]
    assert main(["directions", str(vae), "--attribute", "glasses", "--n", "200"]) == 0
    assert len(json.loads((vae / "directions.json").read_text())["glasses"]["vector"]) == 5
    assert main(["directions", str(vae), "--attribute", "smile", "--preserve", "hair", "--jacobian-codes", "100",
                 "--n", "200"]) == 0  # the Jacobian through a VAE's decoder
    assert json.loads((vae / "directions.json").read_text())["smile"]["preserve"] == ["hair"]
    assert main(["edit", str(vae), "--attribute", "glasses", "--n", "2", "--out", str(tmp_path / "v.png")]) == 0


def test_directions_in_the_w_space_of_a_mapping_network(tagged, monkeypatch, tmp_path, capsys):
    import torch

    from genlab import sampling
    from genlab.latent import WSpace

    monkeypatch.setenv("GENLAB_CACHE", str(tagged["cache"]))
    mapped = tagged["mapped"]
    assert main(["directions", str(mapped), "--attribute", "smile", "--n", "200"]) == 0
    assert main(["directions", str(mapped), "--attribute", "glasses", "--space", "w", "--orthogonal-to", "smile",
                 "--n", "200"]) == 0
    assert "in w" in capsys.readouterr().out
    records = json.loads((mapped / "directions.json").read_text())
    assert records["smile"]["space"] == "noise" and records["glasses"]["space"] == "w"
    # smile's direction lives in z: the w direction is made orthogonal to smile's found in w, not to it
    s, g = records["smile"]["vector"], records["glasses"]["vector"]
    assert abs(sum(x * y for x, y in zip(s, g))) > 1e-4
    # an edit along it is a move in whitened w, in genlab sample as in genlab edit
    model = genlab.load(mapped)
    space = WSpace(model)
    req = sampling.Draw(seed=3, n=4, edits=(("glasses", 2.0),))
    u = space.prior(4, torch.Generator().manual_seed(3))
    v = torch.tensor(g) / torch.tensor(g).norm()
    with torch.no_grad():
        want = space.decode(torch.cat([u[:, :8] + 2.0 * v, u[:, 8:]], 1))
    moved = float((want - sampling.images(model, sampling.Draw(seed=3, n=4))).abs().max())  # what the edit does
    assert moved > 0 and float((sampling.images(model, req) - want).abs().max()) < 1e-3 * moved
    assert main(["sample", str(mapped), "--edit", "glasses:2", "--edit", "smile:1", "--n", "4",
                 "--out", str(tmp_path / "s.png")]) == 0
    assert main(["edit", str(mapped), "--attribute", "glasses", "--n", "2", "--out", str(tmp_path / "e.png")]) == 0
    capsys.readouterr()
    assert main(["eval", str(mapped), "--json", "--n-samples", "40"]) == 0
    scores = json.loads(capsys.readouterr().out)["directions"]
    assert set(scores) == {"smile", "glasses"} and 0 <= scores["glasses"]["flip_rate"] <= 1


def test_the_w_space_needs_a_mapping_network(run, capsys):
    before = (run / "directions.json").read_bytes() if (run / "directions.json").exists() else None
    assert main(["directions", str(run), "--attribute", "glasses", "--space", "w", "--n", "200"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --space w") and "mapping" in err and "Traceback" not in err
    assert ((run / "directions.json").read_bytes() if (run / "directions.json").exists() else None) == before


def test_directions_learned_on_their_edits(run, capsys):
    assert main(["directions", str(run), "--attribute", "smile", "--method", "learned", "--preserve", "all",
                 "--preserve-weight", "2", "--n", "200"]) == 0
    out = capsys.readouterr().out
    record = json.loads((run / "directions.json").read_text())["smile"]
    assert record["method"] == "learned" and record["preserve_weight"] == 2 and "jacobian_codes" not in record
    assert record["learned"]["strength"] == 3 and len(record["vector"]) == 8
    assert "learned on edits at strength 3 of 2,000 other samples" in out and "their verdicts on the edits, weight 2" in out
    before = (run / "directions.json").read_bytes()
    for extra, message in ((["--preserve", "all", "--jacobian-codes", "100"], "a learned direction keeps"),
                           (["--fraction", "0.2"], "--method learned fits one only")):
        assert main(["directions", str(run), "--attribute", "smile", "--n", "200", "--method", "learned", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err and "Traceback" not in err
    assert (run / "directions.json").read_bytes() == before
