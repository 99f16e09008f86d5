"""Generative adversarial networks: one model, any loss on any network, with presets.

The game (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661):
    min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))],
trained with the course's Algorithm 13.1: K discriminator steps, each on a fresh minibatch of M
real examples and M noise vectors, then one generator step. The presets below (gan, dcgan, lsgan,
wgan, wgan-gp) are short subclasses that only change defaults; every setting stays overridable
(``loss=hinge net=dcgan d_steps=2 pack=4 ema=0.999 ...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from genlab.data.dataset import DataSpec, Dataset
from genlab.data.loader import Batch
from genlab.errors import ConfigError, GenlabError
from genlab.models import gan_losses as L
from genlab.models.base import GenerativeModel, StepOutput, fixed_normal
from genlab.models.gan_nets import (DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator,
                                    dcgan_init)


@dataclass
class GANConfig:
    loss: str = "ns"  # ns | minimax | ls | wgan | wgan-gp | hinge
    net: str = "mlp"  # mlp | dcgan
    z_dim: int = 64
    g_hidden: tuple[int, ...] = (256, 256, 256)  # mlp widths
    d_hidden: tuple[int, ...] = (256, 256, 256)
    ngf: int = 64  # dcgan: G channels at the last hidden layer, doubled towards the input
    ndf: int = 64
    norm: str = "auto"  # dcgan: batch | layer | none; auto = batch, layer for wgan-gp
    d_steps: int = 1  # K: discriminator steps per generator step
    optimizer: str = "adam"  # adam | rmsprop
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    clip: float = 0.01  # wgan: critic weights clipped to [-clip, clip]
    gp_lambda: float = 10.0  # wgan-gp
    ls_a: float = 0.0  # lsgan labels: a for fakes, b for reals, c what G wants D to say
    ls_b: float = 1.0
    ls_c: float = 1.0
    pack: int = 1  # PacGAN: D judges `pack` samples jointly (Lin et al. 2018)
    ema: float = 0.0  # decay of an exponential moving average of G (0 = off)

    def validate(self) -> None:
        if self.loss not in L.LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(L.LOSSES)}, got {self.loss!r}")
        if self.net not in ("mlp", "dcgan"):
            raise ConfigError(f"net must be mlp or dcgan, got {self.net!r}")
        if self.norm not in ("auto", "batch", "layer", "none"):
            raise ConfigError(f"norm must be auto, batch, layer or none, got {self.norm!r}")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ConfigError(f"optimizer must be adam or rmsprop, got {self.optimizer!r}")
        if self.z_dim <= 0 or self.d_steps <= 0 or self.pack <= 0 or self.ngf <= 0 or self.ndf <= 0:
            raise ConfigError("z_dim, d_steps, pack, ngf and ndf must be > 0")
        if any(h <= 0 for h in (*self.g_hidden, *self.d_hidden)):
            raise ConfigError("hidden widths must be > 0")
        if not (self.lr_g > 0 and self.lr_d > 0):
            raise ConfigError("lr_g and lr_d must be > 0")
        if not (0 <= self.ema < 1):
            raise ConfigError(f"ema must be in [0, 1), got {self.ema}")
        if not self.clip > 0 or self.gp_lambda < 0:
            raise ConfigError("clip must be > 0 and gp_lambda >= 0")


class GAN(GenerativeModel):
    name = "gan"
    Config = GANConfig
    train_defaults = {"batch_size": 64, "steps": 10_000, "log_every": 200, "sample_every": 1000,
                      "checkpoint_every": 2000}

    def __init__(self, config: GANConfig, spec: DataSpec):
        super().__init__(config, spec)
        c = config
        self.batches_per_step = c.d_steps
        image = spec.kind == "image"
        if c.net == "dcgan":
            if not image or len(spec.shape) != 3:
                raise ConfigError("net=dcgan needs image data; use net=mlp for points")
            norm = c.norm if c.norm != "auto" else ("layer" if c.loss == "wgan-gp" else "batch")
            ch, s, _ = spec.shape
            self.generator = DCGANGenerator(c.z_dim, spec.shape, c.ngf, "none" if norm == "layer" else norm)
            self.discriminator = DCGANDiscriminator((ch * c.pack, s, s), c.ndf, norm)
            self.apply(dcgan_init)
        else:
            self.generator = MLPGenerator(c.z_dim, spec.shape, c.g_hidden, tanh=image)
            self.discriminator = MLPDiscriminator(spec.dim * c.pack, c.d_hidden)
        self.ema_generator = (AveragedModel(self.generator, multi_avg_fn=get_ema_multi_avg_fn(c.ema),
                                            use_buffers=True) if c.ema > 0 else None)
        # model space: images in [-1, 1]; points standardised by the training mean and RMS radius
        center = torch.tensor(spec.center) if spec.center is not None else torch.zeros(1)
        self.register_buffer("center", center, persistent=False)
        self.point_scale = spec.scale or 1.0

    # -- data space <-> model space ------------------------------------------------------------
    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1 if self.spec.kind == "image" else (x - self.center) / self.point_scale

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2 if self.spec.kind == "image" else x * self.point_scale + self.center

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *shape) -> (B / pack, pack * C, ...) for D: PacGAN's joint judgement."""
        p = self.config.pack
        if p == 1:
            return x
        b = x.shape[0] - x.shape[0] % p
        return x[:b].reshape(b // p, p * x.shape[1], *x.shape[2:])

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """D's raw score of model-space samples: (B, *shape) -> (B / pack,)."""
        return self.discriminator(self.packed(x))

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, device=self.device)

    # -- training: Algorithm 13.1 --------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        if c.optimizer == "rmsprop":
            return {"d": torch.optim.RMSprop(self.discriminator.parameters(), lr=c.lr_d),
                    "g": torch.optim.RMSprop(self.generator.parameters(), lr=c.lr_g)}
        betas = (c.beta1, c.beta2)
        return {"d": torch.optim.Adam(self.discriminator.parameters(), lr=c.lr_d, betas=betas),
                "g": torch.optim.Adam(self.generator.parameters(), lr=c.lr_g, betas=betas)}

    def discriminator_step(self, x: torch.Tensor, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
        c = self.config
        with torch.no_grad():
            fake = self.generator(self.noise(x.shape[0]))
        r, f = self.critic(x), self.critic(fake)
        loss = L.discriminator_loss(c.loss, r, f, (c.ls_a, c.ls_b, c.ls_c))
        out = {"loss_d": loss.detach(), "d_real": r.detach().mean(), "d_fake": f.detach().mean()}
        if c.loss == "wgan-gp":
            gp = L.gradient_penalty(self.discriminator, self.packed(x), self.packed(fake))
            loss = loss + c.gp_lambda * gp
            out["gp"] = gp.detach()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if c.loss == "wgan":
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-c.clip, c.clip)
        return out

    def generator_step(self, n: int, opt: torch.optim.Optimizer) -> torch.Tensor:
        c = self.config
        self.discriminator.requires_grad_(False)  # no wasted gradients for D
        try:
            f = self.critic(self.generator(self.noise(n)))
            loss = L.generator_loss(c.loss, f, (c.ls_a, c.ls_b, c.ls_c))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        finally:
            self.discriminator.requires_grad_(True)
        if self.ema_generator is not None:
            self.ema_generator.update_parameters(self.generator)
        return loss.detach()

    def train_step(self, batches: Iterator[Batch], optimizers: dict[str, torch.optim.Optimizer],
                   step: int) -> StepOutput:
        for _ in range(self.config.d_steps):
            x = self.to_model(next(batches).x)
            out = self.discriminator_step(x, optimizers["d"])
        out["loss_g"] = self.generator_step(x.shape[0], optimizers["g"])
        return out

    # -- using the model -----------------------------------------------------------------------
    @property
    def sampler(self) -> nn.Module:
        """G's moving average when on (used for sampling and evaluation), else G."""
        return self.ema_generator.module if self.ema_generator is not None else self.generator

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples in data space: images in [0, 1] or points in the data's coordinates."""
        z = torch.randn(n, self.config.z_dim, generator=generator).to(self.device)
        return self.to_data(self.sampler(z)).clamp(0, 1) if self.spec.kind == "image" else \
            self.to_data(self.sampler(z))

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """G (or its average) on latent codes: (..., Z) -> (..., *shape) in data space."""
        lead = z.shape[:-1]
        x = self.to_data(self.sampler(z.reshape(-1, z.shape[-1])))
        return x.view(*lead, *self.spec.shape)

    @torch.no_grad()
    def field(self, x: torch.Tensor) -> torch.Tensor:
        """D's raw score at data-space points (B, *shape) -> (B,); each point packed with copies
        of itself, so a packed D can be drawn as a field over data space."""
        xm = self.to_model(x)
        p = self.config.pack
        if p > 1:
            xm = xm.repeat_interleave(p, dim=0)
        return self.critic(xm)

    @torch.no_grad()
    def preview(self, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
        n = 64 if self.spec.kind == "image" else 2000
        z = fixed_normal((n, self.config.z_dim), seed, self.device)
        return {"samples": self.decode(z)}

    def evaluate(self, data: Dataset, *, n_samples: int | None = None, seed: int = 0, modes: int | None = None,
                 features: str = "genlab", **_: Any) -> dict[str, Any]:
        g = torch.Generator().manual_seed(seed)
        if self.spec.kind == "points":
            from genlab.metrics.modes import evaluate_points

            samples = self.sample(n_samples or 2500, generator=g)
            return evaluate_points(samples.cpu(), data, n_modes=modes)
        from genlab.metrics.images import score_images

        n = n_samples or min(10_000, data.test.shape[0])
        samples = torch.cat([self.sample(min(500, n - i), generator=g).cpu() for i in range(0, n, 500)])
        return score_images(samples, data, features=features)


# -- presets: short subclasses that only change defaults -------------------------------------------


@dataclass
class DCGANConfig(GANConfig):
    net: str = "dcgan"
    z_dim: int = 100


class DCGAN(GAN):
    """DCGAN (Radford et al. 2015, https://arxiv.org/abs/1511.06434): Adam(2e-4, 0.5), batch 128."""

    name = "dcgan"
    Config = DCGANConfig
    train_defaults = {**GAN.train_defaults, "batch_size": 128, "steps": 20_000}


@dataclass
class LSGANConfig(DCGANConfig):
    loss: str = "ls"  # a = 0, b = c = 1 (Mao et al. 2016, eq. 9)


class LSGAN(GAN):
    """Least-squares GAN (Mao et al. 2016, https://arxiv.org/abs/1611.04076), linear D output."""

    name = "lsgan"
    Config = LSGANConfig
    train_defaults = DCGAN.train_defaults


@dataclass
class WGANConfig(DCGANConfig):
    loss: str = "wgan"
    optimizer: str = "rmsprop"  # Arjovsky et al. 2017, Algorithm 1: RMSProp, lr 5e-5, c = 0.01, n_critic = 5
    lr_g: float = 5e-5
    lr_d: float = 5e-5
    d_steps: int = 5


class WGAN(GAN):
    """WGAN (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875): weight clipping."""

    name = "wgan"
    Config = WGANConfig
    train_defaults = {**GAN.train_defaults, "batch_size": 64, "steps": 20_000}


@dataclass
class WGANGPConfig(DCGANConfig):
    loss: str = "wgan-gp"  # Gulrajani et al. 2017, Algorithm 1: lambda 10, Adam(1e-4, 0, 0.9), n_critic 5
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9
    d_steps: int = 5


class WGANGP(GAN):
    """WGAN-GP (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028): gradient penalty,
    no batch norm in the critic (layer norm instead)."""

    name = "wgan-gp"
    Config = WGANGPConfig
    train_defaults = WGAN.train_defaults
