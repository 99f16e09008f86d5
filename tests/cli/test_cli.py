"""The command line: what a user types, what they see, and every bad input as one error line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genlab.cli.main import main

TINY = ["hidden=32", "latent_dim=4", "train.log_every=5", "train.sample_every=0", "train.tensorboard=false"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "vae", "--data", "digits", "--steps", "30", "--out", str(out), "--no-progress", *TINY]) == 0
    return out


def test_train_prints_the_run_directory(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "ae", "--data", "digits", "--steps", "10", "--out", tmp_path / "ae",
                       "--no-progress", "train.log_every=5", "train.sample_every=5")
    assert code == 0
    assert str(tmp_path / "ae") in out and "reconstructions-step00000010.png" in out


def test_sample_interpolate_eval(capsys, vae_run, tmp_path):
    from PIL import Image

    code, out, _ = run(capsys, "sample", vae_run, "--n", 16, "--out", tmp_path / "s.png", "--seed", 3)
    assert code == 0 and Image.open(tmp_path / "s.png").size[0] > 0
    code, _, _ = run(capsys, "interpolate", vae_run, "--out", tmp_path / "i.png", "--pairs", 3, "--length", 5)
    assert code == 0
    w, h = Image.open(tmp_path / "i.png").size
    assert w > h  # 3 rows of 7 images (2 originals + 5 steps)
    code, _, _ = run(capsys, "interpolate", vae_run, "--out", tmp_path / "p.png", "--from-prior", "--method", "lerp")
    assert code == 0
    code, out, _ = run(capsys, "eval", vae_run, "--json", "--k", 10, "--max-examples", 50)
    assert code == 0
    result = json.loads(out)  # exactly one JSON object on stdout
    assert {"elbo", "nll", "recon_mse", "k"} <= set(result) and result["k"] == 10
    assert result["nll"] <= -result["elbo"] + 1.0
    assert json.loads((Path(vae_run) / "eval.json").read_text()) == result  # the last eval, kept in the run


def test_sample_with_the_same_seed_is_the_same(capsys, vae_run, tmp_path):
    run(capsys, "sample", vae_run, "--n", 8, "--out", tmp_path / "a.pt", "--seed", 1)
    run(capsys, "sample", vae_run, "--n", 8, "--out", tmp_path / "b.pt", "--seed", 1)
    import torch

    a, b = torch.load(tmp_path / "a.pt"), torch.load(tmp_path / "b.pt")
    assert a.shape == (8, 1, 8, 8) and torch.equal(a, b)


BAD = [
    (["train", "nosuchmodel", "--data", "digits"], "unknown model 'nosuchmodel'"),
    (["train", "vae", "--data", "nosuchdata"], "nosuchdata"),
    (["train", "vae", "--data", "digits", "nosuchkey=3"], "unknown config key 'nosuchkey'"),
    (["train", "vae", "--data", "digits", "--steps", "-5"], "--steps: must be a whole number from 0 to"),
    (["train", "vae", "--data", "digits", "--batch-size", "0"], "must be a whole number from 1 to"),
    (["train", "vae", "--data", "digits", "latent_dim=abc"], "latent_dim must be a whole number"),
    (["train", "vae", "--data", "digits", "lr=-1"], "lr > 0"),
    (["train", "vae", "--data", "/no/such/dir/"], "/no/such/dir"),
    (["train", "vae", "--data", "digits", "--config", "/no/such.yaml"], "does not exist"),
    (["train", "vae", "--data", "digits", "--no-such-flag", "3"], "unknown config key 'no_such_flag'"),
    (["train", "gan", "--data", "ring8", "--loss", "nosuchloss"], "nosuchloss"),
    (["train", "gan", "--data", "ring8", "--d-steps", "zero"], "d_steps"),
    (["sample", "/no/such/run", "--out", "x.png"], "does not exist"),
    (["sample", "/no/such/run", "--out", "x.png", "--loss", "ns"], "unrecognized arguments: --loss ns"),
    (["eval", "/no/such/run"], "does not exist"),
    # numbers past their type, YAML that is not, memory beyond the machine, shapes, devices (issue 11)
    (["train", "vae", "--data", "digits", "--epochs", "inf"], "--epochs: must be a finite number"),
    (["train", "vae", "--data", "digits", "--epochs", "1e308"], "<= 1_000_000"),
    (["train", "vae", "--data", "digits", "--seed", "18446744073709551616"], "from 0 to 4_294_967_295"),
    (["train", "vae", "--data", "digits", "latent_dim=99999999999999999999"], "fits in 64 bits"),
    (["train", "vae", "--data", "digits", "latent_dim=1000000000000"], "of memory"),
    (["train", "vae", "--data", "digits", "lr=[1"], "not valid YAML"),
    (["train", "vae", "--data", "digits", "lr=*x"], "not valid YAML"),
    (["train", "vae", "--data", "digits", "--image-size", "100000"], "of memory"),
    (["train", "dcgan", "--data", "digits", "--image-size", "3"], "at least 8 x 8 pixels"),
    (["train", "vae", "--data", "digits", "--device", "cuda:abc"], "unknown device 'cuda:abc'"),
    (["train", "vae", "--data", "digits", "train.batch_size=1e30"], "batch_size must be a whole number"),
    (["sample", "/no/such/run", "--n", "100000000", "--out", "x.npy"], "--n: must be a whole number from 1 to"),
    (["eval", "/no/such/run", "--k", "100000000"], "--k: must be a whole number from 1 to 1_000_000"),
    # a setting that does nothing for this model or data is an error, not ignored (issue 12)
    (["train", "gan", "--data", "digits", "clusters=7"], "clusters=7 does nothing in this gan run"),
    (["train", "dcgan", "--data", "digits", "clip=0.1"], "it applies to loss=wgan"),
    (["train", "gan", "--data", "ring8", "ngf=8"], "it applies to net=dcgan"),
    (["train", "dcgan", "--data", "digits", "d_condition=concat"], "applies to a conditional model"),
    (["train", "cgan", "--data", "ring8", "--net", "mlp"], "needs labelled data"),
]


@pytest.mark.parametrize("argv,message", BAD)
def test_bad_input_is_one_error_line(capsys, tmp_path, argv, message):
    out_dir = tmp_path / "run"
    if argv[0] == "train":
        argv = argv + ["--out", str(out_dir), "--no-progress"]
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]
    assert not out_dir.exists(), "a failed run must leave no directory behind"


def test_outputs_are_checked_before_any_work(capsys, vae_run, tmp_path):
    (tmp_path / "x.txt.tmp").write_text("a user's file")
    for out, message in ((tmp_path / "x.txt", "must end in .png or .pt or .npy"),
                         (tmp_path / "missing" / "x.png", "does not exist"),
                         (tmp_path, "must end in")):
        code, _, err = run(capsys, "sample", vae_run, "--out", out)
        assert code == 2 and message in err, err
    code, _, err = run(capsys, "sample", vae_run, "--n", 10001, "--out", tmp_path / "big.png")
    assert code == 2 and "at most 10,000" in err
    code, _, err = run(capsys, "interpolate", vae_run, "--out", tmp_path / "i.npy")
    assert code == 2 and "must end in .png" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt.tmp"]
    code, _, _ = run(capsys, "sample", vae_run, "--n", 5000, "--out", tmp_path / "s.npy")  # drawn in chunks
    import numpy as np

    assert code == 0 and np.load(tmp_path / "s.npy").shape == (5000, 1, 8, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy", "x.txt.tmp"]


def test_config_keys_work_as_flags():
    from genlab.cli.main import config_flags

    assert config_flags(["--d-steps", "5", "--loss=minimax", "pack=2", "--spectral-norm", "--ema", "0.9"]) == (
        ["d-steps=5", "loss=minimax", "pack=2", "spectral-norm=true", "ema=0.9"], [])
    assert config_flags(["--spectral-norm", "lr_g=1e-3", "-x", "word"]) == (["spectral-norm=true", "lr_g=1e-3"],
                                                                              ["-x", "word"])


def test_gan_flags_reach_the_saved_config(capsys, tmp_path):
    import yaml

    code, _, err = run(capsys, "train", "gan", "--data", "ring8", "--loss", "minimax", "--d-steps", "2", "--net",
                       "mlp", "--steps", "3", "--out", tmp_path / "g", "--no-progress", "g_hidden=8", "d_hidden=8",
                       "d_single=[]", "train.tensorboard=false", "train.sample_every=0")
    assert code == 0, err
    saved = yaml.safe_load((tmp_path / "g" / "config.yaml").read_text())["model_config"]
    assert (saved["loss"], saved["d_steps"], saved["net"], saved["g_hidden"]) == ("minimax", 2, "mlp", [8])


def test_existing_run_directory_is_not_overwritten(capsys, vae_run):
    before = sorted(p.name for p in vae_run.rglob("*"))
    code, _, err = run(capsys, "train", "vae", "--data", "digits", "--out", vae_run, "--steps", "5")
    assert code == 2 and "already exists" in err
    assert sorted(p.name for p in vae_run.rglob("*")) == before


def test_bad_config_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_config:\n  latent_dimm: 3\n")
    code, _, err = run(capsys, "train", "vae", "--data", "digits", "--config", bad, "--out", tmp_path / "r")
    assert code == 2 and "latent_dimm" in err
    bad.write_text("model_config: [unclosed\n")
    code, _, err = run(capsys, "train", "vae", "--data", "digits", "--config", bad, "--out", tmp_path / "r")
    assert code == 2 and "not valid YAML" in err


def test_a_runs_config_file_reproduces_it(capsys, vae_run, tmp_path):
    code, _, _ = run(capsys, "train", "vae", "--config", vae_run / "config.yaml", "--out", tmp_path / "again",
                     "--no-progress")
    assert code == 0
    a = (vae_run / "checkpoints").glob("step-*/model.safetensors")
    b = (tmp_path / "again" / "checkpoints").glob("step-*/model.safetensors")
    assert next(a).read_bytes() == next(b).read_bytes()


def test_resume_refuses_a_changed_config(capsys, vae_run):
    code, _, err = run(capsys, "train", "--resume", vae_run, "--batch-size", "8")
    assert code == 2 and "only --steps" in err


def test_entry_point_in_a_fresh_process(tmp_path):
    """The installed console script: no traceback, exit 2, one line."""
    env = {**os.environ, "GENLAB_CACHE": str(tmp_path)}
    exe = Path(sys.executable).with_name("genlab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "genlab"]
    proc = subprocess.run(cmd + ["train", "vae", "--data", "digits", "--steps", "x"], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    proc = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "train" in proc.stdout


def test_a_killed_training_stops_between_steps_and_keeps_a_checkpoint(tmp_path):
    import signal
    import time

    out = tmp_path / "killed"
    env = {**os.environ, "GENLAB_CACHE": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--data", "digits", "--steps",
                             "1000000", "--out", str(out), "--no-progress", "train.checkpoint_every=0",
                             "train.log_every=10"],
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not (out / "metrics.jsonl").exists() and time.time() < deadline:  # training has begun
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    from genlab.training.checkpoint import find_checkpoint

    step = find_checkpoint(out).step  # stopped between steps: the state was saved
    assert 0 < step < 1_000_000
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == (
        f"genlab: stopped by SIGTERM at step {step} of 1000000; saved in {out}/checkpoints/step-{step:08d}. "
        f"Continue with: genlab train --resume {out} --steps 1000000")
    assert "error" not in err
    logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(s % 10 == 0 for s in logged)  # no extra line at the stop step
    assert main(["train", "--resume", str(out), "--steps", str(step + 5), "--no-progress"]) == 0


def test_precision_and_threads_flags_reach_the_run(capsys, tmp_path):
    out = tmp_path / "g"
    code, _, err = run(capsys, "train", "dcgan", "--data", "digits", "--steps", "2", "--out", out, "--precision", "bf16",
                       "--threads", "1", "ngf=4", "ndf=4", "z_dim=4", "train.sample_every=0", "train.tensorboard=false")
    assert code == 0
    assert "genlab: bf16 (requested), 1 thread(s) (--threads), channels_last" in err
    meta = json.loads((out / "checkpoints" / "step-00000002" / "meta.json").read_text())
    assert (meta["precision"], meta["threads"], meta["memory_format"]) == ("bf16", 1, "channels_last")
    code, _, err = run(capsys, "train", "--resume", out, "--steps", "3", "--precision", "fp32")
    assert code == 2 and err.startswith("error: --resume continues a run") and "precision" in err
    code, _, err = run(capsys, "train", "--resume", out, "--steps", "3", "--threads", "2", "--no-progress")
    assert code == 0
    assert json.loads((out / "checkpoints" / "step-00000003" / "meta.json").read_text())["threads"] == 2


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cgan"
    assert main(["train", "cgan", "--data", "digits", "--steps", "3", "--out", str(out), "--no-progress", "ngf=4",
                 "ndf=4", "z_dim=4", "train.sample_every=0", "train.tensorboard=false"]) == 0
    return out


def test_sample_a_class_and_the_class_grid(capsys, cgan_run, tmp_path):
    import torch
    from PIL import Image

    code, _, err = run(capsys, "sample", cgan_run, "--class", "7", "--n", 5, "--out", tmp_path / "seven.pt")
    assert code == 0, err
    import genlab

    model = genlab.load(cgan_run)
    expected = model.sample(5, generator=torch.Generator().manual_seed(0), condition=7)
    assert torch.equal(torch.load(tmp_path / "seven.pt"), expected)
    code, _, _ = run(capsys, "sample", cgan_run, "--grid", "classes", "--n", 3, "--out", tmp_path / "grid.png")
    w, h = Image.open(tmp_path / "grid.png").size
    assert code == 0 and h > 3 * w  # 10 rows of 3
    code, _, err = run(capsys, "sample", cgan_run, "--class", "sneaker", "--out", tmp_path / "x.png")
    assert code == 2 and "unknown class 'sneaker'" in err
    code, _, err = run(capsys, "sample", cgan_run, "--class", "3", "--grid", "classes", "--out", tmp_path / "x.png")
    assert code == 2 and "not both" in err


def test_class_options_need_a_class_conditional_run(capsys, vae_run, tmp_path):
    code, _, err = run(capsys, "sample", vae_run, "--class", "3", "--out", tmp_path / "x.png")
    assert code == 2 and "class-conditional run" in err
    assert not (tmp_path / "x.png").exists()


def test_eval_refuses_flags_of_other_models_and_prints_valid_json(capsys, vae_run, cgan_run):
    code, _, err = run(capsys, "eval", cgan_run, "--k", 10)
    assert code == 2 and "--k does not apply to a cgan run (it takes --features, --modes, --n-samples, --seed)" in err
    code, _, err = run(capsys, "eval", vae_run, "--n-samples", 10)
    assert code == 2 and "--n-samples does not apply to a vae run" in err
    from genlab.cli.main import _json_safe

    assert json.loads(json.dumps(_json_safe({"a": float("nan"), "b": [float("inf"), 1.5]}))) == {"a": None, "b": [None, 1.5]}


def test_train_returns_the_model_load_gives(tmp_path):
    import torch

    import genlab

    trained = genlab.train("dcgan", "digits", steps=3, out=tmp_path / "d", progress=False, tensorboard=False,
                           sample_every=0, overrides=["ngf=4", "ndf=4", "z_dim=4"])
    assert not trained.training and trained.step == 3 and trained.run_config.model == "dcgan"
    a = trained.sample(4, generator=torch.Generator().manual_seed(0))
    b = genlab.load(tmp_path / "d").sample(4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)  # batch norm in eval mode: sampling changes nothing


def test_a_run_config_trains_again_without_naming_the_model(capsys, vae_run, tmp_path):
    """`genlab train --config RUN/config.yaml` retrains the run (the file names its model): the same weights."""
    import torch

    import genlab

    code, _, err = run(capsys, "train", "--config", vae_run / "config.yaml", "--out", tmp_path / "again", "--no-progress")
    assert code == 0, err
    a, b = genlab.load(vae_run).state_dict(), genlab.load(tmp_path / "again").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    (tmp_path / "nomodel.yaml").write_text("train:\n  steps: 2\n")
    code, _, err = run(capsys, "train", "--config", tmp_path / "nomodel.yaml")
    assert code == 2 and err.startswith("error: name a model to train")
