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
    ("train.batch_size=0", "batch_size must be a whole number from 1 to"),
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
    with pytest.raises(ConfigError, match="steps must be a whole number from 0 to"):
        from_dict(TrainConfig, {"steps": -1}, section="train")


@pytest.mark.parametrize("override,message", [
    ("latent_dim=99999999999999999999", "latent_dim must be a whole number that fits in 64 bits"),
    ("train.batch_size=1e30", "batch_size must be a whole number that fits in 64 bits, got .1e30."),
    ("train.batch_size=1e12", "batch_size must be a whole number from 1 to 2_147_483_647"),
    ("train.batch_size=2.5", "batch_size must be a whole number"),
    ("train.seed=18446744073709551616", "seed must be a whole number that fits in 64 bits"),
    ("train.seed=-1", "seed must be a whole number from 0 to 4_294_967_295"),
    ("train.epochs=inf", "epochs must be a finite number"),
    ("train.epochs=1e308", "epochs must be a finite number > 0 and <= 1_000_000, got 1e"),
    ("lr=.nan", "lr must be a finite number"),
    ("lr=[1", "not valid YAML"),
    ("lr=*x", "not valid YAML"),
    ("train.device=cuda:abc", "unknown device 'cuda:abc'"),
])
def test_numbers_past_their_type_and_bad_yaml_are_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        build_config("vae", overrides=[override])


def test_the_checked_number_parser():
    from genlab.limits import real, whole

    assert whole("1_000", "n") == 1000 and whole("1e3", "n") == 1000 and whole(7.0, "n") == 7
    assert whole(str(2**63 - 1), "n") == 2**63 - 1
    for bad in ("1e999", "nan", "inf", "0x10", "1.5", True, 2**63, "9" * 41, None, [1]):
        with pytest.raises(ConfigError):
            whole(bad, "n")
    assert real("1e-3", "x") == 1e-3 and real(2, "x", lo=2) == 2.0
    for bad in ("1e999", "nan", "-inf", "abc", False):
        with pytest.raises(ConfigError):
            real(bad, "x")
    with pytest.raises(ConfigError, match="> 0"):
        real(0, "x", above=0)
    assert from_dict(VAEConfig, {}, section="model") == VAEConfig()
