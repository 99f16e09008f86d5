"""BiGAN (Donahue et al. 2016, https://arxiv.org/abs/1605.09782) and ALI (Dumoulin et al. 2016,
https://arxiv.org/abs/1606.00704): an encoder E: x -> z beside G: z -> x, and a discriminator of
(x, z) pairs:
    min_{G, E} max_D  E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))]
At the optimum E and G invert each other. G and E are trained together (one optimiser) on the
non-saturating form: G wants D(G(z), z) called real, E wants D(x, E(x)) called fake.
``stochastic_encoder=true`` is ALI: E gives a Gaussian (mean, log-variance) and z is drawn from it
by reparameterisation; BiGAN's E is deterministic.
E is a D-shaped network whose last layer gives z; D joins its image trunk's features with an MLP
of z (the papers' joint discriminator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from genlab.data.dataset import DataSpec, Dataset
from genlab.data.loader import Batch
from genlab.errors import ConfigError
from genlab.models import gan_losses as L
from genlab.models.base import StepOutput
from genlab.models.gan import DCGAN, DCGANConfig, GAN, _adam
from genlab.models.gan_nets import DCGANDiscriminator, MLPDiscriminator, dcgan_init
from genlab.training.precision import backward_step


@dataclass
class BiGANConfig(DCGANConfig):
    condition: str = "none"
    stochastic_encoder: bool = False  # ALI: E(x) is a Gaussian, z drawn from it
    joint_hidden: int = 256  # width of D's MLP of z and of its joint layer

    def validate(self) -> None:
        super().validate()
        if self.condition != "none":
            raise ConfigError("bigan's G takes z alone: condition must be none")
        if self.loss not in ("ns", "minimax"):
            raise ConfigError(f"bigan plays the cross-entropy game: loss must be ns or minimax, got {self.loss!r}")
        if self.pack != 1:
            raise ConfigError("bigan's D judges one (x, z) pair at a time: pack must be 1")
        if self.joint_hidden <= 0:
            raise ConfigError("joint_hidden must be > 0")


class JointDiscriminator(nn.Module):
    """D(x, z): an image (or point) trunk's features (B, F) and an MLP of z (B, H) side by side,
    then a hidden layer and the raw score (B,)."""

    def __init__(self, x_trunk: nn.Module, z_dim: int, hidden: int):
        super().__init__()
        self.x_trunk = x_trunk
        self.z_net = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                                   nn.LeakyReLU(0.2))
        self.joint = nn.Sequential(nn.Linear(x_trunk.feature_dim + hidden, hidden), nn.LeakyReLU(0.2))
        self.score = nn.Linear(hidden, 1)
        self.feature_dim = hidden

    def judge(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, fx = self.x_trunk.judge(x)
        h = self.joint(torch.cat([fx, self.z_net(z.to(fx.dtype))], 1))
        return self.score(h).squeeze(1), h


class BiGAN(GAN):
    name = "bigan"
    Config = BiGANConfig
    train_defaults = DCGAN.train_defaults
    eval_options = {"n_samples", "modes", "features", "seed"}

    def __init__(self, config: BiGANConfig, spec: DataSpec):
        super().__init__(config, spec)
        c, zd = config, config.z_dim
        out = 2 * zd if c.stochastic_encoder else zd
        if c.net == "dcgan":
            norm = c.norm if c.norm != "auto" else "batch"
            self.encoder = DCGANDiscriminator(spec.shape, c.ndf, norm, outputs=out)
            self.encoder.apply(dcgan_init)
        else:
            self.encoder = MLPDiscriminator(spec.dim, c.d_hidden, outputs=out)
        trunk = self.discriminator  # the x trunk GAN built; its score layer gives way to the joint one
        trunk.net[-1] = nn.Identity()
        self.discriminator = JointDiscriminator(trunk, zd, c.joint_hidden)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        return {"d": _adam(self.discriminator.parameters(), c.lr_d, betas),
                "g": _adam([*self.generator.parameters(), *self.encoder.parameters()], c.lr_g, betas)}

    # -- the encoder ----------------------------------------------------------------------------
    def encoder_output(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """E on model-space x: (mean (B, Z), log-variance (B, Z) for ALI, else None), fp32."""
        out, _ = self.encoder.judge(x)
        out = out.float().view(x.shape[0], -1)
        if self.config.stochastic_encoder:
            return out[:, :self.config.z_dim], out[:, self.config.z_dim:].clamp(-10, 10)
        return out, None

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """z for model-space x: E(x) (ALI: a reparameterised draw from E's Gaussian)."""
        mean, logvar = self.encoder_output(x)
        return mean if logvar is None else mean + (0.5 * logvar).exp() * torch.randn_like(mean)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Data-space examples (B, *shape) -> codes (B, Z): E's output (ALI: its mean)."""
        return self.encoder_output(self.to_model(x))[0]

    def judge(self, x: torch.Tensor, z: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """D on (x, z) pairs; without z, a real example's pair (x, E(x))."""
        if z is None:
            z = self.infer(x)
        score, features = self.discriminator.judge(x, z)
        return score.float(), features

    # -- training ---------------------------------------------------------------------------------
    def train_step(self, batches: Iterator[Batch], optimizers: dict[str, torch.optim.Optimizer],
                   step: int) -> StepOutput:
        self.set_lr(optimizers, step)
        for _ in range(self.config.d_steps):
            x = self.to_model(next(batches).x)
            out = self.discriminator_step(x, optimizers["d"])
        out.update(self.generator_step(x, optimizers["g"], step))
        return out

    def discriminator_step(self, x: torch.Tensor, opt) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            z = self.prior(x.shape[0])
            fake, z_real = self.generator(z), self.infer(x)
        (r, _), (f, _) = self.judge(x, z_real), self.judge(fake, z)
        loss = L.d_loss_bce(r, f)
        backward_step(loss, opt)
        return {"loss_d": loss.detach(), "d_real": r.detach().mean(), "d_fake": f.detach().mean()}

    def generator_step(self, x: torch.Tensor, opt, step: int) -> dict[str, torch.Tensor]:
        """G and E together: G's pair called real, E's pair called fake (both swapped labels)."""
        self.discriminator.requires_grad_(False)
        try:
            z = self.prior(x.shape[0])
            (f, _), (r, _) = self.judge(self.generator(z), z), self.judge(x, self.infer(x))
            g = L.generator_loss(self.config.loss, f)
            e = L.generator_loss(self.config.loss, -r)  # E wants D(x, E(x)) = fake: the same loss, labels swapped
            backward_step(g + e, opt)
        finally:
            self.discriminator.requires_grad_(True)
        if self.ema_generator is not None:
            self.ema_generator.update(self.generator, first=step == 0)
        return {"loss_g": g.detach(), "loss_e": e.detach()}

    # -- using the model --------------------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)) of data-space examples."""
        return self.decode(self.encode(x))

    def preview(self, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
        out = super().preview(x, seed)
        if self.spec.kind == "image":
            from genlab.models.vae import interleave

            out["reconstructions"] = interleave(x, self.reconstruct(x))
        return out

    def critic(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.judge(x, self.encoder_output(x)[0])[0]

    def evaluate(self, data: Dataset, *, n_samples: int | None = None, seed: int = 0, modes: int | None = None,
                 features: str = "genlab", **_: Any) -> dict[str, Any]:
        """GAN's metrics of G's samples; on labelled images also the encoder's: a linear probe and
        1-NN on E(x), the same probe on raw pixels, G(E(x))'s error and whether it keeps x's class."""
        results = super().evaluate(data, n_samples=n_samples, seed=seed, modes=modes, features=features)
        if self.spec.kind == "image" and data.test_labels is not None and data.train_labels is not None:
            from genlab.metrics.probe import encoder_scores, reconstruction_scores

            results.update(encoder_scores(self.encode, data, seed=seed))
            results.update(reconstruction_scores(self.reconstruct, data))
        return results
