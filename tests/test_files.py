"""genlab.files: whole writes or none, and one OS lock per run directory."""

import errno
import os
import subprocess
import sys

import pytest

from genlab.files import DiskFull, RunBusy, RunLock, atomic_write, atomic_write_text, remove_stale


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    (tmp_path / "x.txt.tmp").write_text("a user's file")  # a name a naive writer would clobber
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt", "x.txt.tmp"]
    assert (tmp_path / "x.txt.tmp").read_text() == "a user's file"


def test_a_failed_write_keeps_the_old_content(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_a_full_disk_is_a_clear_error(tmp_path):
    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFull, match="disk is full"):
        atomic_write(tmp_path / "x.txt", full)
    assert list(tmp_path.iterdir()) == []


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunBusy, match=f"PID {os.getpid()}"):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # free again once released


def test_the_lock_dies_with_its_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from genlab.files import RunLock; "
                               f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunBusy, match=f"PID {holder.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs
        holder.wait()
    RunLock(tmp_path).acquire().release()


def test_stale_temporaries_are_found_and_removed(tmp_path):
    (tmp_path / "checkpoints" / ".tmp-step-00000010-123").mkdir(parents=True)
    (tmp_path / "checkpoints" / ".latest.abc.tmp").write_text("x")
    (tmp_path / ".config.yaml.xyz.tmp").write_text("x")
    (tmp_path / "checkpoints" / "step-00000005").mkdir()
    (tmp_path / "notes.tmp").write_text("the user's, not hidden")
    removed = remove_stale(tmp_path)
    assert len(removed) == 3
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["checkpoints", "notes.tmp", "step-00000005"]
