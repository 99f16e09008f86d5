"""digits, IDX (MNIST / Fashion-MNIST) and CIFAR-10 loading."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.data import load_dataset
from genlab.data.cifar import parse_batch
from genlab.data.idx import read_idx
from genlab.errors import DataError

from .conftest import idx_bytes, write_idx_set

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def test_digits_shapes_range_and_split():
    ds = load_dataset("digits")
    assert ds.kind == "image" and ds.num_classes == 10
    assert ds.train.shape == (1437, 1, 8, 8) and ds.test.shape == (360, 1, 8, 8)
    assert ds.train.dtype == torch.float32 and ds.train.is_contiguous()
    assert ds.train.min() >= 0 and ds.train.max() == 1.0 and ds.test.max() <= 1.0
    assert ds.train_labels.shape == (1437,) and ds.test_labels.dtype == torch.int64
    assert set(ds.train_labels.tolist()) == set(range(10))


def test_digits_split_is_deterministic():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test)
    assert torch.equal(a.test_labels, b.test_labels)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_set_loads_values_and_labels(tmp_path, gz):
    arrays = write_idx_set(tmp_path / "m", gz=gz)
    ds = load_dataset("mnist", data_dir=str(tmp_path / "m"), download=False)
    assert ds.train.shape == (6, 1, 28, 28) and ds.test.shape == (4, 1, 28, 28)
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte"].astype(np.float32) / 255)
    assert torch.allclose(ds.train[:, 0], expected)
    assert ds.train_labels.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert ds.test_labels.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_idx_accepts_dotted_names(tmp_path):
    write_idx_set(tmp_path, gz=False)
    for p in tmp_path.iterdir():
        p.rename(tmp_path / p.name.replace("-idx", ".idx"))  # train-images.idx3-ubyte
    ds = load_dataset("fashion-mnist", data_dir=str(tmp_path))
    assert ds.name == "fashion-mnist" and len(ds.train) == 6


def test_truncated_idx_raises(tmp_path):
    write_idx_set(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        load_dataset("mnist", data_dir=str(tmp_path))


def test_truncated_gzip_raises(tmp_path):
    write_idx_set(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_dataset("mnist", data_dir=str(tmp_path))


def test_idx_bad_magic_and_mismatched_counts(tmp_path):
    bad = tmp_path / "x"
    bad.write_bytes(b"\x01\x02\x08\x01" + b"\0" * 8)
    with pytest.raises(DataError, match="magic"):
        read_idx(bad)
    write_idx_set(tmp_path / "m", gz=False)
    (tmp_path / "m" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match="do not match"):
        load_dataset("mnist", data_dir=str(tmp_path / "m"))


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_system_dir():
    ds = load_dataset("fashion-mnist", download=False)
    assert ds.train.shape == (60000, 1, 28, 28) and ds.test.shape == (10000, 1, 28, 28)
    assert ds.train_labels.shape == (60000,) and ds.test_labels.shape == (10000,)
    assert 0 <= ds.train.min() and ds.train.max() == 1.0
    assert ds.train_labels[:5].tolist() == [9, 0, 0, 3, 0]  # first training labels of Fashion-MNIST


def _batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": rng.integers(0, 10, n).tolist()}


def _fake_cifar(root: Path, n: int = 3, protocol: int = 2) -> dict[str, dict]:
    """A tiny cifar-10-python.tar.gz with n images per batch."""
    batches = {f"data_batch_{i}": _batch(n, i) for i in range(1, 6)}
    batches["test_batch"] = _batch(n, 9)
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name, batch in batches.items():
            blob = pickle.dumps(batch, protocol=protocol)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return batches


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_archive_loads(tmp_path, protocol):
    batches = _fake_cifar(tmp_path, protocol=protocol)
    ds = load_dataset("cifar10", data_dir=str(tmp_path))
    assert ds.train.shape == (15, 3, 32, 32) and ds.test.shape == (3, 3, 32, 32)
    first = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32).astype(np.float32) / 255
    assert torch.allclose(ds.train[0], torch.from_numpy(first))
    assert ds.train_labels[:3].tolist() == batches["data_batch_1"][b"labels"]
    assert ds.test_labels.tolist() == batches["test_batch"][b"labels"]


def test_cifar10_extracted_folder_loads(tmp_path):
    _fake_cifar(tmp_path / "a")
    with tarfile.open(tmp_path / "a" / "cifar-10-python.tar.gz") as tar:
        tar.extractall(tmp_path / "b", filter="data")
    ds = load_dataset("cifar10", data_dir=str(tmp_path / "b"))
    assert ds.train.shape == (15, 3, 32, 32)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_cifar10_rejects_code_in_pickle(tmp_path):
    with pytest.raises(DataError, match="not a valid CIFAR-10 batch"):
        parse_batch(pickle.dumps({b"data": _Evil(), b"labels": []}), "evil")
    with pytest.raises(DataError):
        parse_batch(b"not a pickle", "junk")


def test_cifar10_missing_batch_in_archive(tmp_path):
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        blob = pickle.dumps(_batch(2, 0))
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(DataError, match="lacks"):
        load_dataset("cifar10", data_dir=str(tmp_path))


def test_named_set_resize_and_channels():
    ds = load_dataset("digits", image_size=16, channels=3)
    assert ds.train.shape == (1437, 3, 16, 16)
    assert 0 <= ds.train.min() and ds.train.max() <= 1
    assert torch.equal(ds.train[:, 0], ds.train[:, 2])
