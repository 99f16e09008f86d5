"""How well predicted clusters match the true classes (InfoGAN's categorical code, ClusterGAN's protocol).

Clustering accuracy: the best one-to-one matching of clusters to classes (the Hungarian
algorithm, scipy.optimize.linear_sum_assignment), then the fraction of examples whose matched class
is right; NMI and ARI from scikit-learn.
"""

from __future__ import annotations

import numpy as np
import torch


def cluster_accuracy(clusters: torch.Tensor, classes: torch.Tensor) -> float:
    """max over one-to-one maps m of mean(m(cluster_i) == class_i); (N,) int tensors. With more
    clusters than classes the unmatched clusters count as wrong."""
    from scipy.optimize import linear_sum_assignment

    a, b = clusters.long().cpu().numpy(), classes.long().cpu().numpy()
    counts = np.zeros((a.max() + 1, b.max() + 1), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / a.size)


def clustering_scores(clusters: torch.Tensor, classes: torch.Tensor) -> dict[str, float]:
    """cluster_accuracy, nmi and ari of predicted clusters against true classes, (N,) each."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    a, b = clusters.cpu().numpy(), classes.cpu().numpy()
    return {"cluster_accuracy": cluster_accuracy(clusters, classes),
            "nmi": float(normalized_mutual_info_score(b, a)), "ari": float(adjusted_rand_score(b, a))}
