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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genlab.errors import CheckpointError

FORMAT_VERSION = 1
_PREFIX = "step-"


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
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    # safetensors refuses shared or non-contiguous storage: store independent contiguous copies
    save_file({k: v.detach().contiguous().clone().cpu() for k, v in weights.items()},
              str(tmp / "model.safetensors"))
    torch.save(state, tmp / "state.pt")
    (tmp / "meta.json").write_text(json.dumps({**meta, "format_version": FORMAT_VERSION, "step": step}, indent=1))
    _fsync_dir_files(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    _write_atomic(root / "latest", name + "\n")
    _prune(root, keep)
    return final


def find_checkpoint(run_dir: str | Path) -> Checkpoint:
    """The newest complete checkpoint of a run directory, or a CheckpointError saying why not."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    root = checkpoint_dir(run_dir)
    candidates = []
    latest = root / "latest"
    if latest.is_file():
        candidates.append(root / latest.read_text().strip())
    candidates += sorted(root.glob(f"{_PREFIX}*"), reverse=True) if root.is_dir() else []
    for path in candidates:
        meta_file = path / "meta.json"
        if meta_file.is_file() and (path / "model.safetensors").is_file() and (path / "state.pt").is_file():
            try:
                meta = json.loads(meta_file.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise CheckpointError(f"checkpoint {path} is corrupt (meta.json is not valid JSON)") from None
            if meta.get("format_version") != FORMAT_VERSION:
                raise CheckpointError(
                    f"checkpoint {path} has format version {meta.get('format_version')}; "
                    f"this genlab reads version {FORMAT_VERSION}")
            return Checkpoint(path, int(meta["step"]), meta)
    raise CheckpointError(f"no checkpoint found in {run_dir} (is it a genlab run directory?)")


def load_weights(ckpt: Checkpoint) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(ckpt.path / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {ckpt.path} is corrupt: model.safetensors cannot be read ({e})") from None


def load_state(ckpt: Checkpoint) -> dict[str, Any]:
    try:
        return torch.load(ckpt.path / "state.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a damaged pickle/zip
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"checkpoint {ckpt.path} is corrupt: state.pt cannot be read ({first})") from None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir_files(path: Path) -> None:
    for f in path.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _prune(root: Path, keep: int) -> None:
    done = sorted(root.glob(f"{_PREFIX}*"))
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
