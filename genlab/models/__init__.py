"""Model registry: a new model is one file plus one entry here.

Entries name their class as ``module:Class`` and are imported on first use, so listing the models
(``genlab --help``) does not import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

from genlab.errors import ConfigError


class _Registry(MutableMapping):
    """name -> model class, importing each class's module when it is first looked up."""

    def __init__(self, entries: dict[str, Any]):
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> type:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, cls = entry.split(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), cls)
        return entry

    def __setitem__(self, name: str, cls: type) -> None:
        self._entries[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


MODELS = _Registry({
    "ae": "genlab.models.ae:AE",
    "vae": "genlab.models.vae:VAE",
    "gan": "genlab.models.gan:GAN",
    "dcgan": "genlab.models.gan:DCGAN",
    "lsgan": "genlab.models.gan:LSGAN",
    "wgan": "genlab.models.gan:WGAN",
    "wgan-gp": "genlab.models.gan:WGANGP",
    "cgan": "genlab.models.gan:CGAN",
    "acgan": "genlab.models.acgan:ACGAN",
    "sgan": "genlab.models.sgan:SGAN",
    "infogan": "genlab.models.infogan:InfoGAN",
    "bigan": "genlab.models.bigan:BiGAN",
    "cvae": "genlab.models.vae:CVAE",
})


def get_model_class(name: str) -> type:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


def __getattr__(name: str):  # the base class, without importing torch for the registry alone
    if name in ("GenerativeModel", "StepOutput"):
        from genlab.models import base

        return getattr(base, name)
    raise AttributeError(f"module 'genlab.models' has no attribute {name!r}")


__all__ = ["MODELS", "GenerativeModel", "StepOutput", "get_model_class"]
