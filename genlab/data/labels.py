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
LABEL_SOURCES = ("folders", "tags")  # tags: a tags file beside the images (genlab.data.tags)


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


UNLABELLED = -1  # the label of a training example whose label was removed (a label budget)


def keep_labels(data, n: int, seed: int = 0):
    """``data`` with the labels of ``n`` training examples only: n // K of each of the K classes
    (the n % K left over go to classes drawn by ``seed``), the examples of each class drawn by
    ``seed`` too. Every other training label becomes UNLABELLED here, before any model sees the
    data; ``data.labelled`` lists the kept examples (sorted). Test labels are kept."""
    import dataclasses

    import torch

    y = data.train_labels
    if y is None or data.num_classes is None:
        raise DataError(f"--labels needs a labelled data set; {data.name} has no labels")
    k = data.num_classes
    if not k <= n <= y.numel():
        raise DataError(f"--labels must be between the number of classes ({k}) and the number of "
                        f"training examples ({y.numel():,}), got {n:,}")
    g = torch.Generator().manual_seed(seed)
    quota = torch.full((k,), n // k)
    quota[torch.randperm(k, generator=g)[:n % k]] += 1
    kept = []
    for c in range(k):
        members = (y == c).nonzero().flatten()
        if members.numel() < quota[c]:
            raise DataError(f"--labels {n:,} asks for {int(quota[c])} examples of class "
                            f"{_name(data, c)}, which has {members.numel()}")
        kept.append(members[torch.randperm(members.numel(), generator=g)[:quota[c]]])
    kept = torch.cat(kept).sort().values
    masked = torch.full_like(y, UNLABELLED)
    masked[kept] = y[kept]
    return dataclasses.replace(data, train_labels=masked, labelled=kept)


def _name(data, c: int) -> str:
    return repr(data.class_names[c]) if data.class_names else str(c)
