"""AC-GAN (Odena et al. 2017, https://arxiv.org/abs/1610.09585): D does not see the class; a class
head on D's trunk predicts it, for real and generated images alike.

    L_S = E[log P(S = real | x_real)] + E[log P(S = fake | x_fake)]     (the GAN game)
    L_C = E[log P(C = c | x_real)] + E[log P(C = c | x_fake)]           (eq. 2-3)
D maximises L_S + L_C, G maximises L_C - L_S. ``class_loss_on_fakes=false`` drops the fake
term from D's L_C (common practice: D's classifier is not trained on G's mistakes).
The head gives raw logits to the cross-entropy (a softmax before it is the peers' bug).
On a tagged set the head is multi-label (Jin et al. 2017, https://arxiv.org/abs/1708.05509): a
cross-entropy per exclusive tag group and a binary one per other tag (conditions.tag_loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.gan import CGAN, GAN, DCGAN, DCGANConfig


@dataclass
class ACGANConfig(DCGANConfig):
    condition: str = "auto"  # the tags of a tagged set, else the class
    d_condition: str = "none"  # D does not see c: its class head predicts it
    class_loss_on_fakes: bool = True  # Odena et al. 2017, eq. 3; false: D's class loss on reals only
    class_weight: float = 1.0  # weight of L_C beside L_S, on both sides

    def validate(self) -> None:
        super().validate()
        if self.condition not in ("auto", "class", "tags"):
            raise ConfigError("acgan's condition is class or tags")
        if self.pack != 1:
            raise ConfigError("acgan classifies single images: pack must be 1")
        if not self.class_weight > 0:
            raise ConfigError(f"class_weight must be > 0, got {self.class_weight}")


class ACGAN(GAN):
    name = "acgan"
    Config = ACGANConfig
    train_defaults = DCGAN.train_defaults
    data_recipes = CGAN.data_recipes

    auto_condition = CGAN.auto_condition

    def add_heads(self) -> None:
        self.discriminator.class_head = nn.Linear(self.discriminator.feature_dim, self.condition.dim)

    def class_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Raw class (tag) scores (B, K) from D's trunk features (B, F)."""
        return self.discriminator.class_head(features).float()

    def d_terms(self, real, fake, c_real, c_fake) -> dict[str, torch.Tensor]:
        w, ce = self.config.class_weight, self.condition.loss
        terms = {"class_real": w * ce(self.class_logits(real), c_real)}
        if self.config.class_loss_on_fakes:
            terms["class_fake"] = w * ce(self.class_logits(fake), c_fake)
        return terms

    def g_terms(self, fake, c_fake) -> dict[str, torch.Tensor]:
        return {"class_g": self.config.class_weight * self.condition.loss(self.class_logits(fake), c_fake)}
