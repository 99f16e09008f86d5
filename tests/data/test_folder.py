"""Image folders: mixed formats and modes, corrupt files, caching, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import folder, load_dataset
from genlab.errors import DataError


def _make_images(root):
    """8 readable images of mixed modes/sizes/formats, 1 corrupt image, 1 text file."""
    rng = np.random.default_rng(0)
    (root / "sub").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), "RGB").save(root / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (30, 30, 4), dtype=np.uint8), "RGBA").save(root / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (50, 20), dtype=np.uint8), "L").save(root / "sub" / "grey.jpg")
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).convert("P").save(root / "pal.gif")
    Image.fromarray(rng.integers(0, 256, (33, 17, 3), dtype=np.uint8)).save(root / "sub" / "pic.webp")
    Image.fromarray(rng.integers(0, 65536, (24, 24), dtype=np.uint16)).save(root / "deep16.png")
    Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(root / "x.bmp")
    Image.new("CMYK", (16, 16), (0, 255, 0, 0)).save(root / "cmyk.jpg")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "notes.txt").write_text("not an image")


def test_folder_loads_mixed_images(tmp_path, capsys):
    _make_images(tmp_path / "imgs")
    ds = load_dataset(str(tmp_path / "imgs"), image_size=16)
    assert ds.kind == "image" and ds.train_labels is None
    assert ds.train.shape[1:] == (3, 16, 16) and ds.test.shape[1:] == (3, 16, 16)
    assert len(ds.train) + len(ds.test) == 8 and len(ds.test) == 1
    assert ds.train.dtype == torch.float32 and 0 <= ds.train.min() and ds.train.max() <= 1
    assert "warning: skipped 1 unreadable images of 9 in" in capsys.readouterr().err


def test_folder_default_size_and_grey(tmp_path):
    _make_images(tmp_path / "imgs")
    ds = load_dataset(str(tmp_path / "imgs"), channels=1)
    assert ds.train.shape[1:] == (1, 64, 64)


def test_decode_modes(tmp_path):
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(tmp_path / "white16.png")
    assert folder.decode_image(tmp_path / "white16.png", 4, 1).min() == 255  # scaled, not clipped
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent -> white background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    assert folder.decode_image(tmp_path / "clear.png", 4, 3).min() == 255
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    assert folder.decode_image(tmp_path / "c.jpg", 4, 3).shape == (3, 4, 4)


def test_centre_crop_keeps_middle(tmp_path):
    arr = np.zeros((20, 60), np.uint8)
    arr[:, 20:40] = 255  # bright middle third
    Image.fromarray(arr).save(tmp_path / "wide.png")
    out = folder.decode_image(tmp_path / "wide.png", 20, 1)
    assert out.shape == (1, 20, 20) and out[0, :, 4:16].min() > 200


def test_folder_cache_is_reused(tmp_path, monkeypatch, capsys):
    _make_images(tmp_path / "imgs")
    first = load_dataset(str(tmp_path / "imgs"), image_size=8)
    assert list((tmp_path / "cache" / "folders").glob("*.npy"))

    def boom(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(folder, "decode_image", boom)
    capsys.readouterr()
    second = load_dataset(str(tmp_path / "imgs"), image_size=8)
    assert torch.equal(first.train, second.train) and torch.equal(first.test, second.test)
    assert "skipped 1 unreadable images of 9" in capsys.readouterr().err
    # a different size is a different cache entry: decoding is needed (and fails here -> all skipped)
    with pytest.raises(DataError, match="could be read"):
        load_dataset(str(tmp_path / "imgs"), image_size=12)


def test_folder_cache_invalidated_by_new_file(tmp_path):
    _make_images(tmp_path / "imgs")
    n1 = sum(map(len, (lambda d: (d.train, d.test))(load_dataset(str(tmp_path / "imgs"), image_size=8))))
    Image.new("RGB", (9, 9), "red").save(tmp_path / "imgs" / "new.png")
    ds = load_dataset(str(tmp_path / "imgs"), image_size=8)
    assert len(ds.train) + len(ds.test) == n1 + 1


def test_folder_split_is_deterministic_and_single_image(tmp_path):
    (tmp_path / "one").mkdir()
    Image.new("RGB", (5, 5), "blue").save(tmp_path / "one" / "a.png")
    ds = load_dataset(str(tmp_path / "one"), image_size=4)
    assert len(ds.train) == 1 and torch.equal(ds.train, ds.test)
    _make_images(tmp_path / "imgs")
    a = load_dataset(str(tmp_path / "imgs"), image_size=8)
    b = load_dataset(str(tmp_path / "imgs"), image_size=8)
    assert torch.equal(a.test, b.test)


def test_empty_and_missing_dirs(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no images"):
        load_dataset(str(tmp_path / "empty"))
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset(str(tmp_path / "missing"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match="could be read"):
        load_dataset(str(tmp_path / "bad"))
