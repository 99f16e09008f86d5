"""Image metrics: PRDC and the classifier score on hand-computed cases, FID/KID/PRDC of real
against real (near 0) and of noise (far), and the errors a user can hit."""

import importlib.util
from dataclasses import replace

import numpy as np
import pytest
import torch

from genlab.data import load_dataset
from genlab.data.dataset import Dataset
from genlab.errors import GenlabError
from genlab.metrics.images import classifier_score, knn_radii, prdc, score_images
from tests.conftest import has_fmnist


def _halves(name: str, n: int | None = None, seed: int = 0):
    """Two disjoint random halves of a test split: (images A, data set whose test split is B)."""
    data = load_dataset(name)
    perm = torch.randperm(data.test.shape[0], generator=torch.Generator().manual_seed(seed))
    n = n or data.test.shape[0] // 2
    a, b = perm[:n], perm[n:2 * n]
    return data.test[a], replace(data, test=data.test[b], test_labels=data.test_labels[b])


# -- precision / recall / density / coverage --------------------------------------------------------


def test_prdc_hand_computed_2d_case():
    real = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # NND_1 = 1 for each
    fake = torch.tensor([[0.5, 0.0], [0.0, 0.2], [3.0, 3.0]])  # NND_1 = .539, .539, 3.905
    r = prdc(real, fake, k=1)
    # precision: (0.5, 0) and (0, 0.2) lie in real balls of radius 1, (3, 3) does not
    assert r["precision"] == pytest.approx(2 / 3)
    # density: (0.5, 0) is in the balls of (0,0), (1,0); (0, 0.2) in those of (0,0), (0,1) -> 4 / (k M)
    assert r["density"] == pytest.approx(4 / 3)
    # coverage: every real ball but that of (1, 1) (nearest fake at 1.118) holds a fake
    assert r["coverage"] == pytest.approx(3 / 4)
    # recall: the outlier (3, 3) has a huge ball (3.905) that holds (0, 1) and (1, 1) -> every real
    # point is recalled: the failure mode of recall that motivated density and coverage
    assert r["recall"] == pytest.approx(1.0)


def test_knn_radii_excludes_the_point_itself():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 6.0]


def _prdc_brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    """The formulas of Naeem et al. 2020 (https://arxiv.org/abs/2002.09797) on full distance matrices."""
    from sklearn.metrics import pairwise_distances

    r_real = np.sort(pairwise_distances(real), axis=1)[:, k]
    r_fake = np.sort(pairwise_distances(fake), axis=1)[:, k]
    d = pairwise_distances(real, fake)  # (N, M)
    return {"precision": (d <= r_real[:, None]).any(0).mean(), "recall": (d <= r_fake[None, :]).any(1).mean(),
            "density": (d <= r_real[:, None]).sum(0).mean() / k, "coverage": (d.min(1) <= r_real).mean()}


def test_prdc_in_chunks_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(61, 3, generator=g), 0.7 * torch.randn(47, 3, generator=g) + 0.3
    want = _prdc_brute_force(real.double().numpy(), fake.double().numpy(), k=3)
    got = prdc(real, fake, k=3, chunk=8)
    assert got == pytest.approx(want, abs=1e-12)


def test_prdc_needs_more_points_than_k():
    with pytest.raises(GenlabError, match="k=5"):
        prdc(torch.randn(5, 2), torch.randn(10, 2), k=5)


# -- classifier score -------------------------------------------------------------------------------


def test_classifier_score_is_one_for_a_constant_prediction():
    logits = torch.tensor([[2.0, -1.0, 0.5]]).repeat(30, 1)
    assert classifier_score(logits) == pytest.approx(1.0, abs=1e-12)


def test_classifier_score_counts_balanced_confident_classes():
    one_hot = torch.eye(10).repeat(7, 1)  # 70 samples, 7 per class
    assert classifier_score(1e4 * one_hot) == pytest.approx(10.0, rel=1e-12)
    assert classifier_score(1e4 * torch.eye(10)[[0, 1] * 20]) == pytest.approx(2.0, rel=1e-12)
    assert classifier_score(torch.zeros(20, 10)) == pytest.approx(1.0)  # uniform p(y|x): no information


# -- real against real, noise, on the shipped evaluators --------------------------------------------


def test_digits_real_against_real_is_near_zero_and_noise_is_far():
    images, data = _halves("digits")
    real = score_images(images, data)
    noise = score_images(torch.rand(images.shape, generator=torch.Generator().manual_seed(0)), data)
    print("digits real/real", real, "\ndigits noise", noise)
    assert real["n_generated"] == real["n_real"] == 180 and real["features"] == "genlab"
    assert real["evaluator"].endswith("evaluator-digits.safetensors")
    assert real["fid"] < 0.05 * noise["fid"] and abs(real["kid"]) < 0.05 * noise["kid"]
    assert min(real["precision"], real["recall"], real["coverage"]) > 0.85 and 0.7 < real["density"] < 1.3
    assert noise["precision"] < 0.05 and noise["coverage"] < 0.05 and noise["density"] < 0.05
    assert real["classifier_score"] > 9 and noise["classifier_score"] < 1.5


