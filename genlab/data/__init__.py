"""Data loading: named data sets, image folders and point files, as in-memory tensors."""

from __future__ import annotations

from genlab.data.dataset import Dataset
from genlab.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "Dataset", "load_dataset"]
