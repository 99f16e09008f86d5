"""2-D point sets: the generated toy sets (ring8, grid25, spiral) and N x 2 point files.

The toy sets have tiny component stds on purpose (mode-collapse tests): never standardise them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from genlab.errors import DataError

N_TRAIN, N_TEST = 50_000, 10_000
RING_STD, GRID_STD = 0.01, 0.05
_SEEDS = {"train": 0, "test": 1}


def ring_modes(k: int = 8) -> np.ndarray:
    """(k, 2) centres (cos 2*pi*i/k, sin 2*pi*i/k) on the unit circle."""
    angles = 2 * np.pi * np.arange(k) / k
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_modes(k: int = 25) -> np.ndarray:
    """(k, 2) centres of a square grid with spacing 2 centred at 0 (k = 25: {-4,-2,0,2,4}^2)."""
    side = int(round(np.sqrt(k)))
    if side < 1 or side * side != k:
        raise DataError(f"grid25 needs a square number of modes (4, 9, 25, ...), got {k}")
    axis = (np.arange(side) - (side - 1) / 2) * 2.0
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def sample_mixture(modes: np.ndarray, std: float, n: int, seed: int) -> np.ndarray:
    """n float32 points (n, 2) from an equal-weight Gaussian mixture with isotropic ``std``."""
    rng = np.random.default_rng(seed)
    which = rng.integers(len(modes), size=n)
    return (modes[which] + std * rng.standard_normal((n, 2))).astype(np.float32)


def spiral(n: int, seed: int) -> np.ndarray:
    """n float32 points (n, 2) on a 2-D spiral (scikit-learn's swiss roll seen from the side), in about [-1, 1]^2."""
    from sklearn.datasets import make_swiss_roll  # here: importing sklearn takes ~1 s

    xyz, _ = make_swiss_roll(n, noise=0.25, random_state=seed)
    return (xyz[:, [0, 2]] / (4.5 * np.pi)).astype(np.float32)


def toy_set(name: str, modes: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float | None]:
    """(train (50000, 2), test (10000, 2), mixture centres (M, 2) or None, component std or None)."""
    if name == "spiral":
        if modes is not None:
            raise DataError("spiral has no modes: leave out --modes (it applies to ring8 and grid25)")
        return spiral(N_TRAIN, _SEEDS["train"]), spiral(N_TEST, _SEEDS["test"]), None, None
    if modes is not None and modes < 1:
        raise DataError(f"--modes must be at least 1, got {modes}")
    if name == "ring8":
        centres, std = ring_modes(modes or 8), RING_STD
    else:
        centres, std = grid_modes(modes or 25), GRID_STD
    train = sample_mixture(centres, std, N_TRAIN, _SEEDS["train"])
    test = sample_mixture(centres, std, N_TEST, _SEEDS["test"])
    return train, test, centres.astype(np.float32), std


def read_point_file(path: Path) -> np.ndarray:
    """A finite float32 (N, 2) array, N >= 2, from a .npy or .csv file."""
    if not path.is_file():
        raise DataError(f"point file {path} does not exist: check the path")
    points = _read_npy(path) if path.suffix.lower() == ".npy" else _read_csv(path)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError(f"{path} holds an array of shape {points.shape}: a point file must be N x 2 (one x, y pair a row)")
    if len(points) < 2:
        raise DataError(f"{path} has {len(points)} points: a point file needs at least 2 rows")
    if not np.all(np.isfinite(points)):
        raise DataError(f"{path} contains NaN or infinite values: remove those rows")
    with np.errstate(over="ignore"):
        single = np.ascontiguousarray(points, dtype=np.float32)
    if not np.all(np.isfinite(single)):
        raise DataError(f"{path} has values beyond float32's range (about 3.4e38): rescale the points")
    return single


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
        if np.iscomplexobj(arr):
            raise DataError(f"{path} holds complex numbers: a point file holds real x, y pairs")
        return np.asarray(arr, dtype=np.float64)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"cannot read {path} as a numeric .npy array ({exc}): save it with numpy.save") from exc


def _read_csv(path: Path) -> np.ndarray:
    """Comma- or whitespace-separated numbers; a first line that is not numbers is a header."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc}): give a text file of x, y rows") from exc
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path} is empty: a point file needs at least 2 rows of x, y")
    delimiter = "," if any("," in ln for ln in lines) else None
    if not _is_numeric(lines[0], delimiter):
        lines = lines[1:]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.loadtxt(lines, delimiter=delimiter, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"cannot parse {path} as numbers ({exc}): give rows of x, y") from exc


def _is_numeric(line: str, delimiter: str | None) -> bool:
    try:
        [float(tok) for tok in line.split(delimiter)]
    except ValueError:
        return False
    return True
