"""A crash at any moment loses nothing: torn metrics lines, kills inside writes, a second writer,
a full disk, a run stopped before its first checkpoint."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

import genlab
from genlab.cli.main import main
from genlab.errors import CheckpointError, ConfigError
from genlab.files import DiskFull, RunBusy, RunLock
from genlab.training import checkpoint as ckpt

FAST = dict(progress=False, tensorboard=False, log_every=5, sample_every=0)
TINY = ["hidden=32", "latent_dim=4"]


def train(out, steps, **kw):
    return genlab.train("vae", "digits", steps=steps, out=out, batch_size=32, seed=7, overrides=TINY,
                        **{**FAST, **kw})


def resume(out, steps):
    return genlab.train(resume=out, steps=steps, progress=False)


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return set(sa) == set(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def losses(run):  # every logged number but the speed, which no two runs share
    return [{k: v for k, v in r.items() if k != "images_per_s"} for r in records(run)]


def die_inside(run_dir, target: str, when: str, steps: int) -> None:
    """Resume ``run_dir`` to ``steps`` in a child process that SIGKILLs itself when ``target``
    (module, attribute) is called with an argument containing ``when``: none of genlab's
    clean-up code runs, as with a power cut."""
    module, attr = target.rsplit(".", 1)
    code = textwrap.dedent(f"""
        import os, signal, importlib
        import genlab
        owner = importlib.import_module({module!r})
        real = getattr(owner, {attr!r})
        def fatal(*a, **k):
            if any({when!r} in str(x) for x in a):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*a, **k)
        setattr(owner, {attr!r}, fatal)
        genlab.train(resume={str(run_dir)!r}, steps={steps}, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


# -- metrics.jsonl ------------------------------------------------------------------------------

def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, capfd):
    one_go = train(tmp_path / "a", 20)
    train(tmp_path / "b", 10)
    with open(tmp_path / "b" / "metrics.jsonl", "a") as f:
        f.write('{"step": 15, "loss": 12')  # a kill in the middle of an append
    resumed = resume(tmp_path / "b", 20)
    assert "torn line" in capfd.readouterr().err
    assert same_weights(one_go, resumed)
    assert losses(tmp_path / "b") == losses(tmp_path / "a")


def test_a_corrupt_line_in_the_middle_is_an_error_naming_it(tmp_path):
    train(tmp_path / "r", 10)
    path = tmp_path / "r" / "metrics.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="line 2"):
        resume(tmp_path / "r", 15)
    assert path.read_bytes() == before


def test_a_kill_inside_the_metrics_rewrite_keeps_the_history(tmp_path):
    train(tmp_path / "r", 10, checkpoint_every=5, keep_checkpoints=3)
    root = tmp_path / "r" / "checkpoints"
    shutil.rmtree(root / "step-00000010")  # back to step 5: resuming must drop the line of step 10
    (root / "latest").write_text("step-00000005\n")
    history = (tmp_path / "r" / "metrics.jsonl").read_bytes()
    die_inside(tmp_path / "r", "os.replace", ".metrics.jsonl.", 10)  # temporary written, not renamed
    assert (tmp_path / "r" / "metrics.jsonl").read_bytes() == history  # untouched, not emptied
    assert list((tmp_path / "r").glob(".metrics.jsonl.*.tmp"))  # the dead writer's temporary
    resume(tmp_path / "r", 10)
    assert [r["step"] for r in records(tmp_path / "r")] == [5, 10]
    assert not list((tmp_path / "r").glob(".*.tmp"))  # removed by the next start


# -- checkpoints --------------------------------------------------------------------------------

def test_a_kill_inside_a_checkpoint_write_is_cleaned_up_and_resumes_exactly(tmp_path):
    one_go = train(tmp_path / "a", 20)
    train(tmp_path / "b", 10)
    die_inside(tmp_path / "b", "torch.save", "state.pt", 20)  # weights written, state not: a partial checkpoint
    root = tmp_path / "b" / "checkpoints"
    assert list(root.glob(".tmp-step-*")) and ckpt.find_checkpoint(tmp_path / "b").step == 10
    assert same_weights(one_go, resume(tmp_path / "b", 20))
    assert not list(root.glob(".tmp-*"))


def test_pruning_removes_temporaries_of_dead_writers(tmp_path):
    train(tmp_path / "r", 5)
    stale = tmp_path / "r" / "checkpoints" / ".tmp-step-00000099-1"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"partial")
    ckpt.save_checkpoint(tmp_path / "r", 6, {"w": torch.zeros(2)}, {}, {"model": "vae", "data": "d",
                                                                        "data_spec": {}})
    assert not stale.exists()


def test_a_full_disk_keeps_the_last_checkpoint_and_removes_the_partial_write(tmp_path, monkeypatch):
    import errno

    one_go = train(tmp_path / "a", 20)
    train(tmp_path / "b", 10)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", full)
    with pytest.raises(DiskFull, match=r"disk is full.*step 20.*last good checkpoint, step 10"):
        resume(tmp_path / "b", 20)
    monkeypatch.undo()
    assert not list((tmp_path / "b" / "checkpoints").glob(".tmp-*"))
    assert ckpt.find_checkpoint(tmp_path / "b").step == 10
    assert same_weights(one_go, resume(tmp_path / "b", 20))  # once there is space again


def _small_filesystem(path, size="8m"):
    path.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot mount a small tmpfs here ({e}); the monkeypatched test above covers the logic")


