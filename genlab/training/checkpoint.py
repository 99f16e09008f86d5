"""Checkpoints: weights as safetensors, optimizer/RNG/step state beside them, written atomically.

Layout inside a run directory::

    checkpoints/step-00001000/model.safetensors   # every network's weights (module state_dict)
    checkpoints/step-00001000/state.pt            # optimizers, RNG, data position (tensors only)
    checkpoints/step-00001000/meta.json           # format version, model name, step, data spec
    checkpoints/latest                            # name of the newest complete checkpoint

A checkpoint is written into a hidden temporary directory, flushed, then renamed into place,
and only then does ``latest`` move (also by rename): a crash at any moment leaves the previous
checkpoint complete and readable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genlab.data.dataset import DataSpec
from genlab.errors import CheckpointError
from genlab.files import DiskFull, atomic_write_text, fsync_file, is_disk_full

FORMAT_VERSION = 1
_PREFIX = "step-"
READS = 10  # attempts of a reader racing a writer's pruning
_NAME = re.compile(r"step-\d{8,}")


@dataclass
class Checkpoint:
    path: Path
    step: int
    meta: dict


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save_checkpoint(run_dir: Path, step: int, weights: dict[str, torch.Tensor], state: dict[str, Any],
                    meta: dict, keep: int = 2) -> Path:
    """Write one checkpoint atomically and keep the newest ``keep`` of them."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"{_PREFIX}{step:08d}"
    final = root / name
    tmp = root / f".tmp-{name}-{os.getpid()}"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        # safetensors refuses shared or non-contiguous storage: store independent contiguous copies
        save_file({k: v.detach().contiguous().clone().cpu() for k, v in weights.items()},
                  str(tmp / "model.safetensors"))
        torch.save(state, tmp / "state.pt")
        (tmp / "meta.json").write_text(json.dumps({**meta, "format_version": FORMAT_VERSION, "step": step}, indent=1))
        for f in tmp.iterdir():
            fsync_file(f)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)  # a partial write must not keep the disk full
        if is_disk_full(e):
            raise DiskFull(f"the disk is full: the checkpoint of step {step} could not be written in {root}"
                           f"{_kept_note(run_dir)}; free some space, then continue with --resume {run_dir}") from None
        raise
    atomic_write_text(root / "latest", name + "\n")
    _prune(root, keep)
    return final


def _kept_note(run_dir: Path) -> str:
    try:
        return f" (the last good checkpoint, step {find_checkpoint(run_dir).step}, is kept)"
    except CheckpointError:
        return " (no earlier checkpoint exists)"


def find_checkpoint(run_dir: str | Path) -> Checkpoint:
    """The newest complete checkpoint of a run directory, or a CheckpointError saying why not."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    root = checkpoint_dir(run_dir)
    for attempt in range(READS):  # a run in training may prune the one found: look again
        done = sorted((p for p in root.glob(f"{_PREFIX}*") if _complete(p)), reverse=True) if root.is_dir() else []
        named = _read_latest(root)
        if not done:
            break
        if (root / "latest").exists() and named not in done and attempt == 0:
            print(f"genlab: warning: {root / 'latest'} names no complete checkpoint; using the newest one, "
                  f"{done[0].name}", file=sys.stderr)
        path = named if named in done else done[0]
        try:
            return Checkpoint(path, *_read_meta(path))
        except CheckpointError:
            if path.exists():
                raise
    raise CheckpointError(f"no checkpoint found in {run_dir} (is it a genlab run directory?)")


def has_checkpoint(run_dir: Path) -> bool:
    root = checkpoint_dir(run_dir)
    return root.is_dir() and any(_complete(p) for p in root.glob(f"{_PREFIX}*"))


def _complete(path: Path) -> bool:
    return (_NAME.fullmatch(path.name) is not None and path.is_dir()
            and all((path / f).is_file() for f in ("meta.json", "model.safetensors", "state.pt")))


def _read_latest(root: Path) -> Path | None:
    """The directory ``latest`` names, or None when it is absent or damaged (the scan decides)."""
    try:
        name = (root / "latest").read_bytes().decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return root / name if _NAME.fullmatch(name) else None


def _read_meta(path: Path) -> tuple[int, dict]:
    """(step, meta) of a checkpoint, meta.json validated as a whole."""
    where = path / "meta.json"
    try:
        meta = json.loads(where.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"checkpoint {path} is corrupt ({where.name} is not valid JSON)") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path} is corrupt ({where.name} must hold a JSON object)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {meta.get('format_version')!r}; "
                              f"this genlab reads version {FORMAT_VERSION}")
    step = meta.get("step")
    if type(step) is not int or step != int(path.name[len(_PREFIX):]):
        raise CheckpointError(f"checkpoint {path} is corrupt ({where.name} has step {step!r}, "
                              f"its directory says {int(path.name[len(_PREFIX):])})")
    for key in ("model", "data"):
        if not isinstance(meta.get(key), str):
            raise CheckpointError(f"checkpoint {path} is corrupt ({where.name} has no valid {key!r})")
    if not isinstance(meta.get("data_spec"), dict):
        raise CheckpointError(f"checkpoint {path} is corrupt ({where.name} has no valid 'data_spec')")
    DataSpec.from_dict(meta["data_spec"], where=where)
    return step, meta


def load_weights(ckpt: Checkpoint) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(ckpt.path / "model.safetensors"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:  # RuntimeError: the file is gone (pruned)
        raise CheckpointError(f"checkpoint {ckpt.path} is corrupt: model.safetensors cannot be read ({e})") from None


def load_state(ckpt: Checkpoint) -> dict[str, Any]:
    try:
        return torch.load(ckpt.path / "state.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a damaged pickle/zip
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"checkpoint {ckpt.path} is corrupt: state.pt cannot be read ({first})") from None


def _prune(root: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints; temporaries of other (dead) writers go too."""
    done = sorted(p for p in root.glob(f"{_PREFIX}*") if _NAME.fullmatch(p.name))
    for old in done[:-keep] + [p for p in root.glob(".tmp-*") if not p.name.endswith(f"-{os.getpid()}")]:
        shutil.rmtree(old, ignore_errors=True)
