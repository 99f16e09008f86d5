"""Shared fixtures: every data test runs with its own cache, no $GENLAB_DATA and no real network."""

from __future__ import annotations

import gzip
import socket
import struct
from pathlib import Path

import numpy as np
import pytest


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Private HOME and cache; downloads go to a refused loopback port unless a test says otherwise."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    monkeypatch.setenv("GENLAB_DATA_URL", f"http://127.0.0.1:{closed_port()}/")
    return tmp_path


def idx_bytes(arr: np.ndarray) -> bytes:
    """uint8 array -> IDX file contents (magic 0,0,0x08,ndim; big-endian sizes; data)."""
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write_idx_set(root: Path, n_train: int = 6, n_test: int = 4, gz: bool = True, seed: int = 0) -> dict:
    """Write a small synthetic MNIST-style set into ``root``; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return arrays
