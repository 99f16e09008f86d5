"""The feature classifiers behind the image metrics: shipped weights, training, loading, errors."""

import argparse
import json

import pytest
import torch

from genlab.cli import evaluator as evaluator_cli
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.metrics.evaluator import (ASSETS_DIR, FeatureNet, accuracy, find_evaluator, load_evaluator,
                                      train_evaluator)
from tests.conftest import has_fmnist


def _cli(argv: list[str]) -> int:
    """Parse and run ``genlab evaluator ...`` with only this module's parser (main.py wires it)."""
    p = argparse.ArgumentParser()
    evaluator_cli.add_parser(p.add_subparsers(dest="command"))
    return evaluator_cli.run(p.parse_args(argv))


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_feature_net_takes_every_image_size(shape):
    net = FeatureNet(shape, 10).eval()
    x = torch.rand(4, *shape)
    assert net(x).shape == (4, 128) and net.logits(x).shape == (4, 10) and net.num_features == 128
    assert torch.equal(net((x * 255).round().to(torch.uint8)), net((x * 255).round() / 255))


@pytest.mark.parametrize("name, minimum", [("digits", 0.97), ("fashion-mnist", 0.90)])
def test_shipped_evaluators_load_and_meet_their_recorded_accuracy(name, minimum):
    path = ASSETS_DIR / f"evaluator-{name}.safetensors"
    assert path.stat().st_size < 1_000_000
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["data"] == name and meta["test_accuracy"] >= minimum
    assert meta["command"] == f"genlab evaluator train --data {name} --seed 0 --ship"
    net = load_evaluator(name)
    assert net.path == path and tuple(net.in_shape) == tuple(meta["in_shape"])
    if name == "fashion-mnist" and not has_fmnist:
        pytest.skip("Fashion-MNIST is not installed at /usr/share/datasets/fashion-mnist")
    data = load_dataset(name)
    assert accuracy(net, data.test, data.test_labels) == pytest.approx(meta["test_accuracy"], abs=1e-9)


def test_quick_training_runs_end_to_end_and_loads(tmp_path, capsys):
    out = tmp_path / "ev.safetensors"
    argv = ["evaluator", "train", "--data", "digits", "--quick", "--epochs", "4", "--seed", "3", "--out", str(out)]
    assert _cli(argv) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["steps"] == 48 and meta["seed"] == 3 and meta["data"] == "digits" and meta["quick"]
    assert meta["command"] == f"genlab evaluator train --data digits --epochs 4 --out {out} --seed 3 --quick"
    assert {"in_shape", "feature_dim", "test_accuracy", "epochs", "torch", "date"} <= set(meta)
    assert meta["test_accuracy"] > 0.5
    net = load_evaluator(path=out)
    data = load_dataset("digits")
    assert accuracy(net, data.test, data.test_labels) == pytest.approx(meta["test_accuracy"])
    assert "test accuracy" in capsys.readouterr().out


def test_quick_stops_after_a_few_hundred_steps(monkeypatch, tmp_path):
    import genlab.metrics.evaluator as ev

    monkeypatch.setattr(ev, "QUICK_STEPS", 5)  # the real cap, 200 steps, takes several seconds
    assert train_evaluator("digits", quick=True, out_path=tmp_path / "q.safetensors")["steps"] == 5


def test_a_user_trained_evaluator_goes_to_the_cache_and_takes_precedence(tmp_path):
    shipped = find_evaluator("digits")
    assert shipped is not None and shipped.parent == ASSETS_DIR
    meta = train_evaluator("digits", quick=True, epochs=1)  # default out: $GENLAB_CACHE/evaluators (tmp)
    assert find_evaluator("digits") == load_evaluator("digits").path
    assert str(find_evaluator("digits")) == meta["path"] != str(shipped)


def test_training_is_seeded_and_leaves_the_global_rng_alone(tmp_path):
    state = torch.get_rng_state()
    a = train_evaluator("digits", epochs=1, seed=1, out_path=tmp_path / "a.safetensors")
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(3)  # another global RNG state: the result must not depend on it
    b = train_evaluator("digits", epochs=1, seed=1, out_path=tmp_path / "b.safetensors")
    wa, wb = load_evaluator(path=a["path"]).state_dict(), load_evaluator(path=b["path"]).state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_missing_evaluator_names_the_command():
    with pytest.raises(GenlabError, match="genlab evaluator train --data cifar10"):
        load_evaluator("CIFAR10")


def test_unlabelled_data_and_bad_paths_are_user_errors(tmp_path):
    with pytest.raises(GenlabError, match="labelled image data set"):
        train_evaluator("ring8", quick=True, out_path=tmp_path / "r.safetensors")
    with pytest.raises(GenlabError, match=".safetensors"):
        train_evaluator("digits", quick=True, out_path=tmp_path / "r.pt")
    with pytest.raises(GenlabError, match="does not exist"):
        train_evaluator("digits", quick=True, out_path=tmp_path / "no" / "r.safetensors")
    with pytest.raises(GenlabError, match="--out or --ship"):
        _cli(["evaluator", "train", "--data", "digits", "--ship", "--out", str(tmp_path / "x.safetensors")])


def test_a_corrupt_evaluator_is_a_user_error(tmp_path):
    out = tmp_path / "ev.safetensors"
    train_evaluator("digits", quick=True, epochs=0.1, out_path=out)
    out.write_bytes(b"not a safetensors file")
    with pytest.raises(GenlabError, match="cannot load the evaluator"):
        load_evaluator(path=out)


def test_genlab_evaluator_reports_user_errors_on_one_line(capsys):
    from genlab.cli import main

    if "evaluator" not in main.COMMANDS:
        pytest.skip("genlab/cli/main.py does not wire 'genlab evaluator' yet")
    assert main.main(["evaluator", "train", "--data", "ring8", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "labelled image data set" in err


def test_frechet_distance_matches_the_formula_for_gaussians():
    """Two Gaussians with known means and diagonal covariances: FD = |mu1-mu2|^2 + sum (s1 - s2)^2
    for standard deviations s (the matrix square root of diagonal matrices is elementwise)."""
    from genlab.metrics.conditional import frechet_distance

    g = torch.Generator().manual_seed(0)
    s1, s2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([1.5, 1.0, 0.5])
    a = torch.randn(200_000, 3, generator=g, dtype=torch.float64) * s1
    b = torch.randn(200_000, 3, generator=g, dtype=torch.float64) * s2 + torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64)
    expected = 1.0 + 4.0 + ((s1 - s2) ** 2).sum().item()
    assert abs(frechet_distance(a, b) - expected) < 0.05
    assert abs(frechet_distance(a, a)) < 1e-6
