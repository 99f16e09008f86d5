"""Was the condition obeyed, and at what cost to diversity? Metrics of class-conditional samples,
read by the data set's evaluator (genlab.metrics.evaluator): the same classifier on samples and on
real test images, so every number has its real-data reference beside it.

- conditional accuracy: the evaluator's accuracy on samples of class k against k, per class and
  mean, beside its accuracy on the real test images (``conditional_accuracy_real``);
- intra-class diversity: per class, recall and coverage (Kynkaanniemi et al. 2019; Naeem et al.
  2020) of the samples of class k against the real test images of class k, in the evaluator's
  feature space, averaged over classes. A model that collapses each class onto one image can beat
  real data on accuracy; its recall and coverage give it away;
- per-class FID in the same feature space (the mean over classes), beside the overall FID;
- classification accuracy score (CAS, Ravuri & Vinyals 2019, https://arxiv.org/abs/1905.10887): a
  fresh classifier trained only on generated images, tested on the real test set, beside the same
  classifier and budget trained on as many real training images (``cas_real``).
"""

from __future__ import annotations

from typing import Any

import torch

from genlab.data.dataset import Dataset
from genlab.errors import GenlabError
from genlab.metrics.evaluator import accuracy, load_evaluator
from genlab.metrics.images import prdc


@torch.no_grad()
def conditional_accuracy(model, data: Dataset, *, n_per_class: int = 500, seed: int = 0, k: int = 5,
                         batch_size: int = 500) -> dict[str, Any]:
    """Sample ``n_per_class`` images of every class from ``model`` (a class-conditional genlab
    model) and score them against the real test images of ``data`` (see the module docstring)."""
    if data.test_labels is None or data.num_classes is None:
        raise GenlabError(f"conditional metrics need a labelled test set; {data.name} has none")
    net = load_evaluator(data.name).eval()
    if tuple(net.in_shape) != tuple(data.shape):
        raise GenlabError(f"the {data.name} evaluator takes {tuple(net.in_shape)} images, this run's are {data.shape}")
    g = torch.Generator().manual_seed(seed)
    per_class, recall, coverage, fids = [], [], [], []
    real_features = _features(net, data.test, batch_size)
    for c in range(data.num_classes):
        samples = torch.cat([model.sample(min(batch_size, n_per_class - i), generator=g, condition=c).cpu()
                             for i in range(0, n_per_class, batch_size)])
        per_class.append(accuracy(net, samples, torch.full((n_per_class,), c)))
        real = real_features[data.test_labels == c]
        if len(real) > k and n_per_class > k:
            fake = _features(net, samples, batch_size)
            quality = prdc(real, fake, k)
            recall.append(quality["recall"])
            coverage.append(quality["coverage"])
            fids.append(frechet_distance(real, fake))
    return {
        "conditional_accuracy": sum(per_class) / len(per_class),
        "conditional_accuracy_per_class": per_class,
        "conditional_accuracy_real": accuracy(net, data.test, data.test_labels),
        "class_recall": sum(recall) / len(recall) if recall else None,
        "class_coverage": sum(coverage) / len(coverage) if coverage else None,
        "class_fid": sum(fids) / len(fids) if fids else None,
        "n_per_class": n_per_class,
        "evaluator": str(net.path),
    }


@torch.no_grad()
def tag_accuracy(model, data: Dataset, *, n: int = 2000, seed: int = 0, batch_size: int = 500) -> dict[str, Any]:
    """Samples of a tag-conditioned ``model`` asked for the tags of ``n`` test images (drawn by
    ``seed``), read by the data set's tag evaluator: per tag group and other tag, the fraction of
    samples that show what was asked (``tag_accuracy``), beside the evaluator's agreement with the
    real test images' tags (``tag_accuracy_real``)."""
    from genlab.metrics.evaluator import agreement, tag_accuracy as real_agreement
    from genlab.models.conditions import tag_predict

    if data.test_tags is None or data.tags is None:
        raise GenlabError(f"tag metrics need a tagged test set; {data.name} has none")
    net = load_evaluator(data.name).eval()
    if net.vocab is None or net.vocab.names != data.tags.names:
        raise GenlabError(f"the {data.name} evaluator ({net.path}) does not read this data set's tags; retrain it "
                          f"with 'genlab evaluator train --data {data.name}'")
    g = torch.Generator().manual_seed(seed)
    asked = data.test_tags[torch.randint(len(data.test_tags), (n,), generator=g)]
    pred = torch.cat([tag_predict(net.logits(model.sample(len(part), generator=g, condition=part).cpu()), net.vocab)
                      for part in asked.split(batch_size)])
    return {"tag_accuracy": agreement(pred, asked, net.vocab),
            "tag_accuracy_real": real_agreement(net, data.test, data.test_tags), "n_tag_samples": n,
            "evaluator": str(net.path)}


def _features(net, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([net(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets (N, D), (M, D)
    (Heusel et al. 2017, https://arxiv.org/abs/1706.08500), in float64 with scipy's sqrtm."""
    import warnings

    import numpy as np
    from scipy import linalg

    a, b = a.double().numpy(), b.double().numpy()
    mu = a.mean(0) - b.mean(0)
    sa, sb = _cov(a), _cov(b)
    with warnings.catch_warnings():  # fewer examples than features: singular covariances, as expected
        warnings.simplefilter("ignore")
        root = linalg.sqrtm(sa @ sb)
        if not np.isfinite(root).all():  # as pytorch-fid: a small offset on the diagonals
            eye = np.eye(sa.shape[0]) * 1e-6
            root = linalg.sqrtm((sa + eye) @ (sb + eye))
    return float(mu @ mu + (sa + sb - 2 * np.real(root)).trace())


def _cov(x):
    import numpy as np

    return np.atleast_2d(np.cov(x, rowvar=False))


def classification_accuracy_score(model, data: Dataset, *, n_train: int | None = None, epochs: float = 10,
                                  seed: int = 0, batch_size: int = 128) -> dict[str, Any]:
    """CAS: the evaluator's architecture trained from scratch on ``n_train`` generated images
    (labelled with the classes asked for, those of a seeded random subset of the training set),
    tested on the real test set; ``cas_real``: the same architecture, steps and seed on those
    ``n_train`` real training images. Shift augmentation, AdamW with a one-cycle schedule."""
    import math

    from genlab.metrics.evaluator import FeatureNet, _fit

    if data.train_labels is None or data.num_classes is None:
        raise GenlabError(f"CAS needs a labelled data set; {data.name} has no labels")
    g = torch.Generator().manual_seed(seed)
    n = min(n_train or 10_000, len(data.train))
    idx = torch.randperm(len(data.train), generator=g)[:n]
    y = data.train_labels[idx]
    with torch.no_grad():
        fake = torch.cat([model.sample(len(part), generator=g, condition=part).cpu() for part in y.split(500)])
    total = max(1, round(epochs * math.ceil(n / batch_size)))
    scores = {}
    for key, x in (("cas", fake), ("cas_real", data.train[idx])):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = FeatureNet(data.shape, data.num_classes, outlier_class=False)
            _fit(net, x, y, total=total, batch_size=batch_size, lr=3e-3, weight_decay=5e-4,
                 max_shift=round(data.shape[-1] / 14), oe_weight=0.0, g=torch.Generator().manual_seed(seed), log=None)
        scores[key] = accuracy(net, data.test, data.test_labels)
    return {**scores, "cas_train_size": n, "cas_epochs": epochs}
