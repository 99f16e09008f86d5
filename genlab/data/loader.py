"""An in-memory batch stream with a resumable position (for bit-exact resume)."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Batch(NamedTuple):
    x: torch.Tensor  # (B, *shape) on the training device
    y: torch.Tensor | None  # (B,) int64 labels, (B, T) multi-hot tags, or None for unlabelled data


class BatchStream:
    """Endless shuffled minibatches drawn from tensors held in memory.

    Each epoch is a fresh permutation from a private ``torch.Generator``; the last incomplete
    batch of an epoch is dropped so every step sees ``batch_size`` examples. With ``binarize``
    each pixel is redrawn as Bernoulli(x) every time it is seen (dynamic binarisation, as in
    IWAE, Burda et al. 2015). ``state_dict`` captures the generator, permutation and position,
    so a resumed stream yields exactly the batches the uninterrupted one would have.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, *, seed: int,
                 device: torch.device | str = "cpu", binarize: bool = False, rank: int = 0,
                 world_size: int = 1, memory_format: torch.memory_format = torch.contiguous_format):
        n = x.shape[0]
        if n == 0:
            raise ValueError("empty data")
        self.x, self.y = x, y
        # Under torch.distributed every rank draws the same permutation (same seed) and takes its
        # own slice of each global batch of world_size * batch_size examples, as DistributedSampler.
        self.rank, self.world_size = rank, world_size
        self.batch_size = min(batch_size, n // world_size)
        self.device = torch.device(device)
        self.binarize = binarize
        self.memory_format = memory_format if x.dim() == 4 else torch.contiguous_format
        self.generator = torch.Generator().manual_seed(seed)  # permutations: the same on every rank
        self.noise = torch.Generator().manual_seed(seed + 1 + rank)  # binarisation draws: per rank
        self.epoch = 0
        self.position = 0
        self.perm = torch.randperm(n, generator=self.generator)
        self.batches_drawn = 0
        # a second stream over the examples that kept their labels (a label budget), drawn by
        # models that ask for it (GenerativeModel.labelled_stream); saved and restored with this one
        self.labelled: BatchStream | None = None

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world_size

    @property
    def batches_per_epoch(self) -> int:
        return self.x.shape[0] // self.global_batch

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> Batch:
        if self.position + self.global_batch > self.perm.numel():
            self.epoch += 1
            self.position = 0
            self.perm = torch.randperm(self.x.shape[0], generator=self.generator)
        start = self.position + self.rank * self.batch_size
        idx = self.perm[start:start + self.batch_size]
        self.position += self.global_batch
        self.batches_drawn += 1
        x = self.x[idx]
        if self.binarize:
            x = torch.bernoulli(x, generator=self.noise)
        y = self.y[idx].to(self.device, non_blocking=True) if self.y is not None else None
        x = x.to(self.device, non_blocking=True)
        if self.memory_format is not torch.contiguous_format:
            x = x.contiguous(memory_format=self.memory_format)
        return Batch(x, y)

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "noise": self.noise.get_state(),
            "perm": self.perm.clone(),
            "epoch": torch.tensor(self.epoch),
            "position": torch.tensor(self.position),
            "batches_drawn": torch.tensor(self.batches_drawn),
            **({"labelled": self.labelled.state_dict()} if self.labelled is not None else {}),
        }

    def load_state_dict(self, state: dict) -> None:
        if state["perm"].numel() != self.x.shape[0]:
            raise ValueError("the data set has a different size than when the checkpoint was saved")
        self.generator.set_state(state["generator"])
        self.noise.set_state(state["noise"])
        self.perm = state["perm"].clone()
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self.batches_drawn = int(state["batches_drawn"])
        if (self.labelled is None) != ("labelled" not in state):
            raise ValueError("the checkpoint's labelled stream does not match this run's label budget")
        if self.labelled is not None:
            self.labelled.load_state_dict(state["labelled"])
