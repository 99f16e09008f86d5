"""Files genlab writes: whole or not at all, and one writer per run directory.

- :func:`atomic_write` writes through a hidden temporary beside the target (a name no other
  process or file uses), flushes it to disk and renames it into place; on any failure the
  temporary is removed and the target keeps its old content.
- :class:`RunLock` is an OS lock on ``RUN/.lock`` (``flock`` on POSIX, ``msvcrt.locking`` on
  Windows). The OS drops it when its process dies, so a ``kill -9`` never leaves a stale lock.
  While it is held, every temporary in the run belongs to a dead process: :func:`remove_stale`.
- A full disk is a :class:`DiskFull` error, not a traceback.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from genlab.errors import GenlabError

LOCK_FILE = ".lock"
TMP_SUFFIX = ".tmp"  # hidden files ".NAME.<random>.tmp" and checkpoint directories ".tmp-step-..."
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFull(GenlabError):
    """No space left on the device (or the user's quota) while writing."""


class RunBusy(GenlabError):
    """Another process is writing this run directory."""


def is_disk_full(e: BaseException) -> bool:
    """An OSError of ENOSPC/EDQUOT, or a library's wrapped one (safetensors: "os error 28")."""
    if isinstance(e, OSError):
        return e.errno in _FULL
    text = str(e)
    return any(f"os error {n})" in text for n in _FULL) or "No space left on device" in text


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary path beside ``path``, then rename it to ``path``."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise DiskFull(f"the disk is full: {path} could not be written (nothing was changed)") from None
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def remove_stale(run_dir: Path) -> list[Path]:
    """Temporaries left in a run by killed or failed writers (call with the run's lock held)."""
    removed = []
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(".tmp-") or (p.name.startswith(".") and p.name.endswith(TMP_SUFFIX)):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p)
    return removed


class RunLock:
    """The exclusive right to write ``run_dir``, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunBusy(f"run directory {self.run_dir} is being written by another process (PID {holder}); "
                          "wait for it to finish or stop it first (sample and eval can read the run meanwhile)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        remove_stale(self.run_dir)
        return self

    def release(self) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
