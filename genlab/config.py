"""Typed configs: dataclasses that reject unknown keys, read from YAML and ``key=value`` overrides.

A run's config has four sections, saved as ``config.yaml`` in the run directory::

    model: vae             # registry name
    model_config: {...}    # the model's own dataclass (e.g. VAEConfig)
    data: {...}            # DataConfig
    train: {...}           # TrainConfig

Precedence, lowest first: dataclass defaults, the model's training preset, ``--config FILE``,
command-line flags, ``key=value`` overrides.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from genlab.errors import ConfigError
from genlab.files import atomic_write_text
from genlab.limits import MAX_SEED, MAX_STEPS, real, whole


@dataclass
class TrainConfig:
    """What the trainer owns: the loop, device, seeds, logging, sampling and checkpoints."""

    steps: int | None = None  # model steps (one generator step for a GAN); None: the model's preset
    epochs: float | None = None  # alternative to steps: passes over the training set
    batch_size: int = 128
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "fp32"  # fp32 | bf16 | fp16 | auto (bf16 where the device has it natively)
    memory_format: str = "auto"  # auto (channels_last for convolutions) | channels_last | contiguous
    threads: int | None = None  # torch threads; None: $GENLAB_THREADS, else one per idle core
    log_every: int = 100  # steps between metric lines (one host sync each)
    sample_every: int = 1000  # steps between sample grids; 0 = only at the end
    checkpoint_every: int = 1000  # steps between checkpoints; the last step is always saved
    keep_checkpoints: int = 2
    progress: bool = True  # tqdm progress bar on stderr
    tensorboard: bool = True

    def validate(self) -> None:
        if self.steps is not None:
            whole(self.steps, "steps", 0, MAX_STEPS)
        if self.epochs is not None:
            real(self.epochs, "epochs", above=0, hi=1e6)
        whole(self.seed, "seed", 0, MAX_SEED)
        for name in ("batch_size", "log_every", "keep_checkpoints"):
            whole(getattr(self, name), name, 1, 2**31 - 1)
        for name in ("sample_every", "checkpoint_every"):
            whole(getattr(self, name), name, 0, MAX_STEPS)
        if self.precision not in ("fp32", "bf16", "fp16", "auto"):
            raise ConfigError(f"precision must be fp32, bf16, fp16 or auto, got {self.precision!r}")
        if self.memory_format not in ("auto", "channels_last", "contiguous"):
            raise ConfigError(f"memory_format must be auto, channels_last or contiguous, got {self.memory_format!r}")
        if self.threads is not None:
            whole(self.threads, "threads", 1, 1024)
        check_device(self.device)


DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d{1,4})?")


def check_device(name: str) -> str:
    if not isinstance(name, str) or not DEVICE.fullmatch(name):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return name


@dataclass
class DataConfig:
    """Which data set and how to prepare it (see genlab.data.load_dataset)."""

    name: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    channels: int | None = None
    binarize: bool = False
    labels_from: str | None = None  # folders: an image folder's class is the sub-folder of each image; tags: its tags file
    min_tag_count: int = 10  # a tagged folder: tags on fewer images are dropped (and listed)
    labels: int | None = None  # a label budget: keep the labels of this many training examples, balanced
    labels_seed: int = 0  # which examples keep their labels (a seed of its own)

    def validate(self) -> None:
        if self.labels is not None:
            whole(self.labels, "labels", 1, 2**31 - 1)
        whole(self.labels_seed, "labels_seed", 0, MAX_SEED)
        if self.labels_from not in (None, "folders", "tags"):
            raise ConfigError(f"labels_from must be folders or tags (or none), got {self.labels_from!r}")
        whole(self.min_tag_count, "min_tag_count", 1, 2**31 - 1)
        if self.image_size is not None:
            whole(self.image_size, "image_size", 1, 2**31 - 1)
        if self.channels is not None and self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")


@dataclass
class RunConfig:
    model: str
    model_config: Any  # the model's Config dataclass instance
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_config": to_dict(self.model_config),
            "data": to_dict(self.data),
            "train": to_dict(self.train),
        }


# ---------------------------------------------------------------------------------------------
# dataclass <-> dict


def to_dict(obj: Any) -> dict:
    """A dataclass as a plain dict of YAML-friendly values (tuples become lists)."""
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def from_dict(cls: type, values: dict, *, section: str) -> Any:
    """Build dataclass ``cls`` from ``values``; unknown keys and ill-typed values are errors."""
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{section}' must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown config key {section}.{unknown[0]}; known keys: {', '.join(sorted(known))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: coerce(v, hints[k], f"{section}.{k}") for k, v in values.items()}
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate()
    return obj


def coerce(value: Any, hint: Any, key: str) -> Any:
    """Convert ``value`` (from YAML or a command-line string) to the annotated type ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        inner = args[0] if args else str
        return tuple(coerce(v, inner, key) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if hint is int:
        return whole(value, key)
    if hint is float:
        return real(value, key)
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


# ---------------------------------------------------------------------------------------------
# YAML files and key=value overrides


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def write_yaml(path: Path, data: dict) -> None:
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


SECTIONS = ("model_config", "data", "train")
_SECTION_ALIASES = {"model": "model_config", "model_config": "model_config", "data": "data", "train": "train"}


def apply_overrides(layers: dict[str, dict], overrides: list[str], classes: dict[str, type]) -> None:
    """Apply ``key=value`` strings to the section dicts in ``layers`` (in place).

    ``section.key=value`` names the section (model, data or train); a bare ``key=value`` is
    looked up in the model config, then train, then data, and must name exactly one key.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if "." in key:
            section, name = key.split(".", 1)
            if section not in _SECTION_ALIASES:
                raise ConfigError(f"unknown config section {section!r} in {item!r}; use model., data. or train.")
            section = _SECTION_ALIASES[section]
            if name not in {f.name for f in fields(classes[section])}:
                known = ", ".join(sorted(f.name for f in fields(classes[section])))
                raise ConfigError(f"unknown config key {key}; known keys of {section}: {known}")
        else:
            name = key
            hits = [s for s in SECTIONS if name in {f.name for f in fields(classes[s])}]
            if not hits:
                known = ", ".join(sorted(f.name for f in fields(classes["model_config"])))
                raise ConfigError(f"unknown config key {name!r}; model keys: {known} (or use train.KEY / data.KEY)")
            if len(hits) > 1:
                raise ConfigError(f"config key {name!r} is ambiguous ({', '.join(hits)}); write SECTION.{name}=...")
            section = hits[0]
        try:
            layers[section][name] = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({str(e).splitlines()[0]})") from None
        if isinstance(layers[section][name], (dict,)):
            raise ConfigError(f"override {item!r}: value must be a scalar or a list")


def dataclass_defaults(cls: type) -> dict:
    return to_dict(cls())


def replace(obj: Any, **changes: Any) -> Any:
    return dataclasses.replace(obj, **changes)
