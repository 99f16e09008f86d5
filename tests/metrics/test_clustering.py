"""Clustering accuracy (Hungarian matching), NMI and ARI against hand-computed cases."""

import math

import torch

from genlab.metrics.clustering import cluster_accuracy, clustering_scores


def test_a_relabelled_perfect_clustering_scores_1():
    classes = torch.tensor([0, 0, 1, 1, 2, 2])
    clusters = torch.tensor([2, 2, 0, 0, 1, 1])
    assert clustering_scores(clusters, classes) == {"cluster_accuracy": 1.0, "nmi": 1.0, "ari": 1.0}


def test_the_best_one_to_one_matching_is_found():
    # clusters 0 -> class 1 (3 right), 1 -> class 0 (2 right); 1 of 6 cannot be matched
    classes = torch.tensor([1, 1, 1, 0, 0, 0])
    clusters = torch.tensor([0, 0, 0, 1, 1, 0])
    assert math.isclose(cluster_accuracy(clusters, classes), 5 / 6)
    # two clusters cannot both take class 0: one of them is wrong
    assert math.isclose(cluster_accuracy(torch.tensor([0, 1, 2]), torch.tensor([0, 0, 1])), 2 / 3)


def test_one_cluster_for_everything_has_no_information():
    classes = torch.arange(4).repeat(5)
    s = clustering_scores(torch.zeros(20, dtype=torch.long), classes)
    assert math.isclose(s["cluster_accuracy"], 0.25) and abs(s["nmi"]) < 1e-12 and abs(s["ari"]) < 1e-12
