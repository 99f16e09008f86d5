"""Checkpoints and resume: N steps + resume to 2N is bit-identical to 2N in one go."""

import json

import pytest
import torch

import genlab
from genlab.errors import CheckpointError
from genlab.training import checkpoint as ckpt

FAST = dict(progress=False, tensorboard=False, log_every=5, sample_every=0)


def train(out, steps, **kw):
    return genlab.train("vae", "digits", steps=steps, out=out, batch_size=32, seed=7,
                        overrides=["hidden=32", "latent_dim=4"], **{**FAST, **kw})


def states_equal(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_is_bit_exact(tmp_path):
    one_go = train(tmp_path / "a", 40)
    train(tmp_path / "b", 20, checkpoint_every=7)
    resumed = genlab.train(resume=tmp_path / "b", steps=40, progress=False)
    assert states_equal(one_go.state_dict(), resumed.state_dict())
    # optimizer moments and the data stream position are restored too
    sa = ckpt.load_state(ckpt.find_checkpoint(tmp_path / "a"))
    sb = ckpt.load_state(ckpt.find_checkpoint(tmp_path / "b"))
    ma, mb = sa["optimizers"]["vae"]["state"], sb["optimizers"]["vae"]["state"]
    assert all(torch.equal(ma[i]["exp_avg_sq"], mb[i]["exp_avg_sq"]) for i in ma)
    assert torch.equal(sa["data"]["perm"], sb["data"]["perm"])
    # metrics.jsonl reads as one run: every logged step once, in order
    steps = [json.loads(l)["step"] for l in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 40


def test_resume_from_an_earlier_checkpoint_drops_later_log_lines(tmp_path):
    train(tmp_path / "r", 10, checkpoint_every=5, keep_checkpoints=3)
    root = tmp_path / "r" / "checkpoints"
    (root / "latest").write_text("step-00000005\n")  # as if the run died right after step 5
    import shutil
    shutil.rmtree(root / "step-00000010")
    genlab.train(resume=tmp_path / "r", steps=10, progress=False)
    steps = [json.loads(l)["step"] for l in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10]


def test_load_returns_a_module_with_every_weight(tmp_path):
    model = train(tmp_path / "m", 5)
    loaded = genlab.load(tmp_path / "m")
    assert states_equal(model.state_dict(), loaded.state_dict())
    assert isinstance(loaded, torch.nn.Module) and not loaded.training
    assert any(k.startswith("encoder.") for k in loaded.state_dict())
    assert any(k.startswith("decoder.") for k in loaded.state_dict())


def test_run_directory_layout(tmp_path):
    train(tmp_path / "run", 10, sample_every=5, tensorboard=True)
    run = tmp_path / "run"
    cp = ckpt.find_checkpoint(run)
    assert cp.step == 10 and cp.meta["format_version"] == ckpt.FORMAT_VERSION
    assert (cp.path / "model.safetensors").is_file() and (cp.path / "state.pt").is_file()
    assert (run / "config.yaml").is_file()
    assert list((run / "tb").glob("events.out.tfevents.*"))
    names = sorted(p.name for p in (run / "samples").glob("*.png"))
    assert "samples-step00000005.png" in names and "reconstructions-step00000010.png" in names
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "loss", "recon", "kl", "elbo", "images_per_s"} <= set(lines[-1])


def test_a_crash_while_saving_leaves_the_last_checkpoint_readable(tmp_path, monkeypatch):
    train(tmp_path / "c", 5)
    good = ckpt.find_checkpoint(tmp_path / "c")

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crash)  # dies after the weights, before the state
    with pytest.raises(OSError):
        genlab.train(resume=tmp_path / "c", steps=10, progress=False)
    monkeypatch.undo()
    again = ckpt.find_checkpoint(tmp_path / "c")
    assert again.path == good.path and again.step == 5
    genlab.load(tmp_path / "c")  # still loads


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    train(tmp_path / "x", 5)
    cp = ckpt.find_checkpoint(tmp_path / "x")
    (cp.path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        genlab.load(tmp_path / "x")
    train(tmp_path / "y", 5)
    cp = ckpt.find_checkpoint(tmp_path / "y")
    (cp.path / "state.pt").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="corrupt"):
        genlab.train(resume=tmp_path / "y", steps=10, progress=False)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    train(tmp_path / "v", 5)
    with pytest.raises(CheckpointError, match="not 'ae'"):
        genlab.train("ae", resume=tmp_path / "v", steps=10, progress=False)
    # weights that do not fit the config
    genlab.train("ae", "digits", steps=3, out=tmp_path / "ae", **FAST)
    src = ckpt.find_checkpoint(tmp_path / "ae").path / "model.safetensors"
    dst = ckpt.find_checkpoint(tmp_path / "v").path / "model.safetensors"
    dst.write_bytes(src.read_bytes())
    with pytest.raises(CheckpointError, match="does not fit"):
        genlab.load(tmp_path / "v")
