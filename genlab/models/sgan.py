"""The semi-supervised GAN (Salimans et al. 2016, https://arxiv.org/abs/1606.03498, section 5).

D is a K-class classifier whose real/fake logit is logsumexp of its K class logits (the fake
class's logit fixed at 0). It learns from a label budget (``--labels N``):
    L_D = L_supervised + L_unsupervised
    L_supervised   = -E_{(x, y) labelled} log p(y | x, y < K+1)    (cross-entropy on raw logits)
    L_unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))          (every training image, labels or not)
G matches the mean of D's trunk features on real data (feature matching, the paper's best for
classification) or plays the non-saturating game on D's real/fake logit. ``supervised_only=true``
trains the same D on the N labels alone: the baseline every SGAN number stands beside.
The classifier evaluated is an average of D's weights (``d_ema``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch.nn import functional as F

from genlab.data.dataset import DataSpec, Dataset
from genlab.data.loader import Batch
from genlab.errors import ConfigError, GenlabError
from genlab.models import gan_losses as L
from genlab.models.base import StepOutput
from genlab.models.ema import EMA
from genlab.models.gan import DCGAN, DCGANConfig, GAN
from genlab.training.precision import backward_step


@dataclass
class SGANConfig(DCGANConfig):
    condition: str = "none"  # G is unconditional; D classifies
    feature_matching: bool = True  # G's loss: feature matching (section 3.1), else the ns game
    supervised_only: bool = False  # the baseline: D trained on the labelled examples alone, no G
    supervised_weight: float = 1.0  # weight of the supervised cross-entropy beside the GAN loss
    d_ema: float = 0.999  # an average of D's weights is the classifier evaluated

    def validate(self) -> None:
        super().validate()
        if self.condition != "none":
            raise ConfigError("sgan's G is unconditional: condition must be none")
        if self.loss not in ("ns", "minimax"):
            raise ConfigError(f"sgan's D is a classifier with a cross-entropy real/fake loss: loss must be ns or minimax, "
                              f"got {self.loss!r}")
        if self.pack != 1:
            raise ConfigError("sgan classifies single images: pack must be 1")
        if not self.supervised_weight > 0:
            raise ConfigError(f"supervised_weight must be > 0, got {self.supervised_weight}")
        if not 0 <= self.d_ema < 1:
            raise ConfigError(f"d_ema must be in [0, 1), got {self.d_ema}")


# 28 x 28 grey images: the paper's MNIST networks (an MLP D of 1000-500-250-250-250 with Gaussian noise on its
# input and hidden layers, G 500-500), Adam at 1e-3 (benchmarks/unlabelled)
_MNIST_NETS = {"model_config": {"net": "mlp", "d_hidden": [1000, 500, 250, 250, 250], "g_hidden": [500, 500],
                                "d_single": [], "d_noise": [0.3, 0.5], "lr_d": 1e-3, "lr_g": 1e-3}}


class SGAN(GAN):
    name = "sgan"
    Config = SGANConfig
    labelled_stream = True
    train_defaults = {**DCGAN.train_defaults, "batch_size": 64, "steps": 5_000}
    data_recipes = {"mnist": _MNIST_NETS, "fashion-mnist": _MNIST_NETS}
    eval_options = {"seed"}

    def __init__(self, config: SGANConfig, spec: DataSpec):
        if spec.labels is None or not spec.num_classes:
            raise ConfigError("sgan learns from a label budget: pass --labels N (at most the number of training "
                              "examples) on labelled data")
        self.num_classes = spec.num_classes
        super().__init__(config, spec)
        self.d_average = EMA(self.discriminator, config.d_ema) if config.d_ema > 0 else None
        if config.supervised_only:  # the baseline has no G to train, save or sample
            self.generator = self.ema_generator = None

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.generator is not None:
            return super().configure_optimizers()
        return {"d": torch.optim.Adam(self.discriminator.parameters(), lr=self.config.lr_d,
                                      betas=(self.config.beta1, self.config.beta2))}

    @property
    def d_outputs(self) -> int:
        return self.num_classes

    def class_logits(self, x: torch.Tensor, average: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """D's raw class logits (B, K) in fp32 and trunk features (B, F) of model-space images."""
        d = self.d_average.module if average and self.d_average is not None else self.discriminator
        logits, features = d.judge(x)
        return logits.float(), features

    def judge(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        logits, features = self.class_logits(x)
        return L.real_logit_from_classes(logits), features

    # -- training ---------------------------------------------------------------------------
    def train_step(self, batches: Iterator[Batch], optimizers: dict[str, torch.optim.Optimizer],
                   step: int) -> StepOutput:
        self.set_lr(optimizers, step)
        labelled = next(batches.labelled)
        xl = self.to_model(labelled.x)
        if self.config.supervised_only:
            out = self.supervised_step(xl, labelled.y, optimizers["d"])
        else:
            for _ in range(self.config.d_steps):
                x = self.to_model(next(batches).x)  # labels of the main stream are not read
                out = self.semi_supervised_step(x, xl, labelled.y, optimizers["d"])
            out.update(self.generator_step(x, optimizers["g"], step))
        if self.d_average is not None:
            self.d_average.update(self.discriminator, first=step == 0)
        return out

    def supervised_step(self, xl: torch.Tensor, yl: torch.Tensor, opt) -> dict[str, torch.Tensor]:
        logits, _ = self.class_logits(xl)
        loss = F.cross_entropy(logits, yl)
        backward_step(loss, opt)
        return {"loss_d": loss.detach(), "supervised": loss.detach()}

    def semi_supervised_step(self, x: torch.Tensor, xl: torch.Tensor, yl: torch.Tensor,
                             opt) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.generator(self.prior(x.shape[0]))
        n = x.shape[0]
        logits_real, _ = self.class_logits(torch.cat([x, xl]))  # one pass: the same batch statistics
        logits_fake, _ = self.class_logits(fake)
        r, f = L.real_logit_from_classes(logits_real), L.real_logit_from_classes(logits_fake)
        unsupervised = L.d_loss_bce(r, f)
        supervised = F.cross_entropy(logits_real[n:], yl)
        loss = unsupervised + self.config.supervised_weight * supervised
        backward_step(loss, opt)
        return {"loss_d": loss.detach(), "supervised": supervised.detach(), "unsupervised": unsupervised.detach(),
                "d_real": r.detach().mean(), "d_fake": f.detach().mean()}

    def generator_step(self, x: torch.Tensor, opt, step: int) -> dict[str, torch.Tensor]:
        self.discriminator.requires_grad_(False)
        try:
            f, f_feat = self.judge(self.generator(self.prior(x.shape[0])))
            if self.config.feature_matching:
                with torch.no_grad():
                    _, r_feat = self.judge(x)
                loss = L.feature_matching(r_feat, f_feat)
            else:
                loss = L.generator_loss(self.config.loss, f)
            backward_step(loss, opt)
        finally:
            self.discriminator.requires_grad_(True)
        if self.ema_generator is not None:
            self.ema_generator.update(self.generator, first=step == 0)
        return {"loss_g": loss.detach()}

    # -- using the model ----------------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        self._need_generator()
        return super().sample(n, generator, condition)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._need_generator()
        return super().decode(z)

    def preview(self, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
        return super().preview(x, seed) if self.generator is not None else {}

    def _need_generator(self) -> None:
        if self.generator is None:
            raise GenlabError("this sgan run is the supervised-only baseline (supervised_only=true): it has no "
                              "generator to sample from")

    @torch.no_grad()
    def classify(self, x: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
        """The averaged D's class of data-space images (N, *shape) -> (N,)."""
        was = self.training
        self.eval()
        try:
            return torch.cat([self.class_logits(self.to_model(part.to(self.device)), average=True)[0].argmax(1).cpu()
                              for part in x.split(chunk)])
        finally:
            self.train(was)

    def evaluate(self, data: Dataset, *, seed: int = 0, **_: Any) -> dict[str, Any]:
        """The classifier's accuracy on the test set, with the number of training labels it had."""
        if data.test_labels is None:
            raise ConfigError(f"sgan's evaluation needs test labels; {data.name} has none")
        predicted = self.classify(data.test)
        return {"accuracy": float((predicted == data.test_labels).double().mean()), "labels": self.spec.labels,
                "n_test": int(data.test.shape[0]),
                "classifier": "D alone on the labels (supervised_only)" if self.config.supervised_only else "SGAN's D"}
