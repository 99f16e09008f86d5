"""Variational auto-encoder (Kingma & Welling 2013, https://arxiv.org/abs/1312.6114;
Rezende et al. 2014, https://arxiv.org/abs/1401.4082).

q(z|x) = N(mu(x), diag sigma^2(x)), p(z) = N(0, I), p(x|z) Bernoulli or Gaussian.
Trained by maximising ELBO = E_q[log p(x|z)] - beta_t KL(q(z|x) || p(z)), with the
reparameterisation z = mu + sigma * eps and a linear KL warm-up beta_t = beta * min(1, t / T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn

from genlab.data.dataset import DataSpec, Dataset
from genlab.data.loader import Batch
from genlab.errors import ConfigError, GenlabError
from genlab.metrics import likelihood  # module import: likelihood itself imports models.losses
from genlab.models import losses
from genlab.models.base import GenerativeModel, StepOutput, fixed_normal
from genlab.models.conditions import beside, make_condition
from genlab.models.nets import ConvDecoder, ConvEncoder, mlp
from genlab.training.precision import backward_step


@dataclass
class VAEConfig:
    net: str = "mlp"  # mlp | conv
    hidden: tuple[int, ...] = (300, 300)  # MLP widths (encoder; the decoder mirrors them)
    width: int = 32  # conv: channels of the first layer, doubled at each halving
    latent_dim: int = 40
    likelihood: str = "bernoulli"  # bernoulli | gaussian
    sigma: float = 0.1  # gaussian decoder: fixed std, or the initial one with learn_sigma
    learn_sigma: bool = False  # gaussian decoder: learn one std per pixel
    beta: float = 1.0  # weight of the KL term (beta-VAE, Higgins et al. 2017)
    warmup_steps: int = 10_000  # KL warm-up: beta grows linearly from 0 over this many steps
    lr: float = 1e-3
    lr_decay: float = 0.5  # lr multiplied by this every lr_decay_every steps (1 = constant)
    lr_decay_every: int = 45_000
    # none | class: c beside x at the encoder and beside z at the decoder, q(z|x, c) and p(x|z, c)
    # (the conditional VAE, Sohn et al. 2015, https://papers.nips.cc/paper/5775)
    condition: str = "none"

    def validate(self) -> None:
        if self.condition not in ("none", "class"):
            raise ConfigError(f"condition must be none or class, got {self.condition!r}")
        if self.net not in ("mlp", "conv"):
            raise ConfigError(f"net must be mlp or conv, got {self.net!r}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ConfigError(f"likelihood must be bernoulli or gaussian, got {self.likelihood!r}")
        if self.latent_dim <= 0:
            raise ConfigError(f"latent_dim must be > 0, got {self.latent_dim}")
        if any(h <= 0 for h in self.hidden) or self.width <= 0:
            raise ConfigError("hidden widths and width must be > 0")
        if not self.sigma > 0:
            raise ConfigError(f"sigma must be > 0, got {self.sigma}")
        if self.beta < 0 or self.warmup_steps < 0:
            raise ConfigError("beta and warmup_steps must be >= 0")
        if not self.lr > 0 or not 0 < self.lr_decay <= 1 or self.lr_decay_every <= 0:
            raise ConfigError("need lr > 0, 0 < lr_decay <= 1 and lr_decay_every > 0")


class VAE(GenerativeModel):
    name = "vae"
    Config = VAEConfig
    eval_options = {"k", "max_examples", "seed"}  # the options of evaluate() (genlab eval's flags)
    # The benchmark recipe (784-300-300-40, Bernoulli, dynamically binarised Fashion-MNIST):
    # see benchmarks/vae_fmnist.
    train_defaults = {"batch_size": 100, "steps": 180_000, "log_every": 500,
                      "sample_every": 10_000, "checkpoint_every": 10_000}

    def __init__(self, config: VAEConfig, spec: DataSpec):
        super().__init__(config, spec)
        if config.net == "conv" and (spec.kind != "image" or len(spec.shape) != 3):
            raise ConfigError("net=conv needs image data; use net=mlp for points")
        m = config.latent_dim
        self.condition = make_condition(config.condition, spec, 0)
        cdim = self.condition.dim if self.condition is not None else 0
        if config.net == "mlp":
            self.encoder = mlp(spec.dim + cdim, config.hidden, 2 * m)
            self.decoder = mlp(m + cdim, tuple(reversed(config.hidden)), spec.dim)
        else:  # the condition as constant channels beside the image
            c, h, w = spec.shape
            self.encoder = ConvEncoder((c + cdim, h, w), 2 * m, config.width)
            self.decoder = ConvDecoder(m + cdim, spec.shape, config.width)
        if config.likelihood == "gaussian":
            log_sigma = torch.full(spec.shape, math.log(config.sigma))
            if config.learn_sigma:
                self.log_sigma = nn.Parameter(log_sigma)
            else:
                self.register_buffer("log_sigma", log_sigma)
        self.event_dims = len(spec.shape)

    # -- the two networks -------------------------------------------------------------------
    def encode(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, *shape) (and conditions (B, K) of a conditional VAE) -> mu, logvar, each (B, M)."""
        x = x.flatten(1) if self.config.net == "mlp" else x
        if self.condition is not None:
            if c is None:
                raise GenlabError("a conditional VAE encodes x with its condition c")
            c = c.to(x.dtype)
            x = torch.cat([x, c if x.dim() == 2 else c[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        h = self.encoder(x).float()  # fp32 under autocast
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        """(..., M) latent codes (z, then the condition of a conditional VAE) -> (..., *shape):
        Bernoulli logits or the Gaussian mean."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, z.shape[-1])).float()  # likelihoods in fp32 under autocast
        return out.view(*lead, *self.spec.shape)

    def with_condition(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """Latent codes: z (..., B, M) and the conditions (B, K) broadcast beside it."""
        return z if c is None else torch.cat([z, c.to(z.dtype).expand(*z.shape[:-1], c.shape[-1])], -1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean E[x|z] in data space: (..., M) -> (..., *shape)."""
        out = self.decoder_output(z)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x|z, c): x (B, *shape), z (..., B, M), c (B, K) or None -> (..., B)."""
        out = self.decoder_output(self.with_condition(z, c))
        if self.config.likelihood == "bernoulli":
            return losses.bernoulli_log_likelihood(out, x, self.event_dims)
        return losses.gaussian_log_likelihood(out, self.log_sigma, x, self.event_dims)

    def log_px_given_z_samples(self, x: torch.Tensor, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x|z, c) for many z at once (likelihood evaluation): z (n, B, M) -> (n, B). The
        decoder runs example-major (z.transpose(0, 1), a view of how the estimator draws z)."""
        if self.config.likelihood == "bernoulli":
            zc = self.with_condition(z.transpose(0, 1), None if c is None else c[:, None])  # (B, n, M + K)
            logits = self.decoder_output(zc)  # (B, n, *shape)
            return losses.bernoulli_log_likelihood_samples(logits, x, self.event_dims).T
        return self.log_px_given_z(x, z, c)

    # -- objective --------------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example E_q[log p(x|z, c)] (one reparameterised sample) and KL(q(z|x, c)||p(z)): (B,), (B,)."""
        mu, logvar = self.encode(x, c)
        z = losses.reparameterize(mu, logvar)
        return self.log_px_given_z(x, z, c), losses.kl_normal_standard(mu, logvar)

    def condition_of_real(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
        return self.condition.of_real(y, x) if self.condition is not None else None

    @torch.no_grad()
    def prepare(self, data: Dataset) -> None:
        if self.condition is not None:
            self.condition.prepare(data)

    def kl_weight(self, step: int) -> float:
        c = self.config
        return c.beta * min(1.0, step / c.warmup_steps) if c.warmup_steps else c.beta

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": torch.optim.Adam(self.parameters(), lr=self.config.lr)}

    def train_step(self, batches: Iterator[Batch], optimizers: dict[str, torch.optim.Optimizer],
                   step: int) -> StepOutput:
        batch = next(batches)
        x, cond = batch.x, self.condition_of_real(batch.y, batch.x)
        opt = optimizers["vae"]
        c = self.config
        lr = c.lr * c.lr_decay ** (step // c.lr_decay_every)  # a function of the step: exact resume
        for group in opt.param_groups:
            group["lr"] = lr
        rec, kl = self.elbo_terms(x, cond)
        beta = self.kl_weight(step)
        loss = -(rec - beta * kl).mean()
        backward_step(loss, opt)
        rec, kl = rec.detach().mean(), kl.detach().mean()
        return {"loss": loss.detach(), "recon": -rec, "kl": kl, "elbo": rec - kl}

    # -- using the model --------------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the posterior mean: (B, *shape) -> (B, *shape)."""
        return self.decode(self.with_condition(self.encode(x, c)[0], c))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """n draws of the decoder mean at z ~ p(z) (and c ~ p(c), or the class ``condition``
        names, for a conditional VAE): (n, *shape)."""
        return self.decode(self.prior(n, generator, condition))

    def prior(self, n: int, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """n latent codes: z ~ N(0, I) (n, latent_dim), then the condition of a conditional VAE.
        From ``generator`` (CPU) when given."""
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(self.device)
        return beside(z, self.condition, condition, generator, self.name)

    def class_grid(self, per_class: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes (K * per_class, M + K): K rows of the same ``per_class`` z, row k of class k."""
        z = self.prior(per_class, generator)[:, :self.config.latent_dim]
        return torch.cat([self.with_condition(z, self.condition.conditions(k, per_class)) for k in range(self.condition.dim)])

    @torch.no_grad()
    def preview(self, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
        if self.condition is not None:  # a class grid; reconstructions need the labels the trainer does not pass
            return {"samples": self.decode(self.class_grid(8, torch.Generator().manual_seed(seed)))}
        z = fixed_normal((x.shape[0], self.config.latent_dim), seed, self.device)
        return {"samples": self.decode(z), "reconstructions": interleave(x, self.reconstruct(x))}

    @torch.no_grad()
    def evaluate(self, data: Dataset, *, k: int = 1000, batch_size: int = 100,
                 max_examples: int | None = None, seed: int = 0, progress: bool = False,
                 **_: Any) -> dict[str, Any]:
        """Test-set ELBO, importance-weighted NLL with ``k`` samples, and reconstruction MSE (nats
        per example, summed over pixels; MSE is per pixel). A conditional VAE's are of x given its
        label: log p(x|c)."""
        x_all = data.test if max_examples is None else data.test[:max_examples]
        y_all = data.test_labels[:x_all.shape[0]] if data.test_labels is not None else None
        if self.condition is not None and y_all is None:
            raise GenlabError(f"a conditional VAE is evaluated with the test labels; {data.name} has none")
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # evaluation is reproducible and leaves the caller's RNG as it was
        elbo_sum = nll_sum = se_sum = 0.0
        try:
            chunks = x_all.split(batch_size)
            for i, x in enumerate(_maybe_tqdm(chunks, progress, f"NLL (k={k}), batches of {batch_size}")):
                x = x.to(self.device)
                c = None if self.condition is None else self.condition_of_real(
                    y_all[i * batch_size:i * batch_size + x.shape[0]].to(self.device), x)
                mu, logvar = self.encode(x, c)
                rec, kl = self.elbo_terms(x, c)
                elbo_sum += float((rec - kl).sum())
                ll = likelihood.importance_log_likelihood(
                    x, mu, logvar, lambda xx, z: self.log_px_given_z_samples(xx, z, c), k=k)
                nll_sum += float(-ll.sum())
                se_sum += float((self.decode(self.with_condition(mu, c)) - x).pow(2).sum())
        finally:
            torch.random.set_rng_state(state)
        n = x_all.shape[0]
        results = {
            "elbo": elbo_sum / n,
            "nll": nll_sum / n,
            "k": k,
            "recon_mse": se_sum / (n * self.spec.dim),
            "n_test": n,
            "binarized": data.binarize,
            "likelihood": self.config.likelihood,
        }
        if self.condition is None and self.spec.kind == "image" and data.train_labels is not None \
                and data.test_labels is not None:  # the encoders' common probe, on q's mean
            from genlab.metrics.probe import encoder_scores

            results.update(encoder_scores(lambda x: self.encode(x.to(self.device))[0], data, seed=seed,
                                          max_examples=max_examples))
        return results


def interleave(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Rows a0, b0, a1, b1, ...: originals beside their reconstructions."""
    return torch.stack([a, b], dim=1).flatten(0, 1)


def _maybe_tqdm(it: Any, on: bool, desc: str) -> Any:
    if not on:
        return it
    from tqdm import tqdm

    return tqdm(it, desc=desc, leave=False, unit="batch")  # with the time left


@dataclass
class CVAEConfig(VAEConfig):
    condition: str = "class"


class CVAE(VAE):
    """The conditional VAE: q(z|x, c), p(x|z, c), p(z) = N(0, I); NLL and ELBO of x given its class."""

    name = "cvae"
    Config = CVAEConfig
