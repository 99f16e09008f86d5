"""Torch threads: --threads, $GENLAB_THREADS, the default on a shared CPU, and the record in the run."""

import pytest
import torch

import genlab
from genlab.cli.main import main
from genlab.errors import ConfigError
from genlab.training import checkpoint as ckpt
from genlab.training import device


def test_an_explicit_number_wins_then_the_environment(monkeypatch):
    monkeypatch.setenv("GENLAB_THREADS", "3")
    assert device.choose_threads(2) == (2, "--threads")
    assert device.choose_threads(None) == (3, "GENLAB_THREADS")
    for bad in ("two", "0", "100000"):
        monkeypatch.setenv("GENLAB_THREADS", bad)
        with pytest.raises(ConfigError, match="GENLAB_THREADS"):
            device.choose_threads(None)


def test_the_default_is_one_thread_per_idle_core(monkeypatch):
    monkeypatch.delenv("GENLAB_THREADS")
    monkeypatch.setattr(device, "usable_cores", lambda: 2)
    monkeypatch.setattr(device, "idle_cores", lambda: 0.9)  # another process keeps one core busy
    assert device.choose_threads(None)[0] == 1
    monkeypatch.setattr(device, "idle_cores", lambda: 1.8)
    assert device.choose_threads(None) == (2, "2 usable cores, 1.8 idle")
    monkeypatch.setattr(device, "idle_cores", lambda: 0.0)  # never fewer than one
    assert device.choose_threads(None)[0] == 1
    monkeypatch.setattr(device, "idle_cores", lambda: None)  # no /proc/stat: every usable core
    assert device.choose_threads(None)[0] == 2


def test_idle_cores_reads_a_real_measurement():
    idle = device.idle_cores(0.02)
    assert idle is None or 0 <= idle <= (__import__("os").cpu_count() or 1) + 0.01


def test_a_run_records_its_threads_and_puts_torch_back(tmp_path):
    before = torch.get_num_threads()
    genlab.train("vae", "digits", steps=3, out=tmp_path / "r", threads=2, progress=False, tensorboard=False,
                 sample_every=0, overrides=["hidden=8", "latent_dim=2"])
    meta = ckpt.find_checkpoint(tmp_path / "r").meta
    assert meta["threads"] == 2 and meta["threads_reason"] == "--threads"
    assert torch.get_num_threads() == before
    genlab.train(resume=tmp_path / "r", steps=5, progress=False)  # GENLAB_THREADS=1 in the tests
    meta = ckpt.find_checkpoint(tmp_path / "r").meta
    assert meta["threads"] == 1 and meta["threads_reason"] == "GENLAB_THREADS"


@pytest.mark.parametrize("argv", [
    ["train", "vae", "--data", "digits", "--threads", "0"],
    ["sample", "RUN", "--out", "x.png", "--threads", "x"],
    ["eval", "RUN", "--threads", "2000"],
])
def test_a_bad_thread_count_is_one_error_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "thread" in err
