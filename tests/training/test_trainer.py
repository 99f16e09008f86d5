"""The trainer's contract with models, seen through a model made only for these tests."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

import genlab
from genlab.errors import TrainingDiverged
from genlab.models import MODELS
from genlab.models.base import GenerativeModel


SEEN_STEPS: list[int] = []


@dataclass
class ProbeConfig:
    nan_at: int = -1  # the step whose loss becomes NaN
    d_steps: int = 3


class Probe(GenerativeModel):
    """Two networks, two optimizers and K 'critic' batches per step, like a GAN."""

    name = "probe"
    Config = ProbeConfig
    train_defaults = {"steps": 4}

    def __init__(self, config, spec):
        super().__init__(config, spec)
        self.a = nn.Linear(spec.dim, 1)
        self.b = nn.Linear(spec.dim, 1)
        self.batches_per_step = config.d_steps + 1
        self.seen_steps = SEEN_STEPS  # the trainer's instance; genlab.train returns the loaded one

    def configure_optimizers(self):
        return {"a": torch.optim.SGD(self.a.parameters(), lr=0.01),
                "b": torch.optim.Adam(self.b.parameters(), lr=0.01)}

    def train_step(self, batches, optimizers, step):
        self.seen_steps.append(step)
        for _ in range(self.config.d_steps):
            x = next(batches).x.flatten(1)
            loss_a = self.a(x).pow(2).mean()
            optimizers["a"].zero_grad()
            loss_a.backward()
            optimizers["a"].step()
        x = next(batches).x.flatten(1)
        loss_b = self.b(x).pow(2).mean()
        optimizers["b"].zero_grad()
        loss_b.backward()
        optimizers["b"].step()
        if step == self.config.nan_at:
            loss_b = loss_b * float("nan")
        return {"loss": loss_b.detach(), "a": loss_a.detach()}

    def evaluate(self, data, **_):
        return {}


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setitem(MODELS, "probe", Probe)
    SEEN_STEPS.clear()


def test_the_model_draws_as_many_batches_as_it_needs(probe, tmp_path):
    model = genlab.train("probe", "digits", steps=6, batch_size=16, out=tmp_path / "p", progress=False,
                         log_every=2, overrides=["d_steps=4"])
    assert SEEN_STEPS == list(range(6)) and model.step == 6
    state = torch.load(next((tmp_path / "p" / "checkpoints").glob("step-*")) / "state.pt", weights_only=True)
    assert int(state["data"]["batches_drawn"]) == 6 * 5
    assert set(state["optimizers"]) == {"a", "b"}


def test_epochs_count_the_batches_a_step_consumes(probe, tmp_path):
    # digits: 1437 training images, batch 100 -> 14 batches an epoch; 4 batches a step -> 7 steps for 2 epochs
    model = genlab.train("probe", "digits", epochs=2, batch_size=100, out=tmp_path / "e", progress=False)
    assert len(SEEN_STEPS) == 7 and model.step == 7


def test_nan_loss_stops_with_a_clear_error_and_leaves_no_half_run(probe, tmp_path):
    with pytest.raises(TrainingDiverged, match="became nan"):
        genlab.train("probe", "digits", steps=20, out=tmp_path / "n", progress=False, log_every=5,
                     overrides=["nan_at=3"])
    assert not (tmp_path / "n").exists()


def test_nan_after_a_checkpoint_keeps_the_checkpoint(probe, tmp_path):
    with pytest.raises(TrainingDiverged, match="last good checkpoint \\(step 5\\)"):
        genlab.train("probe", "digits", steps=20, out=tmp_path / "k", progress=False, log_every=5,
                     checkpoint_every=5, overrides=["nan_at=7"])
    assert genlab.load(tmp_path / "k").step == 5
