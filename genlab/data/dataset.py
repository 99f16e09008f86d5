"""The in-memory data set every model trains on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from genlab.data.tags import TagVocab


@dataclass(frozen=True)
class Dataset:
    """A data set held in memory as tensors, split into train and test.

    Value ranges (documented contract, relied on by every model):
      - ``kind == "image"``: float32 of shape (N, C, H, W) with values in [0, 1].
      - ``kind == "points"``: float32 of shape (N, D) (D = 2 for the 2-D sets), raw coordinates.

    With ``binarize`` set, ``train`` still holds grey levels in [0, 1] (the batch loader draws a
    fresh Bernoulli sample of every pixel each time it is seen) while ``test`` is one fixed
    binarised draw, so test numbers are comparable between runs (the IWAE protocol).
    """

    name: str
    kind: str  # "image" | "points"
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None = None  # int64 (N,)
    test_labels: torch.Tensor | None = None
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None  # one per class, in label order
    binarize: bool = False
    modes: torch.Tensor | None = None  # (M, D) known mixture centres of a 2-D set, else None
    mode_std: float | None = None  # std of each mixture component, when known
    # a label budget (genlab.data.labels.keep_labels): indices of the training examples whose
    # labels are kept, the others' are UNLABELLED; None when every training label is there
    labelled: torch.Tensor | None = None
    # a tagged image set (genlab.data.tags): multi-hot float32 (N, T) tags and their vocabulary
    train_tags: torch.Tensor | None = None
    test_tags: torch.Tensor | None = None
    tags: "TagVocab | None" = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) for images, (D,) for points."""
        return tuple(self.train.shape[1:])

    @property
    def dim(self) -> int:
        """Number of values in one example."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    def spec(self) -> "DataSpec":
        center = scale = None
        if self.kind == "points":  # models may standardise points: any scale or offset works
            center = tuple(float(v) for v in self.train.mean(0))
            scale = float((self.train - self.train.mean(0)).pow(2).sum(1).mean().sqrt().clamp_min(1e-12))
        return DataSpec(kind=self.kind, shape=self.shape, num_classes=self.num_classes,
                        binarize=self.binarize, center=center, scale=scale, class_names=self.class_names,
                        labels=None if self.labelled is None else int(self.labelled.numel()),
                        tags=None if self.tags is None else self.tags.to_dict())

    @property
    def train_targets(self) -> torch.Tensor | None:
        """What a batch carries beside x: class labels (N,), or multi-hot tags (N, T)."""
        return self.train_labels if self.train_labels is not None else self.train_tags


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data to be built (saved with every checkpoint)."""

    kind: str  # "image" | "points"
    shape: tuple[int, ...]  # one example: (C, H, W) or (D,)
    num_classes: int | None = None
    binarize: bool = False
    center: tuple[float, ...] | None = None  # points: training mean, per dimension
    scale: float | None = None  # points: RMS distance of training points from the mean
    class_names: tuple[str, ...] | None = None  # labelled data: one name per class, in label order
    labels: int | None = None  # a label budget: the number of training labels kept (None: all)
    tags: dict | None = None  # a tagged set: its tag vocabulary (TagVocab.to_dict())

    @property
    def dim(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def to_dict(self) -> dict:
        return {"kind": self.kind, "shape": list(self.shape), "num_classes": self.num_classes,
                "binarize": self.binarize, "center": None if self.center is None else list(self.center),
                "scale": self.scale, "class_names": None if self.class_names is None else list(self.class_names),
                "labels": self.labels, "tags": self.tags}

    @classmethod
    def from_dict(cls, d: dict, where: object = "data spec") -> "DataSpec":
        """The spec saved in a checkpoint, validated as a whole (CheckpointError names ``where``)."""
        try:
            shape = tuple(d["shape"])
            center, names = d.get("center"), d.get("class_names")
            spec = cls(kind=d["kind"], shape=shape, num_classes=d.get("num_classes"),
                       binarize=d.get("binarize", False), center=None if center is None else tuple(center),
                       scale=d.get("scale"), class_names=None if names is None else tuple(names),
                       labels=d.get("labels"), tags=d.get("tags"))
            ok = (spec.kind in ("image", "points") and len(shape) in (1, 3)
                  and all(type(n) is int and 0 < n <= 2**20 for n in shape)
                  and (spec.num_classes is None or (type(spec.num_classes) is int and spec.num_classes > 0))
                  and type(spec.binarize) is bool
                  and (spec.center is None or all(_is_number(v) for v in spec.center))
                  and (spec.scale is None or _is_number(spec.scale))
                  and (spec.class_names is None or (all(isinstance(n, str) for n in spec.class_names)
                                                    and len(spec.class_names) == spec.num_classes))
                  and (spec.labels is None or (type(spec.labels) is int and spec.labels > 0
                                               and spec.num_classes is not None))
                  and (spec.tags is None or isinstance(spec.tags, dict)))
        except (KeyError, TypeError, ValueError):
            ok = False
        if ok and spec.tags is not None:
            from genlab.data.tags import TagVocab

            TagVocab.from_dict(spec.tags)  # CheckpointError when malformed
        if not ok:
            from genlab.errors import CheckpointError

            raise CheckpointError(f"{where} holds no valid data spec (kind, shape, ...): the run's files are damaged")
        return spec

def _is_number(v: object) -> bool:
    return type(v) in (int, float) and v == v and abs(v) != float("inf")