def test_a_really_full_disk(tmp_path):
    """On a real 8 MB filesystem: fill it, fail cleanly, free it, resume bit-exactly."""
    disk = tmp_path / "disk"
    _small_filesystem(disk)
    try:
        kw = dict(overrides=["hidden=256", "latent_dim=8"])
        one_go = genlab.train("vae", "digits", steps=20, out=tmp_path / "a", batch_size=32, seed=7, **FAST, **kw)
        genlab.train("vae", "digits", steps=10, out=disk / "b", batch_size=32, seed=7, **FAST, **kw)
        free = shutil.disk_usage(disk).free
        filler = disk / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * (free - 64 * 1024))  # 64 KB left: a line of metrics fits, a checkpoint does not
        proc = subprocess.run([sys.executable, "-m", "genlab", "train", "--resume", str(disk / "b"), "--steps", "20",
                               "--no-progress"], capture_output=True, text=True)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("error: the disk is full")
        assert not list((disk / "b" / "checkpoints").glob(".tmp-*"))
        assert ckpt.find_checkpoint(disk / "b").step == 10
        filler.unlink()
        assert same_weights(one_go, resume(disk / "b", 20))
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# -- one writer per run -------------------------------------------------------------------------

def test_a_second_writer_is_refused_and_readers_go_on(tmp_path, capsys):
    train(tmp_path / "r", 10)
    run = tmp_path / "r"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with RunLock(run):  # as a training process would hold it
        with pytest.raises(RunBusy, match=f"PID {os.getpid()}"):
            resume(run, 20)
        assert main(["train", "--resume", str(run), "--steps", "20", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: run directory") and "another process" in err
        assert main(["train", "vae", "--data", "digits", "--out", str(run), "--steps", "3"]) == 2
        # readers are not writers
        assert genlab.load(run).step == 10
        assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_kill_minus_9_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "k"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--data", "digits", "--steps",
                             "1000000", "--out", str(out), "--no-progress", "train.checkpoint_every=20",
                             "train.log_every=10", "train.tensorboard=false", "train.sample_every=0",
                             "hidden=32", "latent_dim=4"])
    try:
        import time

        deadline = time.time() + 60
        while not ckpt.has_checkpoint(out) and time.time() < deadline:
            time.sleep(0.05)
        with pytest.raises(RunBusy, match=f"PID {proc.pid}"):
            resume(out, 10)
    finally:
        proc.kill()
        proc.wait()
    step = ckpt.find_checkpoint(out).step
    assert resume(out, step + 5) is not None


# -- a run stopped before its first checkpoint --------------------------------------------------

def test_a_run_killed_before_its_first_checkpoint_can_be_trained_from_step_0(tmp_path, capsys):
    one_go = train(tmp_path / "a", 10)
    stranded = tmp_path / "s"
    train(stranded, 10)
    shutil.rmtree(stranded / "checkpoints")  # what a kill -9 before the first checkpoint leaves
    with pytest.raises(ConfigError, match="stopped before its first checkpoint.*--resume"):
        train(stranded, 10)
    assert resume(stranded, 10) is not None
    assert "training it from step 0" in capsys.readouterr().err
    assert same_weights(one_go, genlab.load(stranded))
    assert losses(stranded) == losses(tmp_path / "a")


def test_a_users_empty_out_directory_is_kept_when_a_run_fails_early(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    with pytest.raises(Exception):
        genlab.train("vae", "digits", steps=5, out=out, overrides=["lr=nan"], **FAST)
    assert out.is_dir() and list(out.iterdir()) == []
    probe = genlab.models.get_model_class("vae")

    def boom(*a, **k):
        raise RuntimeError("failed in the first step")

    orig = probe.train_step
    probe.train_step = boom
    try:
        with pytest.raises(RuntimeError):
            train(out, 5)
    finally:
        probe.train_step = orig
    assert out.is_dir() and list(out.iterdir()) == []


# -- stopping on a signal -----------------------------------------------------------------------

def test_a_stop_between_log_lines_does_not_shift_the_logging_windows(tmp_path):
    """Stopped at step 23 (log every 5) and resumed to 40: the same lines as a run of 40 in one go,
    the window 21-25 included; a run that ends at 23 writes its last line and keeps the window."""
    train(tmp_path / "a", 40)
    train(tmp_path / "b", 23, checkpoint_every=0)
    resume(tmp_path / "b", 40)
    b = [r for r in losses(tmp_path / "b") if r["step"] != 23]
    assert b == losses(tmp_path / "a")


def test_readers_keep_working_while_a_run_trains_and_prunes(tmp_path):
    """sample/eval read the newest complete checkpoint while training writes and prunes them."""
    import time

    out = tmp_path / "busy"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--data", "digits", "--steps",
                             "1000000", "--out", str(out), "--no-progress", "train.checkpoint_every=20",
                             "train.keep_checkpoints=1", "train.log_every=20", "train.tensorboard=false",
                             "train.sample_every=0", "hidden=16", "latent_dim=2"])
    try:
        deadline = time.time() + 60
        while not ckpt.has_checkpoint(out) and time.time() < deadline:
            time.sleep(0.05)
        steps = [genlab.load(out).step for _ in range(30)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert steps == sorted(steps) and steps[-1] > steps[0]  # it kept training while read, every read whole


def test_a_damaged_latest_falls_back_to_the_newest_complete_checkpoint(tmp_path, capfd):
    train(tmp_path / "r", 10, checkpoint_every=5, keep_checkpoints=3)
    (tmp_path / "r" / "checkpoints" / "latest").write_bytes(b"\x00\xff\xfe binary")
    assert genlab.load(tmp_path / "r").step == 10
    assert "names no complete checkpoint" in capfd.readouterr().err
