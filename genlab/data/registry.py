"""``load_dataset``: a registered name or a path -> :class:`Dataset`."""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from genlab.data import cifar, digits, download as dl, folder, idx, points, tags, toonfaces
from genlab.data.dataset import Dataset
from genlab.data.labels import CLASS_NAMES, LABEL_SOURCES, folder_labels
from genlab.data.locate import locate
from genlab.data import transforms as T
from genlab.errors import DataError
from genlab.limits import ensure_fits

IMAGE_SETS = ("digits", "mnist", "fashion-mnist", "cifar10", "toonfaces")
POINT_SETS = ("ring8", "grid25", "spiral")
DATASETS = IMAGE_SETS + POINT_SETS
POINT_SUFFIXES = (".npy", ".csv")
DEFAULT_IMAGE_SIZE, DEFAULT_CHANNELS = 64, 3  # for image folders
MIN_TAG_COUNT = 10  # a tagged folder's tags on fewer images are dropped


def load_dataset(
    name: str,
    *,
    data_dir: str | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    binarize: bool = False,
    download: bool = True,
    modes: int | None = None,
    labels_from: str | None = None,
    min_tag_count: int = MIN_TAG_COUNT,
) -> Dataset:
    """Load a data set into memory.

    ``name`` is one of :data:`DATASETS`, a directory of images, or a ``.npy``/``.csv`` file of
    N x 2 points. Images come back as float32 (N, C, H, W) in [0, 1], points as float32 (N, 2).
    ``image_size``/``channels`` resize/convert images; ``binarize`` replaces the image test set by
    one fixed Bernoulli draw; ``modes`` sets the number of centres of ring8/grid25;
    ``labels_from="folders"`` labels an image folder by the sub-folder each image sits in; a folder
    with a tags file beside its images (genlab.data.tags) is a tagged set (``labels_from="tags"``
    says so explicitly), its tags on fewer than ``min_tag_count`` images dropped.
    Labelled sets carry their class names, tagged ones their tag vocabulary.
    Every user-fixable problem raises :class:`~genlab.errors.DataError`.
    """
    _check_image_args(image_size, channels)
    key = name.strip().lower().replace("_", "-")
    if labels_from is not None and labels_from not in LABEL_SOURCES:
        raise DataError(f"labels can come from: {', '.join(LABEL_SOURCES)}; got {labels_from!r}")
    if labels_from is not None and (key in DATASETS or Path(name).suffix.lower() in POINT_SUFFIXES):
        raise DataError(f"--labels-from applies to a folder of images, not to {name!r}"
                        + (" (its labels are built in)" if key in IMAGE_SETS else ""))
    if key in POINT_SETS:
        return _points(_toy(key, modes), binarize, image_size, channels)
    if key in IMAGE_SETS:
        if modes is not None:
            raise DataError(f"--modes applies to the 2-D sets ring8 and grid25, not to {key}")
        if key == "toonfaces":  # drawn once into the cache, then read like any tagged folder
            ds = _from_path(str(toonfaces.generate(toonfaces.cache_dir(), n=toonfaces.DEFAULT_N)), None, None, False, None, "tags",
                            min_tag_count)
            return _finish_images(replace(ds, name="toonfaces"), image_size, channels, binarize)
        ds = _NAMED_IMAGES[key](data_dir=data_dir, download=download)
        return _finish_images(ds, image_size, channels, binarize)
    return _from_path(name, image_size, channels, binarize, modes, labels_from, min_tag_count)


def _check_image_args(image_size: int | None, channels: int | None) -> None:
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise DataError(f"image size must be a positive whole number of pixels, got {image_size!r}")
    if channels is not None and channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")


def _from_path(name: str, image_size: int | None, channels: int | None, binarize: bool, modes: int | None,
               labels_from: str | None = None, min_tag_count: int = MIN_TAG_COUNT) -> Dataset:
    """A directory -> image folder; a .npy/.csv file -> points; anything else -> DataError."""
    path = Path(name).expanduser()
    if path.is_dir():
        if modes is not None:
            raise DataError("--modes applies to the 2-D sets ring8 and grid25, not to an image folder")
        size, chans = image_size or DEFAULT_IMAGE_SIZE, channels or DEFAULT_CHANNELS
        images, files = folder.load_folder(path, size, chans)
        if labels_from == "tags" or (labels_from is None and any((path / f).is_file() for f in tags.TAG_FILES)):
            return _finish_images(_tagged(path, images, files, min_tag_count), None, None, binarize)
        train, test = _split(len(images))
        labels = names = None
        if labels_from == "folders":  # aligned with the images that were kept
            labels, names = folder_labels(path, files)
        ds = Dataset(name=str(path), kind="image", train=T.to_float(images[train]), test=T.to_float(images[test]),
                     train_labels=None if labels is None else T.to_labels(labels[train]),
                     test_labels=None if labels is None else T.to_labels(labels[test]),
                     num_classes=None if names is None else len(names), class_names=names)
        return _finish_images(ds, None, None, binarize)
    if path.suffix.lower() in POINT_SUFFIXES:
        # ``modes`` is not used here: mixture centres of a point file are fitted elsewhere.
        data = points.read_point_file(path)
        train, test = _split(len(data))
        return _points(Dataset(name=str(path), kind="points", train=_t(data[train]), test=_t(data[test])), binarize, image_size, channels)
    if path.exists():
        raise DataError(f"{path} is neither a directory of images nor a .npy/.csv point file")
    raise DataError(
        f"unknown data set {name!r}: use one of {', '.join(DATASETS)}, a directory of images, "
        f"or a .npy/.csv file of N x 2 points"
    )


