"""Name resolution, lookup order, binarisation."""

from __future__ import annotations

import pytest
import torch

from genlab.data import DATASETS, load_dataset
from genlab.errors import DataError

from .conftest import write_idx_set


def test_registered_names():
    assert set(DATASETS) == {"digits", "mnist", "fashion-mnist", "cifar10", "toonfaces", "ring8", "grid25", "spiral"}


def test_unknown_name_lists_known_names():
    with pytest.raises(DataError) as info:
        load_dataset("imagenet")
    for name in DATASETS:
        assert name in str(info.value)


def test_lookup_order(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "explicit", n_train=2)
    write_idx_set(tmp_path / "env" / "mnist", n_train=3)  # $GENLAB_DATA/<name>/
    write_idx_set(tmp_path / "cache" / "mnist", n_train=4)  # $GENLAB_CACHE/<name>
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "env"))
    assert len(load_dataset("mnist", data_dir=str(tmp_path / "explicit")).train) == 2
    assert len(load_dataset("mnist", download=False).train) == 3
    monkeypatch.delenv("GENLAB_DATA")
    assert len(load_dataset("mnist", download=False).train) == 4


def test_default_cache_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("GENLAB_CACHE")
    write_idx_set(tmp_path / "home" / ".cache" / "genlab" / "mnist", n_train=7)
    assert len(load_dataset("mnist", download=False).train) == 7


def test_explicit_data_dir_does_not_fall_back(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "cache" / "mnist")
    (tmp_path / "wrong").mkdir()
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[\.gz\]"):
        load_dataset("mnist", data_dir=str(tmp_path / "wrong"))
    with pytest.raises(DataError, match="not a directory"):
        load_dataset("mnist", data_dir=str(tmp_path / "absent"))


def test_nothing_found_lists_places(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", download=False)
    msg = str(info.value)
    assert str(tmp_path / "env") in msg and str(tmp_path / "cache" / "cifar10") in msg and "--data-dir" in msg


def test_binarize_test_set():
    a = load_dataset("digits", binarize=True)
    b = load_dataset("digits", binarize=True)
    plain = load_dataset("digits")
    assert a.binarize and not plain.binarize
    assert set(a.test.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a.test, b.test)
    assert torch.equal(a.train, plain.train)
    assert (a.test == 1).float().mean().item() == pytest.approx(plain.test.mean().item(), abs=0.02)


def test_bad_image_arguments():
    with pytest.raises(DataError, match="channels"):
        load_dataset("digits", channels=2)
    with pytest.raises(DataError, match="image size"):
        load_dataset("digits", image_size=0)
    with pytest.raises(DataError, match="modes"):
        load_dataset("mnist", modes=3)


def test_name_normalisation(tmp_path):
    write_idx_set(tmp_path)
    assert load_dataset("Fashion_MNIST", data_dir=str(tmp_path)).name == "fashion-mnist"
