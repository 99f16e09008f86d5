"""MNIST-style IDX files (MNIST, Fashion-MNIST), plain or gzipped.

Format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): two zero bytes, a type code
(0x08 = unsigned byte), the number of dimensions d, then d big-endian uint32 sizes, then the data.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from genlab.errors import DataError

_UBYTE = 0x08
# The four files of a set: (prefix, kind), e.g. train-images-idx3-ubyte.gz.
PARTS = (("train-images", "idx3"), ("train-labels", "idx1"), ("t10k-images", "idx3"), ("t10k-labels", "idx1"))


def find_part(root: Path, prefix: str, kind: str) -> Path | None:
    """The file for one part in ``root``, accepting ``-``/``.`` before the kind and an optional ``.gz``."""
    for sep in ("-", "."):
        for ext in (".gz", ""):
            path = root / f"{prefix}{sep}{kind}-ubyte{ext}"
            if path.is_file():
                return path
    return None


def missing_files(root: Path) -> list[str]:
    """Names of the IDX parts that ``root`` lacks."""
    return [f"{p}-{k}-ubyte[.gz]" for p, k in PARTS if find_part(root, p, k) is None]


def read_idx(path: Path) -> np.ndarray:
    """Parse an unsigned-byte IDX file into a uint8 array of its declared shape."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad magic number): replace it with the original file")
    if data[2] != _UBYTE:
        raise DataError(f"{path} holds IDX type 0x{data[2]:02x}, not unsigned bytes: replace it with the original file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated (header cut short): delete it and fetch it again")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise DataError(
            f"{path} has {len(data)} bytes but its header {dims} needs {expected}: "
            f"the file is truncated or corrupt, delete it and fetch it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the file starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read {path} ({exc}): the file is corrupt or truncated, delete it and fetch it again") from exc


def load_idx_set(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the four parts in ``root``: uint8 images (N, H, W) and int64 labels (N,), train then test."""
    arrays = [read_idx(find_part(root, p, k) or root / f"{p}-{k}-ubyte") for p, k in PARTS]
    for (images, labels), split in ((arrays[:2], "train"), (arrays[2:], "t10k")):
        _check_pair(root, split, images, labels)
    return arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64)


def _check_pair(root: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Images must be (N, H, W) and labels (N,) with values 0..9."""
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"the {split} files in {root} do not match: images {images.shape}, labels {labels.shape}; "
            f"expected (N, H, W) images and N labels"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"the {split} labels in {root} go up to {labels.max()}, expected 0..9: the file is corrupt")
