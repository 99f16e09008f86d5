"""Sample-quality metrics for images, computed offline in a feature space.

``score_images(images, data)`` compares generated images with the test split of a data set:

- FID (Heusel et al. 2017, https://arxiv.org/abs/1706.08500) and KID (Binkowski et al. 2018,
  https://arxiv.org/abs/1801.01401) through torchmetrics, with a custom feature module;
- precision and recall (Kynkaanniemi et al. 2019, https://arxiv.org/abs/1904.06991) and density
  and coverage (Naeem et al. 2020, https://arxiv.org/abs/2002.09797) from k-nearest-neighbour
  balls in the same feature space;
- the classifier score exp(E_x KL(p(y|x) || p(y))), the Inception Score (Salimans et al. 2016,
  https://arxiv.org/abs/1606.03498) with the data set's own classifier.

``features="genlab"`` (default) uses the data set's evaluator (:mod:`genlab.metrics.evaluator`):
works offline, numbers comparable between genlab runs only. ``features="inception"`` uses the
Inception-v3 of torch-fidelity (the FID reference network) where it and its weights are installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from genlab.data.dataset import Dataset
from genlab.errors import GenlabError

FEATURES = ("genlab", "inception")
MAX_REAL = 10_000
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # Binkowski et al.: 100 subsets of 1000
INCEPTION_MISSING = (
    "Inception features need the torch-fidelity package and its FID Inception weights "
    "(pt_inception-2015-12-05-6726825d.pth, downloaded on first use into the torch hub cache); install with "
    "'pip install torch-fidelity' on a machine with internet and run once there to fetch the weights, "
    "or use --features genlab")


# -- the pieces, on raw tensors ---------------------------------------------------------------------


def knn_radii(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """NND_k: distance from each row of ``x`` (N, D) to its k-th nearest other row -> (N,).

    The k + 1 smallest distances of a row include the row itself (distance 0), so the k-th
    neighbour is at index k, as in the reference code (github.com/clovaai/generative-evaluation-prdc).
    """
    if x.shape[0] <= k:
        raise GenlabError(f"k-nearest-neighbour metrics with k={k} need more than {k} images, got {x.shape[0]}")
    return torch.cat([torch.cdist(x[i:i + chunk], x).topk(k + 1, dim=1, largest=False).values[:, k]
                      for i in range(0, x.shape[0], chunk)])


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5, chunk: int = 1024,
         real_radii: torch.Tensor | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` (M, D) against ``real`` (N, D) features.

    With B(x, r) the closed ball of radius r around x and NND_k(x) the distance from x to its k-th
    nearest neighbour within its own set (:func:`knn_radii`):

      precision = 1/M sum_j 1[exists i: Y_j in B(X_i, NND_k(X_i))]      (Kynkaanniemi et al. 2019)
      recall    = 1/N sum_i 1[exists j: X_i in B(Y_j, NND_k(Y_j))]      (same, sets swapped)
      density   = 1/(kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]       (Naeem et al. 2020)
      coverage  = 1/N sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]      (Naeem et al. 2020)

    Balls are closed (<=), as Kynkaanniemi et al. write it; the reference code of Naeem et al.
    (github.com/clovaai/generative-evaluation-prdc) uses <, which differs only on exact ties (with
    repeated images a radius can be 0, and < then misses exact copies). Distances in float64, real
    rows in chunks of ``chunk`` (memory chunk x M). ``real_radii`` (N,) may be passed precomputed.
    """
    real, fake = real.double(), fake.double()
    r_real = knn_radii(real, k, chunk) if real_radii is None else real_radii.double()
    r_fake = knn_radii(fake, k, chunk)
    counts = torch.zeros(fake.shape[0], dtype=torch.float64)  # real balls holding each fake
    recalled, covered = [], []
    for i in range(0, real.shape[0], chunk):
        d = torch.cdist(real[i:i + chunk], fake)  # (c, M)
        in_real_ball = d <= r_real[i:i + chunk, None]
        counts += in_real_ball.sum(0)
        covered.append(in_real_ball.any(1))
        recalled.append((d <= r_fake[None, :]).any(1))
    return {
        "precision": float((counts > 0).double().mean()),
        "recall": float(torch.cat(recalled).double().mean()),
        "density": float(counts.sum() / (k * fake.shape[0])),
        "coverage": float(torch.cat(covered).double().mean()),
    }


