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
    assert list((tmp_path / "cache" / "folders").glob("*.npz"))

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


def _class_folders(root, broken_in_the_middle=True):
    """3 classes of solid-colour images (the class is readable from the pixels), with broken files
    in the middle of a class; returns the colour of each class."""
    colours = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}
    for name, rgb in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(6):
            if broken_in_the_middle and i == 3:
                (root / name / f"{i:02d}.png").write_bytes(b"\x89PNG broken")
            else:
                Image.new("RGB", (12, 12), rgb).save(root / name / f"{i:02d}.png")
    return colours


def test_labels_from_folders_stay_aligned_with_the_kept_images(tmp_path, capsys):
    colours = _class_folders(tmp_path / "imgs")
    for _ in range(2):  # decoded, then from the cache
        ds = load_dataset(str(tmp_path / "imgs"), image_size=8, labels_from="folders")
        assert ds.class_names == ("blue", "green", "red") and ds.num_classes == 3
        x = torch.cat([ds.train, ds.test])
        y = torch.cat([ds.train_labels, ds.test_labels])
        assert len(x) == 15  # 3 x 6 files, 3 broken
        for label, name in enumerate(ds.class_names):
            mean_rgb = x[y == label].mean((0, 2, 3)) * 255
            assert torch.allclose(mean_rgb, torch.tensor(colours[name], dtype=torch.float32), atol=1)
    assert "skipped 3 unreadable images" in capsys.readouterr().err
    assert load_dataset(str(tmp_path / "imgs"), image_size=8).train_labels is None  # not asked: unlabelled


def test_labels_from_folders_needs_class_folders(tmp_path):
    _make_images(tmp_path / "flat")
    with pytest.raises(DataError, match="sit directly in it"):
        load_dataset(str(tmp_path / "flat"), image_size=8, labels_from="folders")
    with pytest.raises(DataError, match="built in"):
        load_dataset("digits", labels_from="folders")


def test_named_sets_carry_class_names():
    ds = load_dataset("digits")
    assert ds.class_names == tuple("0123456789") and ds.spec().class_names == ds.class_names
    from genlab.data.labels import CLASS_NAMES

    assert CLASS_NAMES["fashion-mnist"][7] == "sneaker" and len(CLASS_NAMES["cifar10"]) == 10
