"""Deterministic auto-encoder: encoder f: R^D -> R^M, decoder g: R^M -> R^D, trained to
reconstruct x from g(f(x)) (mission section 1). No prior over the code, so no sampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from genlab.data.dataset import DataSpec, Dataset
from genlab.data.loader import Batch
from genlab.errors import ConfigError
from genlab.models.base import GenerativeModel, StepOutput
from genlab.models.nets import ConvDecoder, ConvEncoder, mlp
from genlab.training.precision import backward_step
from genlab.models.vae import interleave


@dataclass
class AEConfig:
    net: str = "mlp"  # mlp | conv
    hidden: tuple[int, ...] = (512, 256)
    width: int = 32
    latent_dim: int = 32
    loss: str = "mse"  # mse | bce (bce needs data in [0, 1])
    lr: float = 1e-3

    def validate(self) -> None:
        if self.net not in ("mlp", "conv"):
            raise ConfigError(f"net must be mlp or conv, got {self.net!r}")
        if self.loss not in ("mse", "bce"):
            raise ConfigError(f"loss must be mse or bce, got {self.loss!r}")
        if self.latent_dim <= 0 or self.width <= 0 or any(h <= 0 for h in self.hidden):
            raise ConfigError("latent_dim, width and hidden widths must be > 0")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


class AE(GenerativeModel):
    name = "ae"
    Config = AEConfig
    eval_options = {"max_examples"}  # the options of evaluate() (genlab eval's flags)
    train_defaults = {"batch_size": 128, "steps": 20_000, "log_every": 200, "sample_every": 2000,
                      "checkpoint_every": 5000}

    def __init__(self, config: AEConfig, spec: DataSpec):
        super().__init__(config, spec)
        if config.net == "conv" and spec.kind != "image":
            raise ConfigError("net=conv needs image data; use net=mlp for points")
        if config.loss == "bce" and spec.kind != "image":
            raise ConfigError("loss=bce needs image data in [0, 1]; use loss=mse")
        m = config.latent_dim
        if config.net == "mlp":
            self.encoder = mlp(spec.dim, config.hidden, m)
            self.decoder = mlp(m, tuple(reversed(config.hidden)), spec.dim)
        else:
            self.encoder = ConvEncoder(spec.shape, m, config.width)
            self.decoder = ConvDecoder(m, spec.shape, config.width)
        # images live in [0, 1]: squash the decoder output; points are unbounded
        self.squash = spec.kind == "image"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *shape) -> (B, M)"""
        return self.encoder(x.flatten(1) if self.config.net == "mlp" else x).float()  # fp32 under autocast

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        """(..., M) -> (..., *shape) before the output squashing (logits for images)."""
        lead = z.shape[:-1]
        return self.decoder(z.reshape(-1, z.shape[-1])).float().view(*lead, *self.spec.shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder_output(z)
        return torch.sigmoid(out) if self.squash else out

    def reconstruction_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Per-example loss summed over the example's values: (B, *shape) -> (B,)."""
        out = self.decoder_output(self.encode(x))
        if self.config.loss == "bce":
            per = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        else:
            per = ((torch.sigmoid(out) if self.squash else out) - x).pow(2)
        return per.flatten(1).sum(1)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"ae": torch.optim.Adam(self.parameters(), lr=self.config.lr)}

    def train_step(self, batches: Iterator[Batch], optimizers: dict[str, torch.optim.Optimizer],
                   step: int) -> StepOutput:
        x = next(batches).x
        loss = self.reconstruction_loss(x).mean()
        opt = optimizers["ae"]
        backward_step(loss, opt)
        return {"loss": loss.detach()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def preview(self, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
        return {"reconstructions": interleave(x, self.reconstruct(x))}

    @torch.no_grad()
    def evaluate(self, data: Dataset, *, batch_size: int = 500, max_examples: int | None = None,
                 **_: Any) -> dict[str, Any]:
        x_all = data.test if max_examples is None else data.test[:max_examples]
        se = sum(float((self.reconstruct(x.to(self.device)) - x.to(self.device)).pow(2).sum())
                 for x in x_all.split(batch_size))
        n = x_all.shape[0]
        results = {"recon_mse": se / (n * self.spec.dim), "n_test": n}
        if self.spec.kind == "image" and data.train_labels is not None and data.test_labels is not None:
            from genlab.metrics.probe import encoder_scores  # the encoders' common probe

            results.update(encoder_scores(lambda x: self.encode(x.to(self.device)), data,
                                          max_examples=max_examples))
        return results
