"""Class labels and their names: for the named sets, and from an image folder's sub-folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genlab.errors import DataError

DIGITS = tuple(str(i) for i in range(10))
CLASS_NAMES = {
    "digits": DIGITS,
    "mnist": DIGITS,
    # https://github.com/zalandoresearch/fashion-mnist#labels
    "fashion-mnist": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                      "bag", "ankle boot"),
    # https://www.cs.toronto.edu/~kriz/cifar.html
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}
LABEL_SOURCES = ("folders",)


def folder_labels(root: Path, files: list[Path]) -> tuple[np.ndarray, tuple[str, ...]]:
    """int64 labels of ``files`` (N,) from the sub-folder of ``root`` each sits in, and the class
    names (the sub-folders, sorted). Every image must sit in a class sub-folder."""
    parts = [f.relative_to(root).parts for f in files]
    loose = [f for f, p in zip(files, parts) if len(p) < 2]
    if loose:
        raise DataError(f"--labels-from folders needs one sub-folder per class under {root}, but "
                        f"{len(loose)} image(s) sit directly in it (e.g. {loose[0].name})")
    names = tuple(sorted({p[0] for p in parts}))
    if len(names) < 2:
        raise DataError(f"--labels-from folders found one class ({names[0]!r}) under {root}; "
                        "a labelled folder needs at least two class sub-folders")
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[p[0]] for p in parts], dtype=np.int64), names
