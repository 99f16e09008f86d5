"""The contract between a model and the trainer.

A model owns its networks, its optimizers and its training step (as in Mimicry's GANs); the
trainer owns the loop, device, seeds, logging, sampling and checkpoints (as in minGPT's
trainer) and knows nothing about any particular model. A new model is one file defining a
``GenerativeModel`` subclass plus one entry in ``genlab.models.MODELS``.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Iterator

import torch
from torch import nn

from genlab.data.dataset import DataSpec, Dataset
from genlab.errors import ConfigError
from genlab.data.loader import Batch

# One training step's structured output: the loss and its named parts, as detached 0-d tensors
# on the training device (no host sync). Logging, progress bar and metrics.jsonl all read this.
StepOutput = dict[str, torch.Tensor]


class GenerativeModel(nn.Module, abc.ABC):
    """Base class of every genlab model.

    Subclasses set ``name`` and ``Config`` (a dataclass), build their networks in ``__init__``
    from the config and a :class:`DataSpec`, and implement the methods below.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    # Training recipe of this model (TrainConfig fields), applied under the user's settings.
    train_defaults: ClassVar[dict[str, Any]] = {}
    # Recipes for named data sets, above the defaults and under the user's settings:
    # {"toonfaces": {"model_config": {...}, "train": {...}}}
    data_recipes: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    # Batches of real data consumed by one train_step (K + 1 for a GAN with K critic steps).
    batches_per_step: int = 1
    # Options of evaluate() a user can set (genlab eval refuses the others).
    eval_options: ClassVar[set[str]] = set()
    # Learns from a label budget (--labels N): the trainer hangs a stream of the labelled examples
    # on the batch stream (``batches.labelled``); other models refuse a budget.
    labelled_stream: ClassVar[bool] = False

    def __init__(self, config: Any, spec: DataSpec):
        super().__init__()
        self.config = config
        self.spec = spec
        if spec.labels is not None and not self.labelled_stream:
            raise ConfigError(f"--labels (a label budget) applies to models that learn from labelled and unlabelled "
                              f"data together (sgan), not to {self.name}")

    # -- training ---------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Data-dependent set-up, once before the first step of a new run (not on resume: what
        it sets must live in the state dict, so checkpoints carry it). Default: nothing."""

    @abc.abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers; the trainer saves and restores them with the checkpoint."""

    @abc.abstractmethod
    def train_step(self, batches: Iterator[Batch], optimizers: dict[str, torch.optim.Optimizer],
                   step: int) -> StepOutput:
        """One optimisation step: draw the batches it needs, update, return named losses."""

    # -- looking at the model -----------------------------------------------------------------
    @torch.no_grad()
    def preview(self, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
        """Images (or points) to draw during training, from a fixed data batch ``x`` and a
        fixed ``seed`` so consecutive grids are comparable. Must not touch the global RNG."""
        return {}

    @abc.abstractmethod
    def evaluate(self, data: Dataset, **options: Any) -> dict[str, Any]:
        """Test-set metrics as a flat dict of JSON-friendly values."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


def fixed_normal(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    """N(0, I) noise from a private generator: the same tensor every call, global RNG untouched."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).to(device)