def classifier_score(logits: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) with p(y|x) = softmax(logits) (N, K) and p(y) its mean over x.

    The Inception Score of Salimans et al. 2016 (https://arxiv.org/abs/1606.03498, section 4),
    computed over all N samples in one split. 1 when every sample gets the same prediction; K
    when predictions are confident one-hots spread evenly over the K classes.
    """
    p = logits.double().softmax(dim=1)
    p_y = p.mean(dim=0, keepdim=True)
    kl = (torch.special.xlogy(p, p) - torch.special.xlogy(p, p_y)).sum(dim=1)  # 0 log 0 = 0
    return float(kl.mean().exp())


# -- the reference side: real features and metric states, cached ------------------------------------


@dataclass
class _Reference:
    """FID/KID metrics holding the real images' statistics (``reset_real_features=False``, so
    ``reset()`` clears only the generated side), plus the real features for PRDC."""

    fid: Any
    kid: Any
    real_features: torch.Tensor  # (N, D)
    score: Callable[[torch.Tensor, torch.Tensor], float]  # generated features, images -> classifier score
    source: str
    prepare: Callable[[torch.Tensor], torch.Tensor] = lambda x: x  # images as the feature network takes them
    radii: dict[int, torch.Tensor] = field(default_factory=dict)  # k -> NND_k of the real features

    def real_radii(self, k: int) -> torch.Tensor:
        if k not in self.radii:
            self.radii[k] = knn_radii(self.real_features.double(), k)
        return self.radii[k]


class _Memo(nn.Module):
    """Wraps a feature module and remembers its last call, so that FID and KID, which are updated
    one after the other with the same batch tensor, run the network once per batch."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module, self.num_features = module, module.num_features
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._last is None or self._last[0] is not x:
            self._last = (x, self.module(x))
        return self._last[1]

    def forget(self) -> None:
        self._last = None


_CACHE: dict[tuple, _Reference] = {}  # one entry: the last reference used


