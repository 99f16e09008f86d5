"""Typed configs: defaults, presets, YAML round trip, overrides, and their errors."""

import pytest

from genlab.api import build_config, read_run_config
from genlab.config import TrainConfig, coerce, from_dict, write_yaml
from genlab.errors import ConfigError
from genlab.models.vae import VAEConfig


def test_layers_take_precedence_in_order(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model_config: {latent_dim: 7, beta: 2.0}\ntrain: {batch_size: 17}\n")
    cfg = build_config("vae", config=f, batch_size=33, overrides=["beta=0.5", "train.seed=4"])
    assert cfg.model_config.latent_dim == 7  # file
    assert cfg.model_config.beta == 0.5  # override beats file
    assert cfg.train.batch_size == 33  # flag beats file
    assert cfg.train.seed == 4
    assert cfg.train.steps == 180_000  # the model's preset beats the TrainConfig default


def test_epochs_flag_replaces_the_preset_steps():
    cfg = build_config("vae", epochs=2.0)
    assert cfg.train.steps is None and cfg.train.epochs == 2.0


def test_saved_config_round_trips(tmp_path):
    cfg = build_config("vae", data="digits", overrides=["hidden=64,32", "likelihood=gaussian"])
    run = tmp_path / "run"
    run.mkdir()
    write_yaml(run / "config.yaml", cfg.to_dict())
    again = read_run_config(run)
    assert again.to_dict() == cfg.to_dict()
    assert again.model_config.hidden == (64, 32)


@pytest.mark.parametrize("override,message", [
    ("latentdim=3", "unknown config key 'latentdim'"),
    ("model.nope=3", "unknown config key model.nope"),
    ("foo.bar=1", "unknown config section"),
    ("latent_dim=-2", "latent_dim must be > 0"),
    ("net=resnet", "net must be mlp or conv"),
    ("train.batch_size=0", "batch_size must be > 0"),
    ("train.device=tpu", "unknown device"),
    ("binarize=maybe", "must be true or false"),
    ("beta", "not of the form key=value"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        build_config("vae", overrides=[override])


def test_unknown_keys_in_every_section_are_rejected(tmp_path):
    for text in ("train: {stepz: 3}", "data: {nam: x}", "extra: {}", "model: ae"):
        f = tmp_path / "c.yaml"
        f.write_text(text)
        with pytest.raises(ConfigError):
            build_config("vae", config=f)


def test_coerce_reads_command_line_strings():
    assert coerce("1e-3", float, "lr") == 1e-3
    assert coerce("300,300", tuple[int, ...], "hidden") == (300, 300)
    assert coerce("none", int | None, "steps") is None
    assert coerce("10_000", int, "steps") == 10000
    with pytest.raises(ConfigError):
        coerce("nan", float, "lr")
    with pytest.raises(ConfigError):
        coerce(True, int, "steps")


def test_from_dict_validates():
    assert from_dict(TrainConfig, {"steps": 5}, section="train").steps == 5
    with pytest.raises(ConfigError, match="steps must be >= 0"):
        from_dict(TrainConfig, {"steps": -1}, section="train")
    assert from_dict(VAEConfig, {}, section="model") == VAEConfig()
