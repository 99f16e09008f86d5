"""CIFAR-10, python version (https://www.cs.toronto.edu/~kriz/cifar.html).

Either the archive ``cifar-10-python.tar.gz`` or its extracted ``cifar-10-batches-py/`` folder.
Each batch is a pickled dict with ``data`` (uint8, (n, 3072), channel-major 32x32) and ``labels``.
Pickles from the internet can run code when loaded, so a restricted unpickler only lets through
the numpy calls an array needs.
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from genlab.errors import DataError

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def _numpy_private(module: str, name: str):
    """numpy's array-rebuilding helper ``name`` (in numpy._core since 2.0, numpy.core before)."""
    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except ImportError:  # pragma: no cover - numpy 1.x
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


# (module, name) -> object: everything a pickled ndarray needs, nothing else. Both the numpy 1
# and numpy 2 module paths appear in pickles; _frombuffer is used by pickle protocol 5.
_ALLOWED = {
    (f"numpy.{pkg}.{module}", name): _numpy_private(module, name)
    for pkg in ("core", "_core")
    for module, name in (("multiarray", "_reconstruct"), ("numeric", "_frombuffer"))
}
_ALLOWED |= {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # bytes in protocol-2 pickles written by Python 3
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global outside :data:`_ALLOWED`."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def _folder(root: Path) -> Path | None:
    """The directory holding the extracted batches, if complete."""
    for place in (root / FOLDER, root):
        if all((place / b).is_file() for b in (*TRAIN_BATCHES, TEST_BATCH)):
            return place
    return None


def missing_files(root: Path) -> list[str]:
    """What ``root`` lacks: [] when the archive or a complete extracted folder is there."""
    if _folder(root) is not None or (root / ARCHIVE).is_file():
        return []
    return [f"{ARCHIVE} (or the extracted {FOLDER}/ with data_batch_1..5 and test_batch)"]


def load_cifar10(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images (N, 3, 32,32) and int64 labels (N,): 50000 train then 10000 test."""
    folder = _folder(root)
    if folder is not None:
        blobs = {b: (folder / b).read_bytes() for b in (*TRAIN_BATCHES, TEST_BATCH)}
        where = folder
    else:
        where = root / ARCHIVE
        blobs = _read_archive(where)
    batches = {b: parse_batch(blob, f"{where}:{b}") for b, blob in blobs.items()}
    train_x = np.concatenate([batches[b][0] for b in TRAIN_BATCHES])
    train_y = np.concatenate([batches[b][1] for b in TRAIN_BATCHES])
    return train_x, train_y, *batches[TEST_BATCH]


def _read_archive(path: Path) -> dict[str, bytes]:
    """The raw batch files from the tar.gz archive."""
    wanted = {*TRAIN_BATCHES, TEST_BATCH}
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted:
                    blobs[base] = tar.extractfile(member).read()
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise DataError(f"cannot read {path} ({exc}): the archive is corrupt, delete it and fetch it again") from exc
    lacking = sorted(wanted - blobs.keys())
    if lacking:
        raise DataError(f"{path} lacks {', '.join(lacking)}: it is not the CIFAR-10 python archive, delete it")
    return blobs


def parse_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> uint8 images (n, 3, 32, 32) and int64 labels (n,)."""
    try:
        # encoding="bytes" reads the Python 2 pickles; keys come back as bytes.
        batch = _RestrictedUnpickler(io.BytesIO(blob), encoding="bytes").load()
        data = np.asarray(_get(batch, "data"), dtype=np.uint8)
        labels = np.asarray(_get(batch, "labels"), dtype=np.int64)
    except Exception as exc:  # any pickle/numpy failure on untrusted input is a bad file
        raise DataError(f"{where} is not a valid CIFAR-10 batch ({exc}): delete it and fetch it again") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise DataError(f"{where} holds data {data.shape} and labels {labels.shape}, expected (n, 3072) and (n,)")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where} has labels outside 0..9: the file is corrupt")
    return data.reshape(-1, 3, 32, 32), labels


def _get(batch, key: str):
    """``batch[key]`` whether the pickle stored the key as bytes or str."""
    if not isinstance(batch, dict):
        raise TypeError(f"expected a dict, got {type(batch).__name__}")
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise KeyError(f"no {key!r} entry")
