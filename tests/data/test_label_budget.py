"""A label budget (--labels N): N labels kept, balanced over the classes, chosen by a seed of their
own; every other training label is gone before a model sees the data."""

import dataclasses

import pytest
import torch

from genlab.api import load_data
from genlab.config import DataConfig
from genlab.data import load_dataset
from genlab.data.labels import UNLABELLED, keep_labels
from genlab.errors import ConfigError, DataError


def test_the_kept_labels_are_balanced_seeded_and_the_rest_removed():
    full = load_dataset("digits")
    data = keep_labels(full, 50, seed=0)
    kept = data.labelled
    assert kept.numel() == 50 and torch.equal(kept, kept.sort().values)
    assert torch.equal(torch.bincount(full.train_labels[kept], minlength=10), torch.full((10,), 5))
    hidden = torch.ones(full.train_labels.numel(), dtype=torch.bool)
    hidden[kept] = False
    assert (data.train_labels[hidden] == UNLABELLED).all()
    assert torch.equal(data.train_labels[kept], full.train_labels[kept])
    assert torch.equal(data.test_labels, full.test_labels) and data.train is full.train
    assert torch.equal(keep_labels(full, 50, seed=0).labelled, kept)
    assert not torch.equal(keep_labels(full, 50, seed=1).labelled, kept)
    counts = torch.bincount(full.train_labels[keep_labels(full, 53, seed=0).labelled], minlength=10)
    assert counts.sum() == 53 and set(counts.tolist()) == {5, 6}
    spec = data.spec()
    assert spec.labels == 50 and type(spec).from_dict(spec.to_dict()) == spec


def test_load_data_applies_the_budget_of_the_config():
    data = load_data(DataConfig(name="digits", labels=20, labels_seed=3))
    assert (data.train_labels != UNLABELLED).sum() == 20
    assert torch.equal(data.labelled, keep_labels(load_dataset("digits"), 20, seed=3).labelled)


def test_impossible_budgets_are_clear_errors():
    digits = load_dataset("digits")
    with pytest.raises(DataError, match="between the number of classes"):
        keep_labels(digits, 5)
    with pytest.raises(DataError, match="between the number of classes"):
        keep_labels(digits, digits.train.shape[0] + 1)
    with pytest.raises(DataError, match="has no labels"):
        keep_labels(load_dataset("ring8"), 10)
    few = dataclasses.replace(digits, train_labels=torch.cat([torch.zeros(3, dtype=torch.long),
                                                              torch.ones(digits.train.shape[0] - 3, dtype=torch.long)]),
                              num_classes=2, class_names=("a", "b"))
    with pytest.raises(DataError, match="class 'a', which has 3"):
        keep_labels(few, 10)
    with pytest.raises(ConfigError):
        DataConfig(name="digits", labels=0).validate()


def test_a_model_that_does_not_learn_from_a_budget_refuses_it():
    import genlab

    with pytest.raises(ConfigError, match="--labels"):
        genlab.train("vae", "digits", labels=50, steps=1, progress=False)
