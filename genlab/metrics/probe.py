"""What an encoder's codes know about the classes, on one protocol for every encoder (bigan's E,
ae's and vae's encoders) and for raw pixels beside them.

- linear probe: a logistic regression (scikit-learn, standardised inputs) trained on the codes of
  up to ``max_train`` labelled training examples, its accuracy on the codes of the test set;
- 1-NN: the class of the nearest training code (Euclidean), accuracy on the test set;
- the same two on raw pixels (``linear_probe_pixels``, ``knn_accuracy_pixels``): the baseline an
  encoder has to beat to have learnt anything a pixel does not already say.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from genlab.data.dataset import Dataset

MAX_TRAIN = 10_000


def encoder_scores(encode: Callable[[torch.Tensor], torch.Tensor], data: Dataset, *, seed: int = 0,
                   max_train: int = MAX_TRAIN, max_examples: int | None = None,
                   pixels: bool = True) -> dict[str, Any]:
    """linear_probe and knn_accuracy of ``encode`` (data-space examples -> codes), and on raw
    pixels when ``pixels``; with the numbers of examples used. ``max_examples`` (genlab eval's
    quick look) takes the first N test examples and at most N training ones."""
    if max_examples is not None:
        max_train = min(max_train, max_examples)
    x_train, y_train = _train_subset(data, max_train, seed)
    x_test, y_test = data.test[:max_examples], data.test_labels[:max_examples].numpy()
    out = _probe(_codes(encode, x_train), y_train, _codes(encode, x_test), y_test, "")
    if pixels:
        out.update(_probe(x_train.flatten(1).numpy(), y_train, x_test.flatten(1).numpy(), y_test, "_pixels"))
    return {**out, "probe_train": int(len(y_train)), "probe_test": int(len(y_test))}


@torch.no_grad()
def reconstruction_scores(reconstruct: Callable[[torch.Tensor], torch.Tensor], data: Dataset,
                          batch_size: int = 500) -> dict[str, Any]:
    """recon_mse (per value, data space) of ``reconstruct`` on the test set, and, where genlab has
    an evaluator for the data set, how often it gives the reconstruction the class of the original
    (recon_class_accuracy)."""
    recon = torch.cat([reconstruct(x).float().cpu() for x in data.test.split(batch_size)])
    out: dict[str, Any] = {"recon_mse": float((recon - data.test).pow(2).mean())}
    try:
        from genlab.metrics.evaluator import accuracy, load_evaluator

        net = load_evaluator(data.name)
    except Exception:  # no evaluator for this data set (an image folder): the metric is left out
        return out
    if tuple(net.in_shape) == tuple(data.shape):
        out["recon_class_accuracy"] = accuracy(net, recon, data.test_labels)
    return out


def _train_subset(data: Dataset, n: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    y = data.train_labels
    idx = (y >= 0).nonzero().flatten()  # labelled examples only (a label budget hides the rest)
    if idx.numel() > n:
        idx = idx[torch.randperm(idx.numel(), generator=torch.Generator().manual_seed(seed))[:n]]
    return data.train[idx], y[idx].numpy()


@torch.no_grad()
def _codes(encode, x: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    return torch.cat([encode(part).float().flatten(1).cpu() for part in x.split(batch_size)]).numpy()


def _probe(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, suffix: str) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(train, y_train)
    knn = KNeighborsClassifier(n_neighbors=1).fit(train, y_train)
    return {f"linear_probe{suffix}": float(linear.score(test, y_test)),
            f"knn_accuracy{suffix}": float(knn.score(test, y_test))}
