"""Feature networks for image metrics: one small classifier per labelled image data set.

FID, KID, precision/recall, density/coverage and the classifier score (see
:mod:`genlab.metrics.images`) are computed in the penultimate layer of a classifier trained on the
data set itself, the way the Inception network is used for ImageNet-like images (Heusel et al.
2017, https://arxiv.org/abs/1706.08500), but small enough to train on a CPU and ship with the
package. Numbers in this feature space are comparable between runs that use the same evaluator
weights, never with Inception-based numbers from papers.

Weights are looked up in this order:
  1. ``$GENLAB_CACHE/evaluators/evaluator-NAME.safetensors`` (or ``~/.cache/genlab/...``): one the
     user trained with ``genlab evaluator train --data NAME``;
  2. ``genlab/assets/evaluator-NAME.safetensors``: shipped with the package (digits, fashion-mnist).
Each file has a JSON sidecar (same name, ``.json``) with the architecture and the test accuracy.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import GenlabError
from genlab.files import atomic_write, atomic_write_text

FORMAT_VERSION = 1
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_EPOCHS = {"digits": 40, "mnist": 8, "fashion-mnist": 12, "cifar10": 30, "toonfaces": 8}
QUICK_STEPS = 200  # --quick: a few hundred optimiser steps, for tests


def canonical_name(name: str) -> str:
    """The data set key used in evaluator file names ("Fashion_MNIST" -> "fashion-mnist"; an image
    folder -> "folder-NAME-HASH", HASH from its absolute path)."""
    if "/" in name or "\\" in name or Path(name).expanduser().is_dir():
        import hashlib

        path = Path(name).expanduser().resolve()
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        return f"folder-{canonical_name(path.name) or 'root'}-{digest}"
    return name.strip().lower().replace("_", "-")


def _file_stem(name: str) -> str:
    return f"evaluator-{canonical_name(name)}"


def cache_dir() -> Path:
    """Where ``genlab evaluator train`` writes by default: ``$GENLAB_CACHE/evaluators``."""
    from genlab.data.locate import cache_root

    return cache_root() / "evaluators"


def default_path(name: str, *, ship: bool = False) -> Path:
    """Weights file for data set ``name``: in the user cache, or in the package with ``ship``."""
    return (ASSETS_DIR if ship else cache_dir()) / f"{_file_stem(name)}.safetensors"


# -- the network ------------------------------------------------------------------------------------


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class FeatureNet(nn.Module):
    """A small CNN classifier whose penultimate layer is the feature space of the image metrics.

    Input: float images (N, C, H, W) in [0, 1] (uint8 in [0, 255] also accepted), any H, W >= 4.
    ``forward`` returns the features (N, feature_dim) (post-ReLU, like Inception's pool3), which is
    what torchmetrics' FID/KID expect from a custom ``feature`` module; ``logits`` adds the linear
    head: (N, num_classes). ``num_features`` tells torchmetrics the feature size without a dummy
    forward pass.

    Architecture: three conv-BN-ReLU blocks of ``width``, ``2 width``, ``4 width`` channels with
    2x2 max-pooling after the first two (28 -> 14 -> 7, 8 -> 4 -> 2), adaptive average pooling to
    2x2, a linear layer to ``feature_dim`` + ReLU, dropout (training only), a linear layer to
    ``num_classes`` scores plus, with ``outlier_class``, one for "no class" trained on synthetic
    outliers (see :func:`_loss`); ``head`` and ``logits`` leave that last score out.
    """

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, *, width: int = 16,
                 feature_dim: int = 128, dropout: float = 0.3, outlier_class: bool = True):
        super().__init__()
        c, h, w = in_shape
        if min(h, w) < 4:
            raise GenlabError(f"the evaluator needs images of at least 4x4 pixels, got {h}x{w}")
        self.in_shape = (int(c), int(h), int(w))
        self.num_classes, self.width, self.feature_dim = int(num_classes), int(width), int(feature_dim)
        self.outlier_class = bool(outlier_class)
        self.num_features = self.feature_dim  # read by torchmetrics FID
        self.trunk = nn.Sequential(
            _block(c, width), nn.MaxPool2d(2),
            _block(width, 2 * width), nn.MaxPool2d(2),
            _block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(16 * width, feature_dim), nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(feature_dim, num_classes + self.outlier_class)
        self.vocab = None  # a tag evaluator: its TagVocab, num_classes = its number of tags

    def config(self) -> dict[str, Any]:
        return {"in_shape": list(self.in_shape), "num_classes": self.num_classes, "width": self.width,
                "feature_dim": self.feature_dim, "outlier_class": self.outlier_class}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features: (N, C, H, W) in [0, 1] -> (N, feature_dim)."""
        if x.dtype == torch.uint8:
            x = x.float() / 255
        return self.trunk(x * 2 - 1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Class scores from features: (N, feature_dim) -> (N, num_classes), without the outlier class."""
        return self.out(features)[:, :self.num_classes]

    def logits(self, x: torch.Tensor, *, with_outlier: bool = False) -> torch.Tensor:
        """Class scores: (N, C, H, W) -> (N, num_classes), or (N, num_classes + 1) with the outlier
        class last when ``with_outlier`` (training)."""
        z = self.out(self.dropout(self(x)))
        return z if with_outlier else z[:, :self.num_classes]


# -- training ---------------------------------------------------------------------------------------


def _shift(x: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """Light augmentation: every image translated by its own whole-pixel offset in
    [-max_shift, max_shift]^2, zeros shifted in. (N, C, H, W) -> same; no per-sample loop."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    d = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=g).to(x.dtype)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2], theta[:, 1, 2] = -2 * d[:, 0] / w, -2 * d[:, 1] / h  # normalised coordinates
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _outliers(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Synthetic images that belong to no class, for outlier exposure: per image one of uniform
    noise, Gaussian noise of random mean and spread, ``x`` with its pixels shuffled, or smooth
    random blobs (noise at 1/4 resolution, upsampled). (N, C, H, W) in [0, 1] -> same."""
    n, c, h, w = x.shape
    uniform = torch.rand(x.shape, generator=g)
    mean, spread = torch.rand(2, n, 1, 1, 1, generator=g)
    gauss = (mean + 0.5 * spread * torch.randn(x.shape, generator=g)).clamp(0, 1)
    order = torch.rand(n, 1, h * w, generator=g).argsort(dim=2).expand(-1, c, -1)  # one permutation per image
    shuffled = x.flatten(2).gather(2, order).view_as(x)
    low = torch.rand(n, c, max(2, h // 4), max(2, w // 4), generator=g)
    blobs = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    kind = torch.randint(0, 4, (n,), generator=g)
    return torch.stack([uniform, gauss, shuffled, blobs])[kind, torch.arange(n)]


def _loss(model: FeatureNet, x: torch.Tensor, y: torch.Tensor, g: torch.Generator, max_shift: int,
          oe_weight: float) -> torch.Tensor:
    if model.vocab is not None:  # tags (B, T): one cross-entropy per exclusive group, a binary one per other tag
        from genlab.models.conditions import tag_loss

        return tag_loss(model.logits(_shift(x, max_shift, g)), y, model.vocab)
    return _class_loss(model, x, y, g, max_shift, oe_weight)


def _class_loss(model: FeatureNet, x: torch.Tensor, y: torch.Tensor, g: torch.Generator, max_shift: int,
                oe_weight: float) -> torch.Tensor:
    """Cross-entropy on shifted images x (B, C, H, W) with labels y (B,), plus outlier exposure on
    B/4 synthetic outliers (:func:`_outliers`), weighted by ``oe_weight``: cross-entropy to the extra
    "no class" output, and from the uniform distribution over the real classes (Hendrycks et al.
    2019, https://arxiv.org/abs/1812.04606, section 3). With the uniform term alone, noise features
    collapse onto the low-confidence real images and precision of pure noise comes out near 1;
    the extra class gives noise-like images features of their own, away from every real image.
    Real images and outliers share one forward pass (and so the batch-norm statistics)."""
    x = _shift(x, max_shift, g)
    n_out = x.shape[0] // 4 if oe_weight > 0 else 0
    if n_out:
        x = torch.cat([x, _outliers(x[:n_out], g)])
    logits = model.logits(x, with_outlier=model.outlier_class)
    loss = F.cross_entropy(logits[:len(y)], y)
    if n_out:
        z, k = logits[len(y):], model.num_classes
        if model.outlier_class:
            loss = loss + oe_weight * F.cross_entropy(z, torch.full((n_out,), k))
        loss = loss - oe_weight * z[:, :k].log_softmax(dim=1).mean()
    return loss


@torch.no_grad()
def accuracy(model: FeatureNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` (N, C, H, W) whose arg-max class equals ``labels`` (N,)."""
    was = model.training
    model.eval()
    preds = torch.cat([model.logits(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
    model.train(was)
    return float((preds == labels).double().mean())


@torch.no_grad()
def tag_accuracy(model: FeatureNet, images: torch.Tensor, tags: torch.Tensor, batch_size: int = 500) -> dict[str, float]:
    """A tag evaluator's accuracy on ``images`` (N, C, H, W) against multi-hot ``tags`` (N, T):
    group name -> how often it names the group's value (or none), tag -> how often it says
    whether each other tag is on."""
    from genlab.models.conditions import tag_predict

    was = model.training
    model.eval()
    pred = torch.cat([tag_predict(model.logits(images[i:i + batch_size]), model.vocab)
                      for i in range(0, len(images), batch_size)])
    model.train(was)
    return agreement(pred, tags, model.vocab)


def agreement(pred: torch.Tensor, tags: torch.Tensor, vocab) -> dict[str, float]:
    """Per tag group (its name) and per other tag: the fraction of rows of multi-hot ``pred``
    (N, T) that agree with ``tags`` (N, T) on it."""
    out = {}
    for group in vocab.groups:
        m = list(group.members)
        out[group.name] = float((pred[:, m] == tags[:, m]).all(1).double().mean())
    for i in vocab.binary:
        out[vocab.names[i]] = float((pred[:, i] == tags[:, i]).double().mean())
    return out


def _labelled_images(name: str, data_dir: str | None, image_size: int | None = None, min_tag_count: int | None = None):
    from genlab.data import load_dataset

    data = load_dataset(name, data_dir=data_dir, image_size=image_size,
                        **({"min_tag_count": min_tag_count} if min_tag_count is not None else {}))
    if data.kind != "image" or ((data.train_labels is None or data.num_classes is None) and data.tags is None):
        raise GenlabError(f"an evaluator is a classifier: it needs a labelled image data set (digits, mnist, "
                          f"fashion-mnist, cifar10) or a tagged one (toonfaces, a folder with a tags file), "
                          f"and {name!r} has neither class labels nor tags")
    return data


def train_evaluator(name: str, *, epochs: float | None = None, seed: int = 0, out_path: str | Path | None = None,
                    quick: bool = False, batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 5e-4,
                    width: int = 16, feature_dim: int = 128, augment: bool = True, outlier_exposure: float = 0.5,
                    data_dir: str | None = None, image_size: int | None = None, min_tag_count: int | None = None,
                    command: str | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the feature classifier of data set ``name`` and save it; returns its JSON metadata.

    In-memory training: AdamW with a one-cycle learning-rate schedule, batches drawn by
    ``torch.randperm`` each epoch, random whole-pixel shifts (up to H/14 pixels) as augmentation,
    and outlier exposure with weight ``outlier_exposure`` (0 turns it off; see :func:`_loss`).
    ``quick`` stops after :data:`QUICK_STEPS` steps (tests). The weights go to ``out_path``
    (default: the user cache, see :func:`default_path`) as safetensors, with a JSON sidecar holding
    the architecture, the test accuracy, epochs, seed, versions, date and ``command``.
    The returned dict has ``accuracy`` (test split) and ``path``.
    """
    key = canonical_name(name)
    data = _labelled_images(name, data_dir, image_size, min_tag_count)
    epochs = float(epochs if epochs is not None else DEFAULT_EPOCHS.get(key, 20))
    if not epochs > 0:
        raise GenlabError(f"epochs must be > 0, got {epochs}")
    tagged = data.tags is not None
    x, y = data.train, (data.train_tags if tagged else data.train_labels)
    if tagged:  # outlier exposure is written for one class per image
        outlier_exposure = 0.0
    steps_per_epoch = math.ceil(len(x) / batch_size)
    total = max(1, round(epochs * steps_per_epoch))
    if quick:
        total = min(total, QUICK_STEPS)
    out = Path(out_path) if out_path is not None else default_path(key)
    _check_writable(out, create=out_path is None)

    max_shift = round(data.shape[-1] / 14) if augment else 0
    with torch.random.fork_rng(devices=[]):  # the global RNG (initial weights, dropout) seeded, then restored
        torch.manual_seed(seed)
        model = FeatureNet(data.shape, len(data.tags.names) if tagged else data.num_classes, width=width,
                           feature_dim=feature_dim, outlier_class=outlier_exposure > 0)
        model.vocab = data.tags
        _fit(model, x, y, total=total, batch_size=batch_size, lr=lr, weight_decay=weight_decay, max_shift=max_shift,
             oe_weight=outlier_exposure, g=torch.Generator().manual_seed(seed), log=log)
    if tagged:  # per group and tag; the mean of them as the one number
        test_tags, train_tags = tag_accuracy(model, data.test, data.test_tags), tag_accuracy(model, x, y)
        scores = {"test_accuracy": sum(test_tags.values()) / len(test_tags), "test_tag_accuracy": test_tags,
                  "train_accuracy": sum(train_tags.values()) / len(train_tags), "tags": data.tags.to_dict()}
    else:
        scores = {"test_accuracy": accuracy(model, data.test, data.test_labels),
                  "train_accuracy": accuracy(model, data.train, data.train_labels)}
    meta = {
        "format": FORMAT_VERSION, "data": key, **model.config(), **scores, "n_test": len(data.test),
        "epochs": round(total / steps_per_epoch, 4), "steps": total, "batch_size": batch_size, "lr": lr,
        "weight_decay": weight_decay, "augment_max_shift": max_shift,
        "outlier_exposure": outlier_exposure, "seed": seed, "quick": quick,
        "torch": torch.__version__, "genlab": _genlab_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command or f"genlab.metrics.evaluator.train_evaluator({key!r}, epochs={epochs}, seed={seed})",
    }
    save_evaluator(model, out, meta)
    return {**meta, "accuracy": meta["test_accuracy"], "path": str(out)}


def _fit(model: FeatureNet, x: torch.Tensor, y: torch.Tensor, *, total: int, batch_size: int, lr: float,
         weight_decay: float, max_shift: int, oe_weight: float, g: torch.Generator,
         log: Callable[[str], None] | None) -> None:
    """``total`` AdamW steps with a one-cycle schedule on images x (N, C, H, W), labels y (N,);
    a fresh ``torch.randperm`` order each epoch, drawn from ``g`` like the augmentation."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    model.train()
    perm = torch.empty(0, dtype=torch.long)
    for step in range(total):
        if step % steps_per_epoch == 0:
            perm = torch.randperm(len(x), generator=g)
        idx = perm[(step % steps_per_epoch) * batch_size:][:batch_size]
        loss = _loss(model, x[idx], y[idx], g, max_shift, oe_weight)
        if not torch.isfinite(loss):
            raise GenlabError(f"evaluator training diverged at step {step} (loss {loss.item()}); try a lower lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and ((step + 1) % steps_per_epoch == 0 or step + 1 == total):
            log(f"step {step + 1}/{total} (epoch {(step + 1) / steps_per_epoch:.2f}): loss {loss.item():.4f}")
    model.eval()


def _genlab_version() -> str:
    import genlab

    return genlab.__version__


def _check_writable(out: Path, create: bool) -> None:
    """Fail before training, not after: a .safetensors name in an existing directory (the default
    cache directory is created)."""
    if out.suffix != ".safetensors":
        raise GenlabError(f"evaluator weights are written as a .safetensors file, got {out}")
    if not create:
        if not out.parent.is_dir():
            raise GenlabError(f"cannot write {out}: directory {out.parent} does not exist")
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenlabError(f"cannot create {out.parent} ({exc.strerror or exc}); "
                          "pass --out or set $GENLAB_CACHE") from exc


# -- saving and loading -----------------------------------------------------------------------------


def save_evaluator(model: FeatureNet, path: str | Path, meta: dict[str, Any]) -> None:
    """Weights to ``path`` (safetensors) and ``meta`` to ``path.with_suffix('.json')``; each file is
    written to a temporary name and renamed, so a crash never leaves half a file."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata={"data": str(meta.get("data"))}))
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")


def find_evaluator(name: str) -> Path | None:
    """The weights file used for data set ``name``: the user's cache first, then the package."""
    for path in (default_path(name), default_path(name, ship=True)):
        if path.is_file() and path.with_suffix(".json").is_file():
            return path
    return None


def load_evaluator(name: str | None = None, *, path: str | Path | None = None) -> FeatureNet:
    """The feature network of data set ``name`` (or the one at ``path``), in eval mode on the CPU,
    with its JSON metadata as ``.meta`` and the weights file as ``.path``.

    Raises :class:`GenlabError` naming the command to run when no evaluator exists for ``name``,
    or when the file is unreadable or does not match its sidecar.
    """
    if path is None:
        if name is None:
            raise ValueError("give a data set name or a path")
        path = find_evaluator(name)
        if path is None:
            raise GenlabError(
                f"no evaluator (feature network) for data set {canonical_name(name)!r}: train one with "
                f"'genlab evaluator train --data {canonical_name(name)}' (it is saved in {cache_dir()} "
                f"and used from then on), or use features='inception'")
    return _load_file(Path(path))


def _load_file(path: Path) -> FeatureNet:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    side = path.with_suffix(".json")
    try:
        meta = json.loads(side.read_text())
        model = FeatureNet(tuple(meta["in_shape"]), meta["num_classes"], width=meta["width"],
                           feature_dim=meta["feature_dim"], outlier_class=meta.get("outlier_class", False))
        model.load_state_dict(load_file(str(path)))
        if meta.get("tags") is not None:
            from genlab.data.tags import TagVocab

            model.vocab = TagVocab.from_dict(meta["tags"])
    except FileNotFoundError as exc:
        raise GenlabError(f"evaluator file missing: {exc.filename}") from exc
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError, GenlabError) as exc:
        raise GenlabError(f"cannot load the evaluator {path} ({type(exc).__name__}: {exc}); "
                          f"retrain it with 'genlab evaluator train'") from exc
    model.eval().requires_grad_(False)
    model.meta, model.path = meta, path
    return model
