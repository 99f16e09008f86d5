"""Building blocks shared by the models: MLPs and convolutional encoders/decoders.

Convolutional nets halve the spatial size with 4x4 stride-2 convolutions until it is at most
``min_size`` and mirror that with transposed convolutions whose output_padding restores every
odd size exactly, so 8, 28, 32 and 64 pixels (and anything else) round-trip.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genlab.errors import ConfigError


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear -> act -> ... -> Linear."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), act()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def conv_sizes(size: int, min_size: int = 7) -> list[int]:
    """Spatial sizes along the encoder, e.g. 28 -> [28, 14, 7], 32 -> [32, 16, 8, 4], 8 -> [8, 4]."""
    if size <= min_size:
        raise ConfigError(f"the convolutional networks need images of at least {min_size + 1} x {min_size + 1} "
                          f"pixels, got {size} x {size}; choose a larger --image-size")
    sizes = [size]
    while sizes[-1] > min_size:
        sizes.append(math.floor((sizes[-1] + 2 - 4) / 2) + 1)
    return sizes


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, out_dim): stride-2 convolutions, then one linear layer."""

    def __init__(self, shape: tuple[int, int, int], out_dim: int, width: int = 32):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"convolutional nets need square images, got {h}x{w}")
        self.sizes = conv_sizes(h)
        layers: list[nn.Module] = []
        ch = c
        for i in range(len(self.sizes) - 1):
            out = width * 2**i
            layers += [nn.Conv2d(ch, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            ch = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch * self.sizes[-1] ** 2, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    """(B, in_dim) -> (B, C, H, W) pre-activation outputs: a linear projection to the encoder's
    smallest feature map, then transposed convolutions back up to the data size."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], width: int = 32):
        super().__init__()
        c, h, _ = shape
        sizes = conv_sizes(h)
        n = len(sizes) - 1
        self.start = (width * 2 ** max(n - 1, 0), sizes[-1], sizes[-1])
        self.project = nn.Linear(in_dim, math.prod(self.start))
        layers: list[nn.Module] = []
        ch = self.start[0]
        for i in range(n):
            src, dst = sizes[n - i], sizes[n - i - 1]
            last = i == n - 1
            out = c if last else width * 2 ** (n - i - 2)
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, output_padding=dst - 2 * src))
            if not last:
                layers.append(nn.ReLU())
            ch = out
        if n == 0:  # image already small: a 3x3 convolution to the right channel count
            layers.append(nn.Conv2d(ch, c, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.project(z)).view(-1, *self.start)
        return self.body(h)
