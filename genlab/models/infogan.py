"""InfoGAN (Chen et al. 2016, https://arxiv.org/abs/1606.03657): G(z, c) with a latent code c (a
categorical code and continuous ones, genlab.models.conditions.Codes) that no label names, and a
head Q on D's trunk that infers c from G's images. Both maximise a variational lower bound on the
mutual information I(c; G(z, c)) (eq. 4-5):
    L_I = E_{c ~ p(c), x ~ G(z, c)} [log Q(c | x)] + H(c) <= I(c; G(z, c))
    min_{G, Q} max_D V(D, G) - lambda L_I
log Q(c|x): a categorical over the K values (raw logits into the cross-entropy) and a Gaussian of
unit variance around Q's mean for each continuous code (the official code's fixed std).
``info_updates_trunk`` chooses whether D's side of L_I also trains D's trunk (the official code:
yes) or only the Q head (StudioGAN: no). G always gets the L_I gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from genlab.data.dataset import DataSpec, Dataset
from genlab.errors import ConfigError
from genlab.models.conditions import Codes
from genlab.models.gan import DCGAN, DCGANConfig, GAN


@dataclass
class InfoGANConfig(DCGANConfig):
    condition: str = "code"
    d_condition: str = "none"  # D does not see c: Q infers it
    z_dim: int = 62  # the official code's noise size (https://github.com/openai/InfoGAN)
    lr_g: float = 1e-3  # the official code's: G and Q learn 5x faster than D
    categories: int = 10  # values of the categorical code
    continuous: int = 2  # continuous codes, each ~ U(-1, 1)
    info_weight: float = 1.0  # lambda of eq. 5
    info_updates_trunk: bool = True  # D's side of L_I trains D's trunk too (official code), else only Q

    def validate(self) -> None:
        super().validate()
        if self.condition != "code" or self.d_condition != "none":
            raise ConfigError("infogan's condition is its latent code (condition=code), which D does not see")
        if self.pack != 1:
            raise ConfigError("infogan infers the code of single images: pack must be 1")
        if not 2 <= self.categories <= 1000 or not 0 <= self.continuous <= 100:
            raise ConfigError("categories must be 2-1000 and continuous 0-100")
        if not self.info_weight > 0:
            raise ConfigError(f"info_weight must be > 0, got {self.info_weight}")


class InfoGAN(GAN):
    name = "infogan"
    Config = InfoGANConfig
    train_defaults = DCGAN.train_defaults
    eval_options = {"n_samples", "features", "seed"}

    def build_condition(self, kind: str, spec: DataSpec) -> Codes:
        return Codes(self.config.categories, self.config.continuous)

    def add_heads(self) -> None:
        self.discriminator.q_head = nn.Linear(self.discriminator.feature_dim, self.condition.dim)

    def q(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q's categorical logits (B, K) (raw) and continuous means (B, continuous), in fp32."""
        out = self.discriminator.q_head(features).float()
        return out[:, :self.config.categories], out[:, self.config.categories:]

    def info_loss(self, features: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """-E log Q(c | x) up to a constant: the cross-entropy of the category plus half the squared
        error of each continuous code (a unit-variance Gaussian)."""
        k = self.config.categories
        logits, mean = self.q(features)
        loss = F.cross_entropy(logits, c[:, :k].argmax(1))
        if self.config.continuous:
            loss = loss + 0.5 * (mean - c[:, k:].float()).pow(2).sum(1).mean()
        return loss

    def d_terms(self, real, fake, c_real, c_fake) -> dict[str, torch.Tensor]:
        features = fake if self.config.info_updates_trunk else fake.detach()
        return {"info_d": self.config.info_weight * self.info_loss(features, c_fake)}

    def g_terms(self, fake, c_fake) -> dict[str, torch.Tensor]:
        return {"info_g": self.config.info_weight * self.info_loss(fake, c_fake)}

    # -- using the model ----------------------------------------------------------------------
    def preview(self, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
        out = super().preview(x, seed)
        if self.config.continuous:  # the paper's figure: categories down, the first continuous code across
            out["code-sweep"] = self.decode(self.code_sweep(0, 9, torch.Generator().manual_seed(seed)))
        return out

    def code_sweep(self, continuous_index: int = 0, columns: int = 9, generator: torch.Generator | None = None,
                   low: float = -2.0, high: float = 2.0) -> torch.Tensor:
        """Latent codes for the InfoGAN paper's figure: a row per categorical value, its columns
        sweeping one continuous code from ``low`` to ``high``, one noise z for the whole grid."""
        codes = self.condition.sweep(continuous_index, torch.linspace(low, high, columns))
        z = self.prior(1, generator)[:, :self.config.z_dim].expand(codes.shape[0], -1)
        return torch.cat([z, codes.to(z)], 1)

    @torch.no_grad()
    def infer_category(self, x: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
        """Q's categorical code of data-space images (N, *shape) -> (N,)."""
        was = self.training
        self.eval()
        try:
            return torch.cat([self.q(self.judge(self.to_model(part.to(self.device)))[1])[0].argmax(1).cpu()
                              for part in x.split(chunk)])
        finally:
            self.train(was)

    @torch.no_grad()
    def information(self, n: int = 5000, seed: int = 0) -> float:
        """The categorical part of L_I, H(c) - CE = ln K - E[-log Q(c|G(z, c))], on n fresh samples:
        a lower bound on I(c_cat; G(z, c)), at most ln K."""
        was = self.training
        self.eval()
        try:
            latent = self.prior(n, torch.Generator().manual_seed(seed))
            logits, _ = self.q(self.judge(self.sampler(latent))[1])
            ce = F.cross_entropy(logits, self.condition_of(latent)[:, :self.config.categories].argmax(1))
            return math.log(self.config.categories) - float(ce)
        finally:
            self.train(was)

    def evaluate(self, data: Dataset, *, n_samples: int | None = None, seed: int = 0, features: str = "genlab",
                 **_: Any) -> dict[str, Any]:
        """The image metrics, then on the real test images how well Q's category matches the
        classes (cluster_accuracy, nmi, ari), and the information term against its bound ln K."""
        from genlab.metrics.clustering import clustering_scores

        results = super().evaluate(data, n_samples=n_samples, seed=seed, features=features)
        if data.test_labels is not None:
            results.update(clustering_scores(self.infer_category(data.test), data.test_labels))
            results["n_test"] = int(data.test.shape[0])
        results["information"] = self.information(seed=seed)
        results["information_bound"] = math.log(self.config.categories)
        return results
