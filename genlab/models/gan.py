"""Generative adversarial networks: one model, any loss on any network, with presets.

The game (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661):
    min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))],
trained with the course's Algorithm 13.1: K discriminator steps, each on a fresh minibatch of M
real examples and M noise vectors, then one generator step. The presets below (gan, dcgan, lsgan,
wgan, wgan-gp) are short subclasses that only change defaults; every setting stays overridable
(``loss=hinge net=dcgan d_steps=2 pack=4 ema=0.999 ...``).

The `gan` preset is a recipe against mode collapse on 2-D mixtures (benchmarks/toy2d has the
numbers and an ablation): on points, G and D conditioned on clusters fitted to the training points
(``clusters``, below); PacGAN packing (pack 4) with a per-example D head added to the packed D;
Adam at 1e-3 decayed linearly to 1 % over the last 80 % of 12,000 steps, batch 128 and an EMA of G
for sampling. The course's plain GAN is ``--config configs/gan-plain.yaml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from genlab.data.dataset import DataSpec, Dataset
from genlab.data.loader import Batch
from genlab.errors import ConfigError
from genlab.models import gan_losses as L
from genlab.models.base import GenerativeModel, StepOutput
from genlab.models.conditions import KINDS, Classes, Clusters, Tags, beside, make_condition
from genlab.models.ema import EMA
from genlab.training.precision import backward_step, full_precision
from genlab.models.gan_nets import (DCGANDiscriminator, DCGANGenerator, MappedGenerator, MLPDiscriminator,
                                    MLPGenerator, dcgan_init, spectral_normalize)


@dataclass
class GANConfig:
    """Every GAN's settings, at the papers' values (DCGAN's optimiser, no recipe); the presets below
    (the 2-D recipe of `gan`, dcgan, lsgan, wgan, wgan-gp, cgan, acgan) change a few each."""

    loss: str = "ns"  # ns | minimax | ls | wgan | wgan-gp | hinge
    net: str = "mlp"  # mlp | dcgan
    z_dim: int = 100
    g_hidden: tuple[int, ...] = (128, 128, 128)  # mlp widths of G
    d_hidden: tuple[int, ...] = (128, 128)  # mlp widths of D (on the pack)
    ngf: int = 64  # dcgan: G channels at the last hidden layer, doubled towards the input
    ndf: int = 64
    norm: str = "auto"  # dcgan: batch | layer | none; auto = batch, layer for wgan-gp
    d_steps: int = 1  # K: discriminator steps per generator step (the course's Algorithm 13.1)
    optimizer: str = "adam"  # adam | rmsprop
    lr_g: float = 2e-4  # Adam(2e-4, beta1 0.5) (https://arxiv.org/abs/1511.06434)
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    clip: float = 0.01  # wgan: critic weights clipped to [-clip, clip]
    gp_lambda: float = 10.0  # wgan-gp
    ls_a: float = 0.0  # lsgan labels: a for fakes, b for reals, c what G wants D to say
    ls_b: float = 1.0
    ls_c: float = 1.0
    pack: int = 1  # PacGAN: D judges pack samples jointly (https://arxiv.org/abs/1712.04086)
    # mlp D with pack > 1: a per-example head added to the packed score (genlab's; benchmarks/toy2d)
    d_single: tuple[int, ...] = (128, 128)
    # mlp D: std of Gaussian noise on its input, then on each hidden layer, while training (https://arxiv.org/abs/1606.03498)
    d_noise: tuple[float, float] = (0.0, 0.0)
    ema: float = 0.0  # EMA of G for sampling, 0 = off (https://arxiv.org/abs/1806.04498)
    # lr x factor going linearly from 1 at lr_decay_start to lr_decay_to at lr_decay_end (a function of the step)
    lr_decay_start: int = 0
    lr_decay_end: int = 0
    lr_decay_to: float = 1.0
    spectral_norm: bool = False  # SN on every D layer (https://arxiv.org/abs/1802.05957)
    r1_gamma: float = 0.0  # R1 penalty gamma/2 E||grad_x D(x)||^2 on reals (https://arxiv.org/abs/1801.04406)
    r1_every: int = 1  # lazy: on the D steps of every r1_every-th step, weighted by r1_every (StyleGAN2, section 3.1)
    # path length regularization of G, weight; 0 = off (StyleGAN2, https://arxiv.org/abs/1912.04958, section 3.2)
    pl_weight: float = 0.0
    pl_every: int = 4  # lazy: on every pl_every-th G step, weighted by pl_every (StyleGAN2, section 3.1)
    # sampling: drop this fraction of draws where ||dG/dz|| is largest, points only (https://arxiv.org/abs/2006.00161)
    jacobian_reject: float = 0.0
    # condition=clusters: up to this many clusters fitted to the points, number by BIC
    # (in the spirit of https://arxiv.org/abs/2006.10728); 0 = none
    clusters: int = 0
    # none | class | clusters | auto (clusters on points when clusters > 0, else none)
    condition: str = "auto"
    # how D sees c: projection (https://arxiv.org/abs/1802.05637) | concat (onto the input) | tile (onto
    # a feature map of D, tile_at; dcgan) | none (AC-GAN) | auto (projection; concat for clusters)
    d_condition: str = "auto"
    # d_condition=tile: the side of D's feature map the condition is tiled onto; 0 = the last (Reed et al.'s 4)
    tile_at: int = 0
    # how G sees c: input (beside z) | batchnorm (also every batch norm's scale and shift, dcgan; https://arxiv.org/abs/1707.00683)
    g_condition: str = "input"
    # matching-aware D: real images with wrong conditions are fakes too (GAN-CLS, https://arxiv.org/abs/1605.05396)
    mismatch: bool = False
    # layers of a mapping MLP from z to w in front of G, 0 = none (StyleGAN, https://arxiv.org/abs/1812.04948)
    mapping: int = 0
    mapping_width: int = 256  # its hidden layers' width

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
        if self.lr_decay_start < 0 or self.lr_decay_end < 0 or not 0 < self.lr_decay_to <= 1:
            raise ConfigError("need lr_decay_start >= 0, lr_decay_end >= 0 and 0 < lr_decay_to <= 1")
        if not 0 <= self.jacobian_reject < 1:
            raise ConfigError(f"jacobian_reject must be in [0, 1), got {self.jacobian_reject}")
        if len(self.d_noise) != 2 or any(not 0 <= v <= 10 for v in self.d_noise):
            raise ConfigError(f"d_noise is two standard deviations in [0, 10] (input, hidden layers), got {self.d_noise}")
        if self.r1_gamma < 0 or self.r1_every < 1:
            raise ConfigError(f"need r1_gamma >= 0 and r1_every >= 1, got {self.r1_gamma} and {self.r1_every}")
        if self.pl_weight < 0 or self.pl_every < 1:
            raise ConfigError(f"need pl_weight >= 0 and pl_every >= 1, got {self.pl_weight} and {self.pl_every}")
        if self.clusters < 0:
            raise ConfigError(f"clusters must be >= 0, got {self.clusters}")
        if self.condition not in ("auto", *KINDS):
            raise ConfigError(f"condition must be one of auto, {', '.join(KINDS)}, got {self.condition!r}")
        if self.d_condition not in ("auto", "projection", "concat", "tile", "none"):
            raise ConfigError(f"d_condition must be auto, projection, concat, tile or none, got {self.d_condition!r}")
        if not 0 <= self.mapping <= 16 or self.mapping_width <= 0:
            raise ConfigError(f"mapping is 0 to 16 layers and mapping_width > 0, got {self.mapping} and {self.mapping_width}")
        if self.tile_at < 0:
            raise ConfigError(f"tile_at must be >= 0 (0: D's last feature map), got {self.tile_at}")
        if self.g_condition not in ("input", "batchnorm"):
            raise ConfigError(f"g_condition must be input or batchnorm, got {self.g_condition!r}")


@dataclass
class GANRecipeConfig(GANConfig):
    """The `gan` preset: the recipe that covers every mode of the 2-D mixtures (benchmarks/toy2d:
    what each part buys). The course's plain GAN is configs/gan-plain.yaml."""

    z_dim: int = 64
    lr_g: float = 1e-3  # high, then decayed (benchmarks/toy2d)
    lr_d: float = 1e-3
    pack: int = 4
    d_single: tuple[int, ...] = (128, 128)
    ema: float = 0.97  # short: a longer average of the turning G narrows its modes (benchmarks/toy2d)
    lr_decay_start: int = 2_400
    lr_decay_end: int = 12_000
    lr_decay_to: float = 0.01
    clusters: int = 40


class GAN(GenerativeModel):
    name = "gan"
    Config = GANRecipeConfig
    eval_options = {"n_samples", "modes", "features", "seed"}  # the options of evaluate() (genlab eval's flags)
    # batch 128 and 12,000 steps, about a minute on this kind of 2-core CPU. With cluster
    # conditioning 12,000 steps reach what 36,000 did (benchmarks/toy2d's ablation); without it,
    # the number of updates, not the batch, is what sharpened G (batch 256 or 512 bought nothing)
    train_defaults = {"batch_size": 128, "steps": 12_000, "log_every": 500, "sample_every": 2000,
                      "checkpoint_every": 2000}

    def __init__(self, config: GANConfig, spec: DataSpec):
        super().__init__(config, spec)
        c = config
        self.batches_per_step = c.d_steps
        image = spec.kind == "image"
        kind = c.condition if c.condition != "auto" else self.auto_condition(spec)
        self._check_applicable(kind, spec)
        self.condition = self.build_condition(kind, spec)
        cdim = self.condition.dim if self.condition is not None else 0
        if self.condition is None and c.d_condition not in ("auto", "none"):
            raise ConfigError(f"d_condition={c.d_condition} applies to a conditional model (condition=class or clusters)")
        auto = "concat" if kind == "clusters" else "projection"
        self.d_condition = (auto if c.d_condition == "auto" else c.d_condition) if cdim else "none"
        if c.mismatch and (self.d_condition == "none" or c.loss == "wgan-gp"):
            raise ConfigError("mismatch=true (real images with wrong conditions as fakes) needs a D that sees the "
                              "condition (d_condition projection, concat or tile) and a loss other than wgan-gp")
        if self.d_condition == "tile" and c.net != "dcgan":
            raise ConfigError("d_condition=tile tiles the condition onto a feature map: it needs net=dcgan")
        if c.tile_at and self.d_condition != "tile":
            raise ConfigError(f"tile_at applies to d_condition=tile; this run's D sees the condition by {self.d_condition}")
        concat = cdim if self.d_condition == "concat" else 0
        tile = cdim * c.pack if self.d_condition == "tile" else 0
        self.latent_dim = c.z_dim + cdim  # G's input: z, then the condition
        if c.net == "dcgan":
            if not image or len(spec.shape) != 3:
                raise ConfigError("net=dcgan needs image data; use net=mlp for points")
            norm = c.norm if c.norm != "auto" else ("layer" if c.loss == "wgan-gp" else "batch")
            ch, s, _ = spec.shape
            g_norm = "none" if norm == "layer" else norm
            if c.g_condition == "batchnorm" and g_norm != "batch":
                raise ConfigError(f"g_condition=batchnorm conditions G's batch norms; this run's G has norm={g_norm}")
            self.generator = DCGANGenerator(self.latent_dim, spec.shape, c.ngf, g_norm,
                                            cdim if c.g_condition == "batchnorm" else 0)
            self.discriminator = DCGANDiscriminator(((ch + concat) * c.pack, s, s), c.ndf, norm, self.d_outputs, tile,
                                                    c.tile_at)
            self.apply(dcgan_init)
        else:
            self.generator = MLPGenerator(self.latent_dim, spec.shape, c.g_hidden, tanh=image)
            self.discriminator = MLPDiscriminator((spec.dim + concat) * c.pack, c.d_hidden, pack=c.pack,
                                                  single=c.d_single, outputs=self.d_outputs, noise=c.d_noise)
        if c.mapping:  # after dcgan_init: the mapping keeps its He initialisation
            self.generator = MappedGenerator(self.generator, c.z_dim, c.mapping, c.mapping_width)
        if self.d_condition == "projection":  # a head of D: trained, saved and normalised with it
            self.discriminator.projection = nn.Linear(cdim * c.pack, self.discriminator.feature_dim, bias=False)
        self.add_heads()
        if c.spectral_norm:  # after the initialisation, which writes the raw weights
            spectral_normalize(self.discriminator)
        if c.jacobian_reject and spec.dim > 16:
            raise ConfigError("jacobian_reject applies to points (at most 16 values a sample), not to images")
        self.ema_generator = EMA(self.generator, c.ema) if c.ema > 0 else None
        # model space: images in [-1, 1]; points standardised by the training mean and RMS radius
        center = torch.tensor(spec.center) if spec.center is not None else torch.zeros(1)
        self.register_buffer("center", center, persistent=False)
        self.point_scale = spec.scale or 1.0
        if c.r1_every > 1 and c.r1_gamma > 0:  # the last lazy R1 penalty: saved with the run, logged between
            self.register_buffer("r1_last", torch.zeros(()))
        if c.pl_weight > 0:  # the running mean of G's path lengths, a, and the last penalty: saved with the run
            self.register_buffer("pl_mean", torch.zeros(()))
            self.register_buffer("pl_last", torch.zeros(()))

    def _check_applicable(self, kind: str, spec: DataSpec) -> None:
        """A setting changed from the preset's value that does nothing here is an error, not ignored."""
        c, preset = self.config, type(self.config)()
        applies = {
            "clusters": (kind == "clusters" or c.clusters == 0, "it applies to condition=clusters, on points"),
            "g_condition": (c.net == "dcgan" and kind != "none", "it applies to a conditional G on net=dcgan"),
            "ngf": (c.net == "dcgan", "it applies to net=dcgan"),
            "ndf": (c.net == "dcgan", "it applies to net=dcgan"),
            "norm": (c.net == "dcgan", "it applies to net=dcgan"),
            "mapping_width": (c.mapping > 0, "it applies to a mapping network, mapping > 0"),
            "pl_every": (c.pl_weight > 0, "it applies to path length regularization, pl_weight > 0"),
            "r1_every": (c.r1_gamma > 0, "it applies to the R1 penalty, r1_gamma > 0"),
            "g_hidden": (c.net == "mlp", "it applies to net=mlp"),
            "d_hidden": (c.net == "mlp", "it applies to net=mlp"),
            "d_single": (c.net == "mlp", "it applies to net=mlp"),
            "d_noise": (c.net == "mlp", "it applies to net=mlp"),
            "clip": (c.loss == "wgan", "it applies to loss=wgan"),
            "gp_lambda": (c.loss == "wgan-gp", "it applies to loss=wgan-gp"),
            **{k: (c.loss == "ls", "it applies to loss=ls") for k in ("ls_a", "ls_b", "ls_c")},
        }
        for name, (ok, why) in applies.items():
            if not ok and getattr(c, name) != getattr(preset, name):
                raise ConfigError(f"{name}={getattr(c, name)} does nothing in this {self.name} run ({why}); remove it")

    def auto_condition(self, spec: DataSpec) -> str:
        """condition=auto: clusters on points when ``clusters`` > 0, else none."""
        return "clusters" if spec.kind == "points" and self.config.clusters else "none"

    def build_condition(self, kind: str, spec: DataSpec):
        """The condition G is given (None for an unconditional G)."""
        return make_condition(kind, spec, self.config.clusters)

    def add_heads(self) -> None:
        """More heads on D's trunk (``self.discriminator.NAME = module``), in subclasses."""

    @property
    def d_outputs(self) -> int:
        """Scores D's last layer gives an example: 1, its real/fake score (SGAN: K class logits)."""
        return 1

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

    def unpacked(self, xp: torch.Tensor) -> torch.Tensor:
        """(B / pack, pack * C, ...) -> (B, C, ...): the inverse of packed()."""
        return xp.reshape(-1, *self.spec.shape)

    def judge(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """D on model-space samples (B, *shape) with their conditions c (B, dim): (raw score
        (B / pack,) in fp32, trunk features (B / pack, F)). Without c, a real example's condition
        (a point's nearest cluster) is used."""
        if self.d_condition != "none" and c is None:
            c = self.condition.of_real(None, x)
        if self.d_condition == "concat":
            c = c.to(x.dtype)
            x = (torch.cat([x.flatten(1), c], 1) if x.dim() == 2 or self.config.net == "mlp" else
                 torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1))
        tile = self.packed(c) if self.d_condition == "tile" else None
        score, features = self.discriminator.judge(self.packed(x), *([tile] if tile is not None else []))
        if self.d_condition == "projection":  # + <embed(c), features>
            score = score + (self.discriminator.projection(self.packed(c.to(features.dtype))) * features).sum(1)
        return score.float(), features  # losses in fp32 under mixed precision

    def critic(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """D's raw score: (B, *shape) -> (B / pack,)."""
        return self.judge(x, c)[0]

    def prior(self, n: int, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """n latent codes (n, latent_dim): z ~ N(0, I), then the condition (drawn from p(c), or
        the one ``condition`` names: a class name or index, or (n,) indices). From ``generator``
        (on the CPU) when given."""
        if generator is None:
            z = torch.randn(n, self.config.z_dim, device=self.device)
        else:
            z = torch.randn(n, self.config.z_dim, generator=generator).to(self.device)
        return beside(z, self.condition, condition, generator, self.name)

    def condition_of(self, latent: torch.Tensor) -> torch.Tensor | None:
        """The condition part of latent codes (None for an unconditional model)."""
        return latent[:, self.config.z_dim:] if self.condition is not None else None

    def with_condition(self, latent: torch.Tensor, condition, generator: torch.Generator | None = None) -> torch.Tensor:
        """The same codes with another condition (a name, an index or (n,) indices; a prompt or tag
        indices, whose open tags are drawn from ``generator``)."""
        c = self.condition.conditions(condition, latent.shape[0], generator)
        return torch.cat([latent[:, :self.config.z_dim], c.to(latent.dtype)], 1)

    @torch.no_grad()
    def prepare(self, data: Dataset) -> None:
        """Read p(c) from the training data (a fresh run; a resumed or loaded model has it in its
        state): class frequencies, or clusters fitted to the points."""
        if self.condition is not None:
            self.condition.prepare(data, self.to_model)

    @property
    def n_clusters(self) -> int:
        """Clusters in use (0 without cluster conditioning)."""
        return self.condition.in_use if isinstance(self.condition, Clusters) else 0

    # -- extra loss terms (AC-GAN's class head, ...) -------------------------------------------
    def d_terms(self, real: torch.Tensor, fake: torch.Tensor, c_real, c_fake) -> dict[str, torch.Tensor]:
        """Extra D losses from trunk features of reals and fakes, added to D's loss and logged."""
        return {}

    def g_terms(self, fake: torch.Tensor, c_fake) -> dict[str, torch.Tensor]:
        """Extra G losses from D's trunk features of G's samples, added to G's loss and logged."""
        return {}

    # -- training: Algorithm 13.1 --------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        if c.optimizer == "rmsprop":
            return {"d": torch.optim.RMSprop(self.discriminator.parameters(), lr=c.lr_d),
                    "g": torch.optim.RMSprop(self.generator.parameters(), lr=c.lr_g)}
        betas = (c.beta1, c.beta2)
        return {"d": _adam(self.discriminator.parameters(), c.lr_d, betas),
                "g": _adam(self.generator.parameters(), c.lr_g, betas)}

    def lr_factor(self, step: int) -> float:
        """The lr multiplier at ``step``: 1, then linear to lr_decay_to over [start, end]."""
        c = self.config
        if c.lr_decay_end <= c.lr_decay_start:
            return 1.0
        t = min(1.0, max(0.0, (step - c.lr_decay_start) / (c.lr_decay_end - c.lr_decay_start)))
        return 1.0 + t * (c.lr_decay_to - 1.0)

    def set_lr(self, optimizers: dict[str, torch.optim.Optimizer], step: int) -> None:
        c, factor = self.config, self.lr_factor(step)
        for name, base in (("d", c.lr_d), ("g", c.lr_g)):
            for group in optimizers[name].param_groups if name in optimizers else ():
                group["lr"] = base * factor

    def discriminator_step(self, x: torch.Tensor, y: torch.Tensor | None, opt: torch.optim.Optimizer,
                           step: int = 0) -> dict[str, torch.Tensor]:
        c = self.config
        r1 = c.r1_gamma > 0 and step % c.r1_every == 0
        with torch.no_grad():
            latent = self.prior(x.shape[0])
            fake = self.generator(latent)
        c_fake = self.condition_of(latent)
        xp = self.packed(x)
        if r1:
            xp = xp.detach().requires_grad_(True)
        real = self.unpacked(xp)
        c_real = self.condition.of_real(y, real) if self.condition is not None else None
        (r, r_feat), (f, f_feat) = self.judge(real, c_real), self.judge(fake, c_fake)
        out = {"d_real": r.detach().mean(), "d_fake": f.detach().mean()}
        if c.mismatch:  # reals with another example's condition: fakes as well, half the fake term each
            w = self.critic(real, c_real.roll(1, 0))
            out["d_wrong"] = w.detach().mean()
            f = torch.cat([f, w])
        loss = L.discriminator_loss(c.loss, r, f, (c.ls_a, c.ls_b, c.ls_c))
        out = {"loss_d": loss.detach(), **out}
        for name, term in self.d_terms(r_feat, f_feat, c_real, c_fake).items():
            loss = loss + term
            out[name] = term.detach()
        if c.loss == "wgan-gp":  # in fp32 under mixed precision (its double backward overflows in fp16)
            # interpolates keep the reals' labels; a point's cluster is its nearest centre
            c_gp = None if isinstance(self.condition, Clusters) else c_real
            with full_precision(x.device.type):
                gp = L.gradient_penalty(lambda v: self.critic(self.unpacked(v), c_gp), xp.detach().float(),
                                        self.packed(fake).float())
            loss = loss + c.gp_lambda * gp
            out["gp"] = gp.detach()
        if r1:
            penalty = L.r1_penalty(r, xp)
            loss = loss + 0.5 * c.r1_gamma * c.r1_every * penalty
            if c.r1_every > 1:
                self.r1_last.copy_(penalty.detach())
            out["r1"] = penalty.detach()
        elif c.r1_gamma > 0:  # a lazy step: the last penalty, so every step logs the same parts
            out["r1"] = self.r1_last.clone()
        backward_step(loss, opt)
        if c.loss == "wgan":
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-c.clip, c.clip)
        return out

    def generator_step(self, n: int, opt: torch.optim.Optimizer, step: int) -> dict[str, torch.Tensor]:
        c = self.config
        self.discriminator.requires_grad_(False)  # no wasted gradients for D
        try:
            latent = self.prior(n)
            c_fake = self.condition_of(latent)
            f, f_feat = self.judge(self.generator(latent), c_fake)
            loss = L.generator_loss(c.loss, f, (c.ls_a, c.ls_b, c.ls_c))
            out = {"loss_g": loss.detach()}
            for name, term in self.g_terms(f_feat, c_fake).items():
                loss = loss + term
                out[name] = term.detach()
            if c.pl_weight > 0:
                if step % c.pl_every == 0:
                    loss = loss + c.pl_weight * c.pl_every * self.path_length_penalty(max(1, n // 2))
                out.update(pl=self.pl_last.clone(), pl_mean=self.pl_mean.clone())
            backward_step(loss, opt)
        finally:
            self.discriminator.requires_grad_(True)
        if self.ema_generator is not None:  # one G step a train step: step 0 is the first update
            self.ema_generator.update(self.generator, first=step == 0)
        return out

    def path_length_penalty(self, n: int) -> torch.Tensor:
        """StyleGAN2's path length penalty on n fresh draws (half a batch, as in the paper), with
        respect to G's noise input (w of a mapping network, z otherwise; not the condition); updates
        the running mean a of the lengths. In fp32 under mixed precision, like the other double
        backward passes."""
        zd, g = self.config.z_dim, self.generator
        latent = self.prior(n)
        with full_precision(latent.device.type):
            if isinstance(g, MappedGenerator):
                w, synthesis = g.map(latent[:, :zd]), g.synthesis
            else:
                w, synthesis = latent[:, :zd].detach().requires_grad_(True), g
            lengths = L.path_lengths(synthesis(torch.cat([w, latent[:, zd:]], 1)).float(), w)
            mean = self.pl_mean.lerp(lengths.detach().mean(), L.PL_DECAY)
            penalty = L.path_length_penalty(lengths, mean)
        with torch.no_grad():
            self.pl_mean.copy_(mean)
            self.pl_last.copy_(penalty.detach())
        return penalty

    def train_step(self, batches: Iterator[Batch], optimizers: dict[str, torch.optim.Optimizer],
                   step: int) -> StepOutput:
        self.set_lr(optimizers, step)
        for _ in range(self.config.d_steps):
            batch = next(batches)
            x = self.to_model(batch.x)
            out = self.discriminator_step(x, batch.y, optimizers["d"], step)
        out.update(self.generator_step(x.shape[0], optimizers["g"], step))
        return out

    # -- using the model -----------------------------------------------------------------------
    @property
    def sampler(self) -> nn.Module:
        """G's moving average when on (used for sampling and evaluation), else G."""
        return self.ema_generator.module if self.ema_generator is not None else self.generator

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """n samples in data space: images in [0, 1] or points in the data's coordinates; of the
        class (or cluster) ``condition`` names when given, else with c ~ p(c)."""
        r = self.config.jacobian_reject
        m = n if not r else math.ceil(n / (1 - r))
        z = self.prior(m, generator if generator is not None else torch.default_generator, condition)
        if r:
            z = z[self.jacobian_norm(z).argsort()[:n].sort().values]  # the n flattest draws, in order
        return self.to_data(self.sampler(z)).clamp(0, 1) if self.spec.kind == "image" else \
            self.to_data(self.sampler(z))

    def jacobian_norm(self, z: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """||dG(z)/dz||_F of the sampler at each latent code (model space), with respect to z only
        (not the cluster): (N, latent_dim) -> (N,)."""
        out, zd = [], self.config.z_dim
        with torch.enable_grad():
            for code in z.split(chunk):
                zc = code[:, :zd].detach().requires_grad_(True)
                # (n, D): rows depend only on their own code
                x = self.sampler(torch.cat([zc, code[:, zd:]], 1)).flatten(1)
                sq = torch.zeros(zc.shape[0], device=z.device)
                for i in range(x.shape[1]):
                    (g,) = torch.autograd.grad(x[:, i].sum(), zc, retain_graph=i + 1 < x.shape[1])
                    sq += g.pow(2).sum(1)
                out.append(sq.sqrt())
        return torch.cat(out)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """G (or its average) on latent codes: (..., latent_dim) -> (..., *shape) in data space
        (a conditional model's code is z then the condition, as prior() draws them)."""
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
        g = torch.Generator().manual_seed(seed)
        if isinstance(self.condition, (Classes, Tags)):  # one row per class (hair colour), the same noise in each
            return {"samples": self.decode(self.class_grid(8, g))}
        n = 64 if self.spec.kind == "image" else 2000
        return {"samples": self.decode(self.prior(n, generator=g))}

    def class_grid(self, per_class: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latent codes (K * per_class, latent_dim): K rows of the same ``per_class`` noises, row k of
        class k (of the k-th value of the first tag group)."""
        z = self.prior(per_class, generator)
        return torch.cat([self.with_condition(z, k, generator) for k in self.condition.grid_rows()])

    def evaluate(self, data: Dataset, *, n_samples: int | None = None, seed: int = 0, modes: int | None = None,
                 features: str = "genlab", **_: Any) -> dict[str, Any]:
        """2-D points: mode coverage (modes, hq, reverse_kl) of ``n_samples`` (2,500) samples against
        the set's known modes, or ``modes`` fitted ones; images: FID and friends."""
        g = torch.Generator().manual_seed(seed)
        if self.spec.kind == "points":
            from genlab.metrics.modes import evaluate_points

            samples = self.sample(n_samples or 2500, generator=g)
            return evaluate_points(samples.cpu(), data, n_modes=modes)
        from genlab.metrics.images import score_images

        n = n_samples or min(10_000, data.test.shape[0])
        samples = torch.cat([self.sample(min(500, n - i), generator=g).cpu() for i in range(0, n, 500)])
        results = score_images(samples, data, features=features)
        if isinstance(self.condition, Classes):  # was the condition obeyed, and at what cost to diversity
            from genlab.metrics.conditional import classification_accuracy_score, conditional_accuracy

            per_class = max(1, n // self.condition.dim)
            results.update(conditional_accuracy(self, data, n_per_class=per_class, seed=seed))
            results.update(classification_accuracy_score(self, data, seed=seed))
        if isinstance(self.condition, Tags):
            from genlab.metrics.conditional import tag_accuracy

            results.update(tag_accuracy(self, data, n=min(n, 2000), seed=seed))
        return results


def _adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """Adam, fused into one kernel a step where torch supports it (CPU from torch 2.4, CUDA): the
    same update, about a third less time a step for the small MLPs of 2-D data, whose steps are
    dominated by per-tensor overhead."""
    params = list(params)
    if all(p.device.type in ("cpu", "cuda") for p in params):
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.Adam(params, lr=lr, betas=betas)


# -- presets: short subclasses that only change defaults -------------------------------------------


@dataclass
class DCGANConfig(GANConfig):
    """DCGAN's settings: the base's, on the dcgan networks."""

    net: str = "dcgan"


# the 64 x 64 face recipe on toonfaces: the course's DCGAN at half width (ngf = ndf = 32) for a CPU budget,
# bf16 where the hardware has it, an EMA of G over about 1,000 steps for sampling; many small steps, as eye
# colour is learnt late (benchmarks/toonfaces)
TOONFACES = {"model_config": {"ngf": 32, "ndf": 32, "ema": 0.999},
             "train": {"batch_size": 32, "steps": 24_000, "precision": "auto", "sample_every": 1_000,
                       "checkpoint_every": 2_000}}
# its unconditional twin judges pairs (PacGAN, https://arxiv.org/abs/1712.04086): without tags G collapsed, and
# R1 (https://arxiv.org/abs/1801.04406) keeps it diverse enough for directions (benchmarks/toonfaces)
TOONFACES_UNCONDITIONAL = {"model_config": {**TOONFACES["model_config"], "pack": 2, "r1_gamma": 1.0},
                           "train": {**TOONFACES["train"], "steps": 16_000}}


class DCGAN(GAN):
    """DCGAN (Radford et al. 2015, https://arxiv.org/abs/1511.06434): Adam(2e-4, 0.5), batch 128."""

    name = "dcgan"
    Config = DCGANConfig
    train_defaults = {"batch_size": 128, "steps": 20_000, "log_every": 200, "sample_every": 1000,
                      "checkpoint_every": 2000}
    data_recipes = {"toonfaces": TOONFACES_UNCONDITIONAL}


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
    train_defaults = {**DCGAN.train_defaults, "batch_size": 64, "steps": 20_000}


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


@dataclass
class CGANConfig(DCGANConfig):
    condition: str = "auto"  # the tags of a tagged set, else the class; D by projection unless d_condition says


class CGAN(GAN):
    """The conditional GAN (Mirza & Osindero 2014, https://arxiv.org/abs/1411.1784) on the DCGAN
    networks, D conditioned by projection (Miyato & Koyama 2018), concatenation or tiling."""

    name = "cgan"
    Config = CGANConfig
    train_defaults = DCGAN.train_defaults
    data_recipes = {"toonfaces": TOONFACES}

    def auto_condition(self, spec: DataSpec) -> str:
        return "tags" if spec.tags else "class"
