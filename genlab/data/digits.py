"""scikit-learn's bundled 8x8 digits (1797 images, values 0..16): no download needed."""

from __future__ import annotations

import numpy as np
from genlab.data.transforms import split_indices

N_TEST = 360  # 1437 train / 360 test


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """float32 images (N, 1, 8, 8) in [0, 1] and int64 labels (N,): train then test."""
    from sklearn.datasets import load_digits  # here, not at the top: importing sklearn takes ~1 s

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    labels = bunch.target.astype(np.int64)
    train, test = split_indices(len(images), N_TEST, seed=0)
    return images[train], labels[train], images[test], labels[test]
