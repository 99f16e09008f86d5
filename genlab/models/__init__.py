"""Model registry: a new model is one file plus one entry here."""

from __future__ import annotations

from genlab.errors import ConfigError
from genlab.models.ae import AE
from genlab.models.base import GenerativeModel, StepOutput
from genlab.models.gan import DCGAN, GAN, LSGAN, WGAN, WGANGP
from genlab.models.vae import VAE

MODELS: dict[str, type[GenerativeModel]] = {
    AE.name: AE,
    VAE.name: VAE,
    GAN.name: GAN,
    DCGAN.name: DCGAN,
    LSGAN.name: LSGAN,
    WGAN.name: WGAN,
    WGANGP.name: WGANGP,
}


def get_model_class(name: str) -> type[GenerativeModel]:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


__all__ = ["MODELS", "GenerativeModel", "StepOutput", "get_model_class"]
