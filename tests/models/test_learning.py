"""Seeded tiny runs that show the models learn, not only that they run."""

import time

import pytest
import torch

import genlab
from genlab.api import load_data
from genlab.config import DataConfig


@pytest.mark.timing
def test_vae_test_elbo_on_digits_improves_by_a_margin(tmp_path):
    data = load_data(DataConfig(name="digits"))
    t0 = time.process_time()
    model = genlab.train("vae", "digits", steps=1500, batch_size=64, seed=0, out=tmp_path / "v",
                         progress=False, tensorboard=False, sample_every=0, log_every=500,
                         overrides=["hidden=128", "latent_dim=8", "warmup_steps=300"])
    elapsed = time.process_time() - t0
    trained = model.evaluate(data, k=20)
    fresh = genlab.api.build_model(genlab.load(tmp_path / "v").run_config, data.spec()).evaluate(data, k=20)
    # an untrained decoder is near log(1/2) per pixel: 64 * 0.69 = 44 nats; trained ~ 30 nats
    assert fresh["elbo"] < -40
    assert trained["elbo"] > fresh["elbo"] + 8, (fresh["elbo"], trained["elbo"])
    assert trained["nll"] < -trained["elbo"]  # the IWAE bound is tighter than the ELBO
    assert elapsed < 30


def test_ae_reconstruction_error_falls(tmp_path):
    data = load_data(DataConfig(name="digits"))
    model = genlab.train("ae", "digits", steps=600, batch_size=64, seed=0, out=tmp_path / "a",
                         progress=False, tensorboard=False, sample_every=0, log_every=300,
                         overrides=["hidden=128", "latent_dim=8"])
    torch.manual_seed(0)
    fresh = genlab.api.build_model(genlab.load(tmp_path / "a").run_config, data.spec())
    assert model.evaluate(data)["recon_mse"] < 0.5 * fresh.evaluate(data)["recon_mse"]
