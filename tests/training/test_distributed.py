"""Data-parallel training under torchrun (two CPU processes, gloo): the same update as one process
with the global batch, rank 0 writes alone, and resume stays bit-exact."""

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from genlab.errors import ConfigError
from genlab.training import checkpoint as ckpt
from genlab.training import distributed
from genlab.training.logging import read_metrics

GAN_TINY = ["g_hidden=[16]", "d_hidden=[16]", "d_single=[8]", "z_dim=4"]


def genlab(*args, procs=1, cwd):
    """`genlab ARGS`, under torchrun with ``procs`` processes when procs > 1."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
              "-m", "genlab"] if procs > 1 else [sys.executable, "-m", "genlab"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*launch, *map(str, args), "--device", "cpu", "--no-progress"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


def weights(run_dir):
    return load_file(str(ckpt.find_checkpoint(run_dir).path / "model.safetensors"))


def losses(run_dir):
    """The logged lines of a run without their timing."""
    return [{k: v for k, v in line.items() if k != "images_per_s"} for line in read_metrics(run_dir / "metrics.jsonl")[0]]


def test_two_processes_make_the_update_of_one_process_with_the_global_batch(tmp_path):
    # the auto-encoder has no noise: 2 ranks x batch 16 must follow 1 process x batch 32
    two = genlab("train", "ae", "--data", "digits", "--steps", 30, "--batch-size", 16, "--out", "two",
                 procs=2, cwd=tmp_path)
    assert two.returncode == 0, two.stderr
    one = genlab("train", "ae", "--data", "digits", "--steps", 30, "--batch-size", 32, "--out", "one",
                 cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert set(a) == set(b)
    for k in a:  # equal up to the order of float sums over 30 Adam steps
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-4)
    # rank 0 alone wrote: one run directory, one report line, no temporary checkpoint left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert two.stdout.count("trained ae to step 30") == 1
    assert not list((tmp_path / "two" / "checkpoints").glob(".tmp-*"))


def test_resume_under_two_processes_is_bit_exact_and_needs_two(tmp_path):
    common = ["--data", "ring8", "train.log_every=4", *GAN_TINY]  # step 10 leaves a window of 2 steps open
    r = genlab("train", "gan", "--steps", 20, "--out", "a", *common, procs=2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = genlab("train", "gan", "--steps", 10, "--out", "b", *common, procs=2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = genlab("train", "--resume", "b", "--steps", 20, procs=2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # each rank's open logging window is saved with it: the log reads as if never stopped
    # (the run that ended at step 10 wrote its own last line there)
    assert [r for r in losses(tmp_path / "b") if r["step"] != 10] == losses(tmp_path / "a")
    assert [r["step"] for r in losses(tmp_path / "a")] == [4, 8, 12, 16, 20]
    # every rank's random state is saved, and the ranks draw different noise
    ranks = ckpt.load_state(ckpt.find_checkpoint(tmp_path / "b"))["ranks"]
    assert len(ranks) == 2 and not torch.equal(ranks[0]["rng"]["torch"], ranks[1]["rng"]["torch"])
    # resuming with another number of processes would change the batches: a clear error
    r = genlab("train", "--resume", "b", "--steps", 30, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "written by 2 process(es)" in r.stderr
    assert ckpt.find_checkpoint(tmp_path / "b").step == 20


def test_an_existing_output_directory_is_one_error_on_every_rank(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    r = genlab("train", "ae", "--data", "digits", "--steps", 5, "--out", "taken", procs=2, cwd=tmp_path)
    assert r.returncode != 0 and "already exists and is not empty" in r.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_setup_outside_torchrun_changes_nothing(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.setup("auto") == ("auto", False) and not distributed.active()


@pytest.mark.parametrize("device, message", [("mps", "MPS has no collective backend"),
                                             ("cuda", "CUDA is not available")])
def test_setup_refuses_devices_without_a_backend_here(monkeypatch, device, message):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=message):
        distributed.setup(device)