def _metrics(feature: nn.Module | int) -> tuple[Any, Any]:
    """torchmetrics FID and KID on ``feature``: a module mapping float images in [0, 1] to (N, D)
    (torchmetrics passes float inputs to a custom module unchanged), or 2048 for Inception pool3
    (``normalize=True`` makes torchmetrics convert [0, 1] floats to the uint8 Inception expects)."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    fid = FrechetInceptionDistance(feature=feature, normalize=True, reset_real_features=False)
    with warnings.catch_warnings():  # "KID will save all extracted features": 10,000 x D, fine
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=feature, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE,
                                      normalize=True, reset_real_features=False)
    return fid.eval(), kid.eval()


def _fill_real(fid: Any, kid: Any, real: torch.Tensor, batch_size: int) -> torch.Tensor:
    from torchmetrics.utilities import dim_zero_cat

    for i in range(0, real.shape[0], batch_size):
        batch = real[i:i + batch_size]  # one tensor for both, see _Memo
        fid.update(batch, real=True)
        kid.update(batch, real=True)
    _forget(fid)
    return dim_zero_cat(kid.real_features)


def _forget(fid: Any) -> None:
    if isinstance(fid.inception, _Memo):
        fid.inception.forget()


def _genlab_reference(data: Dataset, real: torch.Tensor, batch_size: int) -> _Reference:
    from genlab.metrics.evaluator import load_evaluator

    if data.num_classes is None and data.tags is None:
        raise GenlabError(
            f"the genlab features come from a classifier trained on a labelled or tagged data set (digits, mnist, "
            f"fashion-mnist, cifar10, toonfaces, a folder with a tags file), and {data.name} has neither labels nor "
            f"tags; use features='inception' (--features inception)")
    net = load_evaluator(data.name)
    if tuple(net.in_shape) != tuple(data.shape):
        raise GenlabError(
            f"the {data.name} evaluator takes {_fmt(net.in_shape)} images, but this data set has "
            f"{_fmt(data.shape)} (resized or converted?); score at the original size, or train an evaluator "
            f"for this size with 'genlab evaluator train'")
    fid, kid = _metrics(_Memo(net))
    real_features = _fill_real(fid, kid, real, batch_size)

    # a tag evaluator's classifier score: over its largest tag group (the hair colour)
    if net.vocab is not None and net.vocab.groups:
        from genlab.models.conditions import largest_group

        scored = list(largest_group(net.vocab).members)
    else:
        scored = slice(None)

    def score(fake_features: torch.Tensor, _: torch.Tensor) -> float:
        return classifier_score(net.head(fake_features)[:, scored])

    return _Reference(fid, kid, real_features, score, str(net.path))


def _has_torch_fidelity() -> bool:
    return importlib.util.find_spec("torch_fidelity") is not None


def _inception_reference(real: torch.Tensor, batch_size: int) -> _Reference:
    """Untested here: torch-fidelity is not installed on the development machine."""
    if not _has_torch_fidelity():
        raise GenlabError(INCEPTION_MISSING)
    from torchmetrics.image.inception import InceptionScore

    try:
        fid, kid = _metrics(2048)
        inception_score = InceptionScore(feature="logits_unbiased", splits=1, normalize=True).eval()
        real_features = _fill_real(fid, kid, _rgb(real), batch_size)
    except Exception as exc:  # weights missing and no internet: the download fails in many ways
        raise GenlabError(f"{INCEPTION_MISSING} ({type(exc).__name__}: {exc})") from exc

    def score(_: torch.Tensor, images: torch.Tensor) -> float:
        inception_score.reset()
        for i in range(0, images.shape[0], batch_size):
            inception_score.update(_rgb(images[i:i + batch_size]))
        return float(inception_score.compute()[0])

    return _Reference(fid, kid, real_features, score, "inception-v3-compat (torch-fidelity)", _rgb)


def _reference(data: Dataset, real: torch.Tensor, features: str, batch_size: int) -> _Reference:
    key: tuple = (features, hashlib.sha1(real.numpy().tobytes()).hexdigest(), tuple(real.shape))
    if features == "genlab":
        from genlab.metrics.evaluator import find_evaluator

        path = find_evaluator(data.name)
        key += (str(path), path.stat().st_mtime_ns if path else None)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = (_genlab_reference(data, real, batch_size) if features == "genlab"
                       else _inception_reference(real, batch_size))
    return _CACHE[key]


def _rgb(x: torch.Tensor) -> torch.Tensor:
    """Grey (N, 1, H, W) -> (N, 3, H, W) for Inception; RGB unchanged."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


# -- input checks -----------------------------------------------------------------------------------


def _fmt(shape) -> str:
    c, h, w = shape
    return f"{c}x{h}x{w} (CxHxW)"


def _as_dataset(data: Dataset | str) -> Dataset:
    if isinstance(data, str):
        from genlab.data import load_dataset

        data = load_dataset(data)
    if data.kind != "image":
        raise GenlabError(f"image metrics need an image data set; {data.name} holds points "
                          f"(see genlab.metrics.modes for 2-D sets)")
    return data


