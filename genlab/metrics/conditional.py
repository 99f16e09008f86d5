"""Was the condition obeyed, and at what cost to diversity? Metrics of class-conditional samples,
read by the data set's evaluator (genlab.metrics.evaluator): the same classifier on samples and on
real test images, so every number has its real-data reference beside it.

- conditional accuracy: the evaluator's accuracy on samples of class k against k, per class and
  mean, beside its accuracy on the real test images (``conditional_accuracy_real``);
- intra-class diversity: per class, recall and coverage (Kynkaanniemi et al. 2019; Naeem et al.
  2020) of the samples of class k against the real test images of class k, in the evaluator's
  feature space, averaged over classes. A model that collapses each class onto one image can beat
  real data on accuracy; its recall and coverage give it away.
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
    per_class, recall, coverage = [], [], []
    real_features = _features(net, data.test, batch_size)
    for c in range(data.num_classes):
        samples = torch.cat([model.sample(min(batch_size, n_per_class - i), generator=g, condition=c).cpu()
                             for i in range(0, n_per_class, batch_size)])
        per_class.append(accuracy(net, samples, torch.full((n_per_class,), c)))
        real = real_features[data.test_labels == c]
        if len(real) > k and n_per_class > k:
            quality = prdc(real, _features(net, samples, batch_size), k)
            recall.append(quality["recall"])
            coverage.append(quality["coverage"])
    return {
        "conditional_accuracy": sum(per_class) / len(per_class),
        "conditional_accuracy_per_class": per_class,
        "conditional_accuracy_real": accuracy(net, data.test, data.test_labels),
        "class_recall": sum(recall) / len(recall) if recall else None,
        "class_coverage": sum(coverage) / len(coverage) if coverage else None,
        "n_per_class": n_per_class,
        "evaluator": str(net.path),
    }


def _features(net, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([net(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
