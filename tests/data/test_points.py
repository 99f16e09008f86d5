"""2-D toy sets and point files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.data import load_dataset
from genlab.errors import DataError


def test_ring8_modes_and_points():
    ds = load_dataset("ring8")
    assert ds.kind == "points" and ds.train.shape == (50000, 2) and ds.test.shape == (10000, 2)
    assert ds.train.dtype == torch.float32 and ds.mode_std == 0.01
    assert ds.modes.shape == (8, 2) and len({tuple(np.round(m, 6)) for m in ds.modes.tolist()}) == 8
    assert torch.allclose(ds.modes.norm(dim=1), torch.ones(8))
    dist = torch.cdist(ds.train, ds.modes).min(dim=1).values
    assert dist.max() < 6 * ds.mode_std
    counts = torch.cdist(ds.train, ds.modes).argmin(dim=1).bincount(minlength=8)
    assert counts.min() > 5000  # every mode is populated


def test_grid25_modes():
    ds = load_dataset("grid25")
    assert ds.modes.shape == (25, 2) and ds.mode_std == 0.05
    assert sorted(set(ds.modes[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    assert torch.cdist(ds.test, ds.modes).min(dim=1).values.max() < 6 * ds.mode_std


def test_toy_sets_are_fixed_and_spiral_has_no_modes():
    assert torch.equal(load_dataset("ring8").train, load_dataset("ring8").train)
    sp = load_dataset("spiral")
    assert sp.modes is None and sp.mode_std is None and sp.train.shape == (50000, 2)
    assert torch.isfinite(sp.train).all() and sp.train.abs().max() < 2
    assert load_dataset("ring8", modes=4).modes.shape == (4, 2)
    with pytest.raises(DataError):
        load_dataset("grid25", modes=10)


def test_npy_and_csv_files(tmp_path):
    pts = np.random.default_rng(0).normal(size=(50, 2))
    np.save(tmp_path / "p.npy", pts)
    ds = load_dataset(str(tmp_path / "p.npy"))
    assert ds.train.shape == (45, 2) and ds.test.shape == (5, 2) and ds.modes is None
    assert np.allclose(np.sort(np.concatenate([ds.train, ds.test]), axis=0), np.sort(pts.astype(np.float32), axis=0))
    (tmp_path / "c.csv").write_text("x,y\n" + "\n".join(f"{a},{b}" for a, b in pts[:10]) + "\n")
    assert load_dataset(str(tmp_path / "c.csv")).train.shape == (9, 2)
    (tmp_path / "w.csv").write_text("1 2\n3 4\n5   6\n")
    ds = load_dataset(str(tmp_path / "w.csv"))
    assert len(ds.train) + len(ds.test) == 3


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("three.npy", np.zeros((5, 3)), "N x 2"),
        ("nan.npy", np.array([[0.0, 1.0], [np.nan, 2.0]]), "NaN"),
        ("one.npy", np.zeros((1, 2)), "at least 2"),
        ("empty.csv", "", "empty"),
        ("text.csv", "x,y\na,b\n", "cannot parse"),
        ("ragged.csv", "1,2\n3\n", "cannot parse"),
        ("three.csv", "1,2,3\n4,5,6\n", "N x 2"),
        ("inf.csv", "1,2\ninf,3\n", "NaN"),
    ],
)
def test_bad_point_files(tmp_path, name, content, match):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content)
    with pytest.raises(DataError, match=match):
        load_dataset(str(path))


def test_bad_npy_and_missing_file(tmp_path):
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(str(tmp_path / "junk.npy"))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "nope.csv"))


def test_values_past_float32_and_complex_values_are_refused(tmp_path):
    np.save(tmp_path / "huge.npy", np.array([[1.0, 2.0], [1e300, 3.0]]))  # finite in float64 only
    with pytest.raises(DataError, match="beyond float32"):
        load_dataset(str(tmp_path / "huge.npy"))
    (tmp_path / "huge.csv").write_text("1,2\n3.5e38,4\n")
    with pytest.raises(DataError, match="beyond float32"):
        load_dataset(str(tmp_path / "huge.csv"))
    np.save(tmp_path / "complex.npy", np.array([[1 + 2j, 3], [4, 5j]]))
    with pytest.raises(DataError, match="complex"):
        load_dataset(str(tmp_path / "complex.npy"))


def test_points_reject_image_options():
    with pytest.raises(DataError, match="binarize"):
        load_dataset("ring8", binarize=True)
    with pytest.raises(DataError, match="image size"):
        load_dataset("spiral", image_size=32)
