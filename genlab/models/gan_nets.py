"""Generator and discriminator networks: MLPs for points and small images, DCGAN for images.

DCGAN rules (Radford et al. 2015, https://arxiv.org/abs/1511.06434, section 3): no pooling,
strided convolutions in D and fractionally-strided (transposed) ones in G, batch norm in both
(not on D's input layer nor G's output layer), no fully connected hidden layers, ReLU in G with
a tanh output, LeakyReLU(0.2) in D. G projects z to a 4x4 (7x7 for 28 pixels) map of 8*ngf
channels (for 64 pixels) and doubles the size up to the image.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.nets import conv_sizes


def _act(name: str) -> nn.Module:
    return nn.LeakyReLU(0.2) if name == "leaky_relu" else nn.ReLU()


class MLPGenerator(nn.Module):
    """z (B, Z) -> x (B, *shape); tanh output for images in [-1, 1], linear for points."""

    def __init__(self, z_dim: int, shape: tuple[int, ...], hidden: tuple[int, ...], act: str = "relu",
                 tanh: bool = False):
        super().__init__()
        self.shape = shape
        layers: list[nn.Module] = []
        d = z_dim
        for h in hidden:
            layers += [nn.Linear(d, h), _act(act)]
            d = h
        layers.append(nn.Linear(d, math.prod(shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class GaussianNoise(nn.Module):
    """x + N(0, std^2) while training, x at evaluation (Salimans et al. 2016's MNIST discriminator)."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


def _mlp(in_dim: int, hidden: tuple[int, ...], act: str, outputs: int = 1,
         noise: tuple[float, float] = (0.0, 0.0)) -> nn.Sequential:
    """Linear layers of ``hidden`` widths and ``act``; with ``noise`` (input std, hidden std), Gaussian
    noise before every linear layer while training. The last two modules are the output layer and
    what feeds it (the features)."""
    layers: list[nn.Module] = []
    d = in_dim
    for i, h in enumerate(hidden):
        if noise[i > 0] > 0:
            layers.append(GaussianNoise(noise[i > 0]))
        layers += [nn.Linear(d, h), _act(act)]
        d = h
    if hidden and noise[1] > 0:
        layers.append(GaussianNoise(noise[1]))
    layers.append(nn.Linear(d, outputs))
    return nn.Sequential(*layers)


class MLPDiscriminator(nn.Module):
    """x (B, *shape) -> (B,) raw score (or (B, outputs) scores: SGAN's class logits); with
    packing, x holds ``pack`` examples side by side.

    With ``single`` widths and pack p > 1, the score of a pack is the joint MLP's score of the
    concatenated pack plus the sum of a per-example MLP's scores of its p members:
    D(x_1..x_p) = D_joint(x_1, ..., x_p) + sum_i D_single(x_i). The joint term sees diversity
    (PacGAN); the per-example term judges each example alone at full resolution, so one off-mode
    sample in a pack is as easy to reject as without packing.
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], act: str = "leaky_relu", pack: int = 1,
                 single: tuple[int, ...] = (), outputs: int = 1, noise: tuple[float, float] = (0.0, 0.0)):
        super().__init__()
        if outputs > 1 and single and pack > 1:
            raise ValueError("several outputs and a per-example head do not go together")
        self.net = _mlp(in_dim, hidden, act, outputs, noise)
        self.pack = pack
        self.single = _mlp(in_dim // pack, single, act) if single and pack > 1 else None

        self.feature_dim = hidden[-1] if hidden else in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.judge(x)[0]

    def judge(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(score (B,), features (B, feature_dim)): the trunk's last hidden layer feeds the score
        head and any other head (a projection, a class head)."""
        x = x.flatten(1)  # (B, p * D)
        features = self.net[:-1](x)
        out = self.net[-1](features)
        out = out.squeeze(1) if out.shape[1] == 1 else out
        if self.single is not None:
            each = self.single(x.reshape(x.shape[0] * self.pack, -1))  # (B * p, 1)
            out = out + each.view(x.shape[0], self.pack).sum(1)
        return out, features


def _norm2d(kind: str, channels: int, size: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-example normalisation: safe with a gradient penalty
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift also depend on the condition c (B, k): gamma + W_g c,
    beta + W_b c (de Vries et al. 2017, https://arxiv.org/abs/1707.00683; the projection cGAN's G,
    Miyato & Koyama 2018, https://arxiv.org/abs/1802.05637). c reaches every layer of G, not only
    its input."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)
        self.embed = nn.Linear(cond_dim, 2 * channels, bias=False)  # c -> (d_gamma, d_beta)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        d_gamma, d_beta = self.embed(c.to(x.dtype)).chunk(2, 1)  # (B, C) each
        return self.norm(x) * (1 + d_gamma[:, :, None, None]) + d_beta[:, :, None, None]


class DCGANGenerator(nn.Module):
    """z (B, Z) -> (B, C, S, S) in [-1, 1]. With ``cond_dim`` = k, the last k inputs are the
    condition, which also sets every batch norm's scale and shift (conditional batch norm)."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], ngf: int = 64, norm: str = "batch",
                 cond_dim: int = 0):
        super().__init__()
        c, s, _ = shape
        sizes = conv_sizes(s)  # e.g. 64 -> [64, 32, 16, 8, 4]; 28 -> [28, 14, 7]
        n = len(sizes) - 1
        ch = ngf * 2 ** (n - 1)

        def norm_layer(channels: int, size: int) -> nn.Module:
            return ConditionalBatchNorm2d(channels, cond_dim) if cond_dim else _norm2d(norm, channels, size)

        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, sizes[-1], 1, 0, bias=False),  # (B, Z, 1, 1) -> (B, ch, s0, s0)
            norm_layer(ch, sizes[-1]), nn.ReLU(True)]
        for i in range(n):
            src, dst = sizes[n - i], sizes[n - i - 1]
            last = i == n - 1
            out = c if last else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, output_padding=dst - 2 * src, bias=last))
            layers += [nn.Tanh()] if last else [norm_layer(out, dst), nn.ReLU(True)]
            ch = out
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim
        self.cond_dim = cond_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z.view(-1, self.z_dim, 1, 1)
        if not self.cond_dim:
            return self.net(h)
        c = z[:, self.z_dim - self.cond_dim:]  # (B, k): the condition part of G's input
        for layer in self.net:
            h = layer(h, c) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h


TILE_EMBED = 128  # the width a tiled condition is embedded to (Reed et al. 2016 use 128)


class DCGANDiscriminator(nn.Module):
    """(B, C, S, S) -> (B,) raw score (or (B, outputs) scores: SGAN's class logits); C is
    channels * pack with packing."""

    def __init__(self, shape: tuple[int, int, int], ndf: int = 64, norm: str = "batch", outputs: int = 1,
                 tile_dim: int = 0, tile_at: int = 0):
        super().__init__()
        c, s, _ = shape
        sizes = conv_sizes(s)
        tile_at = tile_at or sizes[-1]
        if tile_at not in sizes[1:]:
            raise ConfigError(f"tile_at must be the side of one of D's feature maps ({', '.join(map(str, sizes[1:]))}) "
                              f"for {s} x {s} images, got {tile_at}")
        layers: list[nn.Module] = []
        ch = c
        for i in range(len(sizes) - 1):
            out = ndf * 2**i
            layers.append(nn.Conv2d(ch, out, 4, 2, 1, bias=i == 0 or norm == "none"))
            if i > 0:  # no normalisation on the input layer
                layers.append(_norm2d(norm, out, sizes[i + 1]))
            layers.append(nn.LeakyReLU(0.2, True))
            ch = out
            if sizes[i + 1] == tile_at:
                self.tile_after, tile_ch = len(layers), ch  # the trunk's layers before the tiled map
        layers.append(nn.Conv2d(ch, outputs, sizes[-1], 1, 0))  # (B, ch, s0, s0) -> (B, outputs, 1, 1)
        self.net = nn.Sequential(*layers)
        self.feature_dim = ch * sizes[-1] ** 2
        # a condition embedded (a linear layer and rectification), tiled onto a feature map (the last
        # by default) and mixed in by a 1x1 convolution with D's normalisation (Reed et al. 2016,
        # https://arxiv.org/abs/1605.05396, section 4.1)
        self.embed = nn.Sequential(nn.Linear(tile_dim, TILE_EMBED), nn.LeakyReLU(0.2, True)) if tile_dim else None
        self.mix = nn.Sequential(nn.Conv2d(tile_ch + TILE_EMBED, tile_ch, 1, bias=norm == "none"),
                                 _norm2d(norm, tile_ch, tile_at), nn.LeakyReLU(0.2, True)) if tile_dim else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.judge(x)[0]

    def judge(self, x: torch.Tensor, tile: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(score (B,), features (B, ch * s0 * s0)): the trunk's last feature map, flattened,
        feeds the score head and any other head (a projection, a class head). ``tile`` (B, k):
        a condition tiled onto the map of side ``tile_at`` (``tile_dim`` = k)."""
        h = self.net[:self.tile_after](x)  # (B, ch_t, t, t): the map the condition is tiled onto
        if self.mix is not None:
            e = self.embed(tile.to(h.dtype))  # (B, TILE_EMBED)
            h = self.mix(torch.cat([h, e[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1))
        h = self.net[self.tile_after:-1](h)  # (B, ch, s0, s0)
        out = self.net[-1](h).flatten(1)
        return out.squeeze(1) if out.shape[1] == 1 else out, h.flatten(1)


class MappedGenerator(nn.Module):
    """G with a mapping network in front (StyleGAN, Karras et al. 2018, https://arxiv.org/abs/1812.04948,
    section 2): an MLP maps the noise z (B, Z) to w (B, Z), which the synthesis network takes in z's
    place; a condition after the noise (B, k) goes to the synthesis network as it is. w need not be
    Gaussian, so G can lay attributes out along straighter lines in w than in z (the paper's
    linear separability, section 4.2): attribute directions can be found in w (genlab.directions)."""

    def __init__(self, synthesis: nn.Module, z_dim: int, layers: int, width: int):
        super().__init__()
        dims = [z_dim] + [width] * (layers - 1) + [z_dim]
        mlp: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            linear = nn.Linear(a, b)
            nn.init.kaiming_normal_(linear.weight, a=0.2)  # He init for LeakyReLU(0.2): w keeps z's scale
            nn.init.zeros_(linear.bias)
            mlp += [linear, nn.LeakyReLU(0.2)]
        self.mapping = nn.Sequential(*mlp)
        self.synthesis = synthesis
        self.z_dim = z_dim

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """w (B, Z) of noise z (B, Z); z is normalised to the sphere of radius sqrt(Z) first (pixel norm)."""
        return self.mapping(z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.synthesis(torch.cat([self.map(latent[:, :self.z_dim]), latent[:, self.z_dim:]], 1))


def spectral_normalize(module: nn.Module) -> nn.Module:
    """Spectral normalisation of every linear and convolutional layer of ``module`` (in place):
    W / sigma(W) with sigma estimated by one power iteration per training forward pass
    (Miyato et al. 2018, https://arxiv.org/abs/1802.05957). Bounds D's Lipschitz constant layer by
    layer, so D cannot become arbitrarily sharp and starve G (mission section 4)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, spectral_norm(child))
        else:
            spectral_normalize(child)
    return module


def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02) (DCGAN paper, section 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):  # (a conditional batch norm's too)
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
