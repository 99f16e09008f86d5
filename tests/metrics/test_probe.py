"""The encoders' common probe: a linear probe and 1-NN on codes, beside the same on raw pixels."""

import dataclasses

import torch

from genlab.data import load_dataset
from genlab.metrics.probe import encoder_scores


def test_the_identity_encoder_scores_what_the_pixels_score_and_a_constant_one_scores_chance():
    data = load_dataset("digits")
    same = encoder_scores(lambda x: x, data)
    assert same["linear_probe"] == same["linear_probe_pixels"] > 0.9
    assert same["knn_accuracy"] == same["knn_accuracy_pixels"] > 0.9
    assert same["probe_test"] == 360 and same["probe_train"] == data.train.shape[0]
    const = encoder_scores(lambda x: torch.zeros(x.shape[0], 3), data, pixels=False)
    assert const["linear_probe"] < 0.2 and "linear_probe_pixels" not in const


def test_the_probe_trains_on_a_seeded_subset_of_labelled_examples_only():
    data = load_dataset("digits")
    hidden = data.train_labels.clone()
    hidden[100:] = -1  # a label budget: only the first 100 are labelled
    r = encoder_scores(lambda x: x, dataclasses.replace(data, train_labels=hidden), pixels=False)
    assert r["probe_train"] == 100
    assert encoder_scores(lambda x: x, data, max_train=300, seed=1)["probe_train"] == 300


def test_max_examples_takes_the_first_test_examples_and_as_many_training_ones_at_most():
    data = load_dataset("digits")
    r = encoder_scores(lambda x: x, data, max_examples=50, pixels=False)
    assert (r["probe_train"], r["probe_test"]) == (50, 50)
    first = encoder_scores(lambda x: x, dataclasses.replace(data, test=data.test[:50], test_labels=data.test_labels[:50]),
                           max_train=50, pixels=False)
    assert first == r  # the same seeded training subset, the first 50 test examples