def _tagged(path: Path, images: np.ndarray, files: list[Path], min_tag_count: int) -> Dataset:
    """The images of a folder that have a line in its tags file, with their multi-hot tags."""
    joined = tags.join_tags(path, files, tags.read_tags(path))
    vocab = tags.build_vocab(joined.tags, min_tag_count)
    if vocab.dropped:
        shown = ", ".join(f"{t} ({c})" for t, c in vocab.dropped[:10]) + (", ..." if len(vocab.dropped) > 10 else "")
        print(f"note: {len(vocab.dropped)} tag(s) on fewer than {min_tag_count} images dropped: {shown}",
              file=sys.stderr)
    images, hot = images[joined.indices], vocab.multi_hot(joined.tags)
    train, test = _split(len(images))
    return Dataset(name=str(path), kind="image", train=T.to_float(images[train]), test=T.to_float(images[test]),
                   train_tags=T.to_float(hot[train], scale=1.0), test_tags=T.to_float(hot[test], scale=1.0),
                   tags=vocab)


def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """90/10 seeded split; a single item is both the train and the test set."""
    if n == 1:
        return np.array([0]), np.array([0])
    return T.split_indices(n, T.ten_percent(n), seed=0)


def _t(arr: np.ndarray) -> torch.Tensor:
    """float32 contiguous tensor of the same values."""
    return T.to_float(arr, scale=1.0)


def _toy(key: str, modes: int | None) -> Dataset:
    train, test, centres, std = points.toy_set(key, modes)
    return Dataset(
        name=key, kind="points", train=_t(train), test=_t(test),
        modes=None if centres is None else _t(centres), mode_std=std,
    )


def _points(ds: Dataset, binarize: bool, image_size: int | None, channels: int | None) -> Dataset:
    if binarize:
        raise DataError(f"--binarize applies to image data sets, not to the points of {ds.name}")
    if image_size is not None or channels is not None:
        raise DataError(f"image size and channels apply to image data sets, not to the points of {ds.name}")
    return ds


def _finish_images(ds: Dataset, image_size: int | None, channels: int | None, binarize: bool) -> Dataset:
    """Apply the requested size, channels and test-set binarisation."""
    train, test = ds.train, ds.test
    c, s = channels or train.shape[1], image_size or train.shape[-1]
    ensure_fits((len(train) + len(test)) * c * s * s * 4 * 2, f"{ds.name} at {s} x {s} pixels, {c} channel(s)",
                hint="choose a smaller --image-size")
    if channels is not None:
        train, test = T.convert_channels(train, channels), T.convert_channels(test, channels)
    if image_size is not None:
        train, test = T.resize(train, image_size), T.resize(test, image_size)
    if binarize:
        test = T.binarize(test, seed=0)
    return replace(ds, train=train.contiguous(), test=test.contiguous(), binarize=binarize)


def _labelled(name: str, arrays: tuple[np.ndarray, ...], scale: float) -> Dataset:
    train_x, train_y, test_x, test_y = arrays
    return Dataset(
        name=name, kind="image",
        train=T.to_float(train_x, scale), test=T.to_float(test_x, scale),
        train_labels=T.to_labels(train_y), test_labels=T.to_labels(test_y), num_classes=10,
        class_names=CLASS_NAMES[name],
    )


def _load_digits(*, data_dir: str | None, download: bool) -> Dataset:
    return _labelled("digits", digits.load(), scale=1.0)


def _load_idx(name: str, *, data_dir: str | None, download: bool) -> Dataset:
    root = locate(name, missing=idx.missing_files, fetch=partial(dl.fetch, name), data_dir=data_dir, download=download)
    train_x, train_y, test_x, test_y = idx.load_idx_set(root)
    return _labelled(name, (train_x[:, None], train_y, test_x[:, None], test_y), scale=255.0)


def _load_cifar10(*, data_dir: str | None, download: bool) -> Dataset:
    root = locate("cifar10", missing=cifar.missing_files, fetch=partial(dl.fetch, "cifar10"), data_dir=data_dir, download=download)
    return _labelled("cifar10", cifar.load_cifar10(root), scale=255.0)


_NAMED_IMAGES = {
    "digits": _load_digits,
    "mnist": partial(_load_idx, "mnist"),
    "fashion-mnist": partial(_load_idx, "fashion-mnist"),
    "cifar10": _load_cifar10,
}