def _check_images(images: Any, data: Dataset, k: int) -> torch.Tensor:
    """(N, C, H, W) float in [0, 1] or uint8 in [0, 255], matching the data set -> float32 on the CPU."""
    x = torch.as_tensor(images).detach().cpu()
    if x.dim() != 4:
        raise GenlabError(f"expected images of shape (N, C, H, W), got a tensor of shape {tuple(x.shape)}")
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    if tuple(x.shape[1:]) != tuple(data.shape):
        hint = " (channels last? use images.permute(0, 3, 1, 2))" if x.shape[-1] == data.shape[0] else ""
        raise GenlabError(f"images of shape {_fmt(x.shape[1:])} do not match data set {data.name}, "
                          f"whose images are {_fmt(data.shape)}{hint}")
    if x.shape[0] <= k:
        raise GenlabError(f"need more than k={k} images to score, got {x.shape[0]}")
    if not torch.isfinite(x).all():
        raise GenlabError("images contain NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-4 or hi > 1 + 1e-4:
        raise GenlabError(f"images must be in [0, 1] (float) or [0, 255] (uint8), got values in [{lo:.3g}, {hi:.3g}]")
    return x.clamp(0, 1).contiguous()


def _real_images(data: Dataset, n_real: int | None, k: int, seed: int) -> torch.Tensor:
    """The test split, all of it up to :data:`MAX_REAL`, or a seeded random ``n_real`` of it."""
    n_test = data.test.shape[0]
    n = min(n_test, MAX_REAL) if n_real is None else int(n_real)
    if n > n_test:
        raise GenlabError(f"n_real={n} but the {data.name} test split has {n_test} images")
    if n <= k:
        raise GenlabError(f"need more than k={k} real images, got n_real={n}")
    if n == n_test:
        return data.test.float().contiguous()
    idx = torch.randperm(n_test, generator=torch.Generator().manual_seed(seed))[:n]
    return data.test[idx.sort().values].float().contiguous()


# -- the entry point --------------------------------------------------------------------------------


@torch.no_grad()
def score_images(images: torch.Tensor, data: Dataset | str, *, features: str = "genlab", n_real: int | None = None,
                 k: int = 5, batch_size: int = 500, seed: int = 0) -> dict[str, Any]:
    """Score generated ``images`` (N, C, H, W) in [0, 1] against the test split of ``data``.

    ``data`` is a :class:`Dataset` or a data set name (loaded with ``genlab.data.load_dataset``).
    ``n_real`` real images are used (default: the whole test split, at most 10,000; a seeded
    random subset otherwise); ``k`` is the neighbourhood size of precision/recall/density/coverage;
    ``seed`` fixes the real subset and KID's random subsets. Everything runs on the CPU. The real
    images are the test split as loaded (binarised if the data set was loaded with ``binarize``).
    The real side (features, FID/KID statistics, k-NN radii) is cached for the next call with the
    same real images, so scoring several checkpoints against one data set pays for it once.

    Returns ``fid``, ``kid`` (mean over 100 subsets of min(1000, N, n_real)), ``kid_std``,
    ``precision``, ``recall``, ``density``, ``coverage``, ``classifier_score``, ``n_generated``,
    ``n_real``, ``k``, ``features`` and ``evaluator`` (the feature network used). Every
    user-fixable problem (wrong shape, no evaluator, no Inception weights) raises GenlabError.
    """
    if features not in FEATURES:
        raise GenlabError(f"unknown features {features!r}: use one of {', '.join(FEATURES)}")
    if not (isinstance(k, int) and k >= 1):
        raise GenlabError(f"k must be a whole number >= 1, got {k!r}")
    data = _as_dataset(data)
    fake = _check_images(images, data, k)
    real = _real_images(data, n_real, k, seed)
    ref = _reference(data, real, features, batch_size)
    fid, kid, fake_features = _compare(ref, fake, batch_size, seed)
    quality = prdc(ref.real_features, fake_features, k, real_radii=ref.real_radii(k))
    return {"fid": fid, "kid": kid[0], "kid_std": kid[1], **quality,
            "classifier_score": ref.score(fake_features, fake), "n_generated": fake.shape[0],
            "n_real": real.shape[0], "k": k, "features": features, "evaluator": ref.source}


def _compare(ref: _Reference, fake: torch.Tensor, batch_size: int, seed: int):
    """FID, (KID mean, KID std) and the generated features (M, D), via the cached metrics."""
    from torchmetrics.utilities import dim_zero_cat

    ref.fid.reset()  # reset_real_features=False: only the generated side is cleared
    ref.kid.reset()
    for i in range(0, fake.shape[0], batch_size):
        batch = ref.prepare(fake[i:i + batch_size])
        ref.fid.update(batch, real=False)
        ref.kid.update(batch, real=False)
    _forget(ref.fid)
    ref.kid.subset_size = min(KID_SUBSET_SIZE, fake.shape[0], ref.real_features.shape[0])
    with torch.random.fork_rng(devices=[]):  # KID draws its subsets from the global generator
        torch.manual_seed(seed)
        kid_mean, kid_std = ref.kid.compute()
    fid = float(ref.fid.compute())
    return max(fid, 0.0) if math.isfinite(fid) else fid, (float(kid_mean), float(kid_std)), \
        dim_zero_cat(ref.kid.fake_features)
