"""The Python API: ``genlab.train(...)`` and ``genlab.load(DIR)``; the CLI is a thin layer on it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from genlab import __version__
from genlab.config import (DataConfig, RunConfig, TrainConfig, apply_overrides, dataclass_defaults,
                           from_dict, read_yaml, write_yaml)
from genlab.data import load_dataset
from genlab.data.labels import keep_labels
from genlab.data.dataset import DataSpec, Dataset
from genlab.errors import CheckpointError, ConfigError, GenlabError
from genlab.files import LOCK_FILE, RunLock
from genlab.limits import ensure_fits
from genlab.models import GenerativeModel, get_model_class
from genlab.training import checkpoint as ckpt
from genlab.training import distributed
from genlab.training.device import is_main_process, resolve_device, seed_everything, set_threads
from genlab.training.trainer import Trainer, load_state_dict_strict, steps_for_epochs

CONFIG_FILE = "config.yaml"


def build_config(model: str | None, *, config: str | Path | None = None, overrides: Sequence[str] = (),
                 **flags: Any) -> RunConfig:
    """Layer defaults, the model's preset, a YAML file, flags and ``key=value`` overrides. ``model``
    None: the one the file names.

    ``flags`` are TrainConfig or DataConfig fields (``steps=``, ``batch_size=``, ``data=`` for the
    data set name, ...); None means "not given".
    """
    file = read_yaml(config) if config else {}
    unknown = sorted(set(file) - {"model", "model_config", "data", "train", "genlab_version"})
    if unknown:
        raise ConfigError(f"unknown config section {unknown[0]!r} in {config}; "
                          "known: model, model_config, data, train")
    if model is None:
        if not isinstance(file.get("model"), str):
            raise ConfigError(f"name a model to train ({config or 'no config file'} names none)")
        model = file["model"]
    if file.get("model") not in (None, model):
        raise ConfigError(f"config file {config} is for model {file['model']!r}, not {model!r}")
    cls = get_model_class(model)
    data_name = flags.get("data") or _section(file, "data", config).get("name") or DataConfig.name
    recipe = cls.data_recipes.get(str(data_name).strip().lower(), {})  # the model's recipe for this data set
    layers = {
        "model_config": {**dataclass_defaults(cls.Config), **recipe.get("model_config", {}),
                         **_section(file, "model_config", config)},
        "data": {**dataclass_defaults(DataConfig), **_section(file, "data", config)},
        "train": {**dataclass_defaults(TrainConfig), **cls.train_defaults, **recipe.get("train", {}),
                  **_section(file, "train", config)},
    }
    data_keys = {"data": "name", "data_dir": "data_dir", "image_size": "image_size",
                 "channels": "channels", "binarize": "binarize", "labels_from": "labels_from", "labels": "labels",
                 "labels_seed": "labels_seed", "min_tag_count": "min_tag_count"}
    for key, value in flags.items():
        if value is None:
            continue
        if key in data_keys:
            layers["data"][data_keys[key]] = value
        elif key in layers["train"]:
            layers["train"][key] = value
        else:
            raise ConfigError(f"unknown option {key!r}")
    if flags.get("epochs") is not None and flags.get("steps") is None:
        layers["train"]["steps"] = None  # --epochs replaces the preset's step count
    classes = {"model_config": cls.Config, "data": DataConfig, "train": TrainConfig}
    apply_overrides(layers, list(overrides), classes)
    return RunConfig(
        model=model,
        model_config=from_dict(cls.Config, layers["model_config"], section="model"),
        data=from_dict(DataConfig, layers["data"], section="data"),
        train=from_dict(TrainConfig, layers["train"], section="train"),
    )


def _section(file: dict, name: str, path: Any) -> dict:
    value = file.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"section {name!r} of {path} must be a mapping")
    return value


def read_run_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a genlab run directory (no {CONFIG_FILE})")
    try:
        raw = read_yaml(path)
        if not isinstance(raw.get("model"), str):
            raise ConfigError(f"it names no model (model: {raw.get('model')!r})")
        cls = get_model_class(raw["model"])
        return RunConfig(
            model=raw["model"],
            model_config=from_dict(cls.Config, raw.get("model_config") or {}, section="model"),
            data=from_dict(DataConfig, raw.get("data") or {}, section="data"),
            train=from_dict(TrainConfig, raw.get("train") or {}, section="train"),
        )
    except ConfigError as e:
        raise CheckpointError(str(e) if str(path) in str(e) else f"{path} is damaged: {e}") from None


def load_data(cfg: DataConfig) -> Dataset:
    data = load_dataset(cfg.name, data_dir=cfg.data_dir, image_size=cfg.image_size,
                        channels=cfg.channels, binarize=cfg.binarize, labels_from=cfg.labels_from,
                        min_tag_count=cfg.min_tag_count)
    return keep_labels(data, cfg.labels, cfg.labels_seed) if cfg.labels is not None else data


def train(model: str | None = None, data: str | None = None, *, steps: int | None = None,
          epochs: float | None = None, batch_size: int | None = None, seed: int | None = None,
          device: str | None = None, out: str | Path | None = None, config: str | Path | None = None,
          resume: str | Path | None = None, data_dir: str | None = None, image_size: int | None = None,
          channels: int | None = None, binarize: bool | None = None, labels_from: str | None = None,
          labels: int | None = None, labels_seed: int | None = None, progress: bool | None = None,
          threads: int | None = None, overrides: Sequence[str] = (), **more: Any) -> GenerativeModel:
    """Train ``model`` on ``data`` (or continue the run ``resume`` to ``steps``) and return it.

    ``labels`` keeps the labels of that many training examples (a label budget, balanced over the
    classes, chosen by ``labels_seed``). Keyword arguments beyond the named ones are TrainConfig fields (``log_every=...``,
    ``precision="bf16"``) or ``key=value`` strings in ``overrides``. ``threads`` sets torch's
    threads for the run (default: $GENLAB_THREADS, else one per idle core) and is put back after.
    The returned model is the one ``genlab.load(run_dir)`` gives (eval mode, on the training
    device), with ``run_dir``, ``run_config`` and ``step``.
    """
    previous_threads = torch.get_num_threads()
    try:
        if resume is not None:
            net = _resume(Path(resume), model, steps, epochs, device, progress, threads)
        else:
            if model is None and config is None:
                raise ConfigError("name a model to train")
            cfg = build_config(model, config=config, overrides=overrides, data=data, steps=steps, epochs=epochs,
                               batch_size=batch_size, seed=seed, device=device, data_dir=data_dir,
                               image_size=image_size, channels=channels, binarize=binarize,
                               labels_from=labels_from, labels=labels, labels_seed=labels_seed, progress=progress,
                               threads=threads, **more)
            net = _train_new(cfg, out)
        if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 writes; the others may not see it yet
            return net.eval()
        # what genlab.load gives (eval mode, the saved weights): sampling it matches a loaded run
        return load(net.run_dir, device=str(net.device))
    finally:
        torch.set_num_threads(previous_threads)


def _train_new(cfg: RunConfig, out: str | Path | None) -> GenerativeModel:
    _, threads_reason = set_threads(cfg.train.threads)
    device_name, created = distributed.setup(cfg.train.device)  # under torchrun: join the group
    try:
        dev = resolve_device(device_name)
        dataset = load_data(cfg.data)
        net = build_model(cfg, dataset.spec())
        net.prepare(dataset)
        target = _target_steps(cfg, dataset, net)
        with _new_run_dir_on_rank0(out, cfg) as run_dir:
            if is_main_process():
                write_yaml(run_dir / CONFIG_FILE, {"genlab_version": __version__, **cfg.to_dict()})
            trainer = Trainer(net, dataset, cfg.train, run_dir, dev, run_meta(cfg, dataset.spec(), threads_reason))
            trainer.fit(target)
        distributed.finish(created)
    finally:
        distributed.teardown(created)
    net.run_dir = run_dir
    return net


def _resume(run_dir: Path, model: str | None, steps: int | None, epochs: float | None,
            device: str | None, progress: bool | None, threads: int | None) -> GenerativeModel:
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    # before torchrun's group is joined: rank 0 (or a single process) writes, so it holds the lock
    lock = RunLock(run_dir).acquire() if os.environ.get("RANK", "0") == "0" else None
    try:
        return _resume_locked(run_dir, model, steps, epochs, device, progress, threads)
    finally:
        if lock is not None:
            lock.release()


def _resume_locked(run_dir: Path, model: str | None, steps: int | None, epochs: float | None,
                   device: str | None, progress: bool | None, threads: int | None) -> GenerativeModel:
    cfg = read_run_config(run_dir)
    if model is not None and model != cfg.model:
        raise CheckpointError(f"{run_dir} is a run of model {cfg.model!r}, not {model!r}")
    checkpoint = ckpt.find_checkpoint(run_dir) if ckpt.has_checkpoint(run_dir) else None
    if checkpoint is not None and checkpoint.meta.get("model") != cfg.model:
        raise CheckpointError(f"checkpoint in {run_dir} is of model {checkpoint.meta.get('model')!r}, "
                              f"but its config says {cfg.model!r}")
    if checkpoint is None and is_main_process():
        print(f"genlab: {run_dir} was stopped before its first checkpoint; training it from step 0 "
              "with its saved config", file=sys.stderr)
    if steps is not None and steps < 0:
        raise ConfigError(f"steps must be >= 0, got {steps}")
    if device is not None:
        cfg.train.device = device
    if progress is not None:
        cfg.train.progress = progress
    cfg.train.threads = threads  # this machine's load now, not the saved run's: None is the default policy
    cfg.train.validate()
    _, threads_reason = set_threads(cfg.train.threads)
    device_name, created = distributed.setup(cfg.train.device)
    try:
        dev = resolve_device(device_name)
        dataset = load_data(cfg.data)
        net = build_model(cfg, dataset.spec())
        if checkpoint is None:
            net.prepare(dataset)
        if epochs is not None:
            cfg.train.steps, cfg.train.epochs = None, epochs
        elif steps is not None:
            cfg.train.steps = steps
        target = _target_steps(cfg, dataset, net)
        trainer = Trainer(net, dataset, cfg.train, run_dir, dev, run_meta(cfg, dataset.spec(), threads_reason))
        if checkpoint is not None:
            if checkpoint.meta.get("precision", "fp32") != trainer.precision.name:
                print(f"genlab: note: this run was trained in {checkpoint.meta.get('precision', 'fp32')} and "
                      f"continues in {trainer.precision.name}; the resumed steps will not match an "
                      "uninterrupted run bit for bit", file=sys.stderr)
            trainer.restore(checkpoint)
            if target < checkpoint.step:
                raise ConfigError(f"the run is already at step {checkpoint.step}; ask for more steps than that")
        if is_main_process():
            write_yaml(run_dir / CONFIG_FILE, {"genlab_version": __version__, **cfg.to_dict()})
        trainer.fit(target)
        distributed.finish(created)
    finally:
        distributed.teardown(created)
    net.run_dir = run_dir
    return net


def build_model(cfg: RunConfig, spec: DataSpec, training: bool = True) -> GenerativeModel:
    cls = get_model_class(cfg.model)
    _check_size(cls, cfg, spec, training)
    if training:
        seed_everything(cfg.train.seed)  # the same initial weights for the same seed
    try:
        return cls(cfg.model_config, spec)
    except (MemoryError, RuntimeError) as e:
        if isinstance(e, RuntimeError) and "allocate" not in str(e):
            raise
        raise ConfigError(f"model {cfg.model} with these settings does not fit in memory") from None


def _check_size(cls: type, cfg: RunConfig, spec: DataSpec, training: bool) -> None:
    """Counted on the meta device (nothing allocated) before the model is built for real."""
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            net = cls(cfg.model_config, spec)
    except GenlabError:
        raise
    except Exception:  # a model that cannot be built on meta: the real build reports its own problems
        return
    n = sum(t.numel() for t in [*net.parameters(), *net.buffers()])
    copies = 4 if training else 1  # weights, gradients and Adam's two moments
    ensure_fits(n * 4 * copies, f"model {cfg.model} ({n:,} parameters{' with gradients and Adam state' if training else ''})",
                hint="choose smaller layer sizes")


def _target_steps(cfg: RunConfig, data: Dataset, net: GenerativeModel) -> int:
    t = cfg.train
    if t.steps is not None:
        return t.steps
    if t.epochs is not None:
        return steps_for_epochs(t.epochs, data, t.batch_size, net.batches_per_step)
    raise ConfigError("give --steps or --epochs")


def run_meta(cfg: RunConfig, spec: DataSpec, threads_reason: str) -> dict:
    return {"model": cfg.model, "genlab_version": __version__, "data_spec": spec.to_dict(),
            "data": cfg.data.name, "threads_reason": threads_reason}


@contextlib.contextmanager
def _new_run_dir_on_rank0(out: str | Path | None, cfg: RunConfig) -> Iterator[Path]:
    """The new run directory, created and locked by rank 0 (the only rank that writes) and shared
    with the others; an error there is raised on every rank. If the run fails before its first
    checkpoint, what it wrote is removed (the directory too, unless the user made it)."""
    path = error = made = lock = None
    if is_main_process():
        try:
            path, made, lock = _new_run_dir(out, cfg)
        except GenlabError as e:
            error = e
    if distributed.active():
        shared_path, message = distributed.broadcast_object((path, str(error) if error else None))
        if message and error is None:
            raise ConfigError(message)
        path = shared_path
    if error is not None:
        raise error
    try:
        yield path
    except BaseException:
        if lock is not None and not ckpt.has_checkpoint(path):  # nothing worth keeping: leave no half-run
            for p in ([path] if made else sorted(path.iterdir())):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        raise
    finally:
        if lock is not None:
            lock.release()


def _new_run_dir(out: str | Path | None, cfg: RunConfig) -> tuple[Path, bool, RunLock]:
    """(path, whether genlab made it, its lock): an empty or new directory, locked."""
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is a file; choose a directory")
    else:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(cfg.data.name).name or "data")
        base = Path("runs") / f"{cfg.model}-{stem}"
        path, i = base, 1
        while path.exists():
            i += 1
            path = base.with_name(f"{base.name}-{i}")
    made = not path.exists()
    if not made:
        _check_empty(path)  # before the lock file is made: a directory that cannot be used stays as it was
    path.mkdir(parents=True, exist_ok=True)
    lock = RunLock(path).acquire()
    try:
        _check_empty(path)
    except BaseException:
        lock.release()
        raise
    return path, made, lock


def _check_empty(path: Path) -> None:
    """A new run needs an empty directory: a stranded one (stopped before its first checkpoint)
    or a finished run get an error that says what to do instead."""
    entries = [p for p in path.iterdir() if p.name != LOCK_FILE]
    if not entries:
        return
    if (path / CONFIG_FILE).is_file() and not ckpt.has_checkpoint(path):
        raise ConfigError(f"{path} holds a run stopped before its first checkpoint; train it from step 0 "
                          f"with --resume {path}, or remove the directory")
    raise ConfigError(f"output directory {path} already exists and is not empty; "
                      f"continue it with --resume {path} or choose another --out")


def load(run_dir: str | Path, device: str = "cpu") -> GenerativeModel:
    """The trained model of a run directory (newest checkpoint), in eval mode on ``device``.

    Its ``state_dict()`` holds every network's weights; ``model.run_config`` is the run's config.
    """
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    for attempt in range(ckpt.READS):  # a run in training may prune the checkpoint being read: take the next
        checkpoint = ckpt.find_checkpoint(run_dir)
        try:
            weights = ckpt.load_weights(checkpoint)
            break
        except CheckpointError:
            if checkpoint.path.exists() or attempt == ckpt.READS - 1:
                raise
    if checkpoint.meta.get("model") != cfg.model:
        raise CheckpointError(f"checkpoint in {run_dir} is of model {checkpoint.meta.get('model')!r}, "
                              f"but its config says {cfg.model!r}")
    spec = DataSpec.from_dict(checkpoint.meta["data_spec"], where=checkpoint.path / "meta.json")
    net = build_model(cfg, spec, training=False)
    load_state_dict_strict(net, weights, checkpoint.path)
    net.to(resolve_device(device)).eval()
    net.run_dir = run_dir
    net.run_config = cfg
    net.step = checkpoint.step
    return net