@pytest.mark.skipif(not has_fmnist, reason="Fashion-MNIST is not installed at /usr/share/datasets/fashion-mnist")
def test_fashion_mnist_real_against_real_is_near_zero_and_noise_is_far():
    images, data = _halves("fashion-mnist", n=2000)
    real = score_images(images, data)
    noise = score_images(torch.rand(images.shape, generator=torch.Generator().manual_seed(0)), data)
    print("fashion-mnist real/real", real, "\nfashion-mnist noise", noise)
    assert real["n_real"] == 2000 and real["evaluator"].endswith("evaluator-fashion-mnist.safetensors")
    assert real["fid"] < 0.02 * noise["fid"] and abs(real["kid"]) < 3 * real["kid_std"] + 0.01 * noise["kid"]
    assert min(real["precision"], real["recall"], real["coverage"]) > 0.85 and 0.8 < real["density"] < 1.2
    assert noise["precision"] < 0.05 and noise["coverage"] < 0.05
    assert real["classifier_score"] > 7.5 and noise["classifier_score"] < 1.5


def test_one_class_only_lowers_recall_coverage_and_classifier_score():
    data = load_dataset("digits")
    zeros = data.test[data.test_labels == 0]
    r = score_images(zeros, data)
    assert r["precision"] > 0.9  # every image is a real digit
    assert r["recall"] < 0.3 and r["coverage"] < 0.3 and r["classifier_score"] < 1.5


def test_data_by_name_uint8_input_and_n_real_subset_are_accepted():
    data = load_dataset("digits")
    a = score_images(data.test[:100], "digits", n_real=200)
    b = score_images((data.test[:100] * 255).round().to(torch.uint8), data, n_real=200)
    assert a["n_real"] == b["n_real"] == 200
    assert a["fid"] == pytest.approx(b["fid"], rel=0.05, abs=0.5)
    assert score_images(data.test[:100], data, n_real=200) == a  # deterministic, seeded


# -- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("images, match", [
    (torch.rand(20, 1, 28, 28), "do not match data set digits"),
    (torch.rand(20, 3, 8, 8), "do not match data set digits"),
    (torch.rand(20, 8, 8, 1), "channels last"),
    (torch.rand(20, 64), r"\(N, C, H, W\)"),
    (torch.rand(20, 1, 8, 8) * 2 - 1, r"\[0, 1\]"),
    (torch.rand(3, 1, 8, 8), "more than k=5"),
])
def test_wrong_images_are_user_errors(images, match):
    with pytest.raises(GenlabError, match=match):
        score_images(images, "digits")


def test_unknown_features_and_point_data_are_user_errors():
    with pytest.raises(GenlabError, match="unknown features"):
        score_images(torch.rand(20, 1, 8, 8), "digits", features="vgg")
    with pytest.raises(GenlabError, match="image data set"):
        score_images(torch.rand(20, 2), "ring8")
    with pytest.raises(GenlabError, match="n_real=999"):
        score_images(torch.rand(20, 1, 8, 8), "digits", n_real=999)


def test_a_data_set_without_evaluator_names_the_command():
    x, y = torch.rand(30, 1, 28, 28), torch.arange(30) % 10
    fake = Dataset(name="mnist", kind="image", train=x, test=x, train_labels=y, test_labels=y, num_classes=10)
    with pytest.raises(GenlabError, match="genlab evaluator train --data mnist"):
        score_images(torch.rand(20, 1, 28, 28), fake)


def test_an_unlabelled_image_folder_points_to_inception():
    folder = Dataset(name="/tmp/faces", kind="image", train=torch.rand(30, 3, 8, 8), test=torch.rand(30, 3, 8, 8))
    with pytest.raises(GenlabError, match="neither labels nor tags; use features='inception'"):
        score_images(torch.rand(20, 3, 8, 8), folder)


def test_a_resized_data_set_does_not_fit_the_evaluator():
    data = load_dataset("digits", image_size=16)
    with pytest.raises(GenlabError, match="takes 1x8x8"):
        score_images(data.test[:50], data)


@pytest.mark.skipif(importlib.util.find_spec("torch_fidelity") is not None, reason="torch-fidelity is installed")
def test_inception_without_torch_fidelity_says_what_is_missing():
    with pytest.raises(GenlabError, match="torch-fidelity.*pt_inception.*--features genlab"):
        score_images(torch.rand(20, 1, 8, 8), "digits", features="inception")


def test_inception_failing_to_load_its_weights_is_a_user_error(monkeypatch):
    # as if torch-fidelity were installed but its weights could not be fetched: the failure is caught
    import genlab.metrics.images as images

    monkeypatch.setattr(images, "_has_torch_fidelity", lambda: True)
    monkeypatch.setattr(images, "_CACHE", {})
    with pytest.raises(GenlabError, match="pt_inception.*--features genlab"):
        score_images(torch.rand(20, 1, 8, 8), "digits", features="inception")
