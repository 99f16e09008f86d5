"""The explorer's pictures as PNG bytes: samples, class grids, the seed plane, latent walks and test
images. Each takes the model and the request's parameters (strings, as they come in a URL), checks
them, and gives the same bytes for the same parameters."""

from __future__ import annotations

import io
import math
from typing import Mapping

import numpy as np
import torch
from PIL import Image

from genlab import sampling
from genlab.errors import GenlabError
from genlab.images import make_grid
from genlab.latent import encode_mean, interpolate, noise_dim

MAX_IMAGES = 1024  # images in one picture
PLANE_STRIDE = 1000  # seed of plane point (x, y) = y * PLANE_STRIDE + x
POINTS_PX = 320  # side of a scatter picture of a 2-D run


class BadRequest(GenlabError):
    pass


# -- parameters ------------------------------------------------------------------------------
def _int(q: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    text = q.get(name)
    if text is None or text == "":
        return default
    try:
        v = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {text!r}") from None
    if not lo <= v <= hi:
        raise BadRequest(f"{name} must be between {lo:,} and {hi:,}, got {v:,}")
    return v


def _float(q: Mapping[str, str], name: str, default: float | None, lo: float, hi: float) -> float | None:
    text = q.get(name)
    if text is None or text == "":
        return default
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and lo <= v <= hi):
        raise BadRequest(f"{name} must be a number between {lo:g} and {hi:g}, got {text!r}")
    return v


def _text(q: Mapping[str, str], name: str) -> str | None:
    v = q.get(name)
    return v if v not in (None, "") else None


def draw_request(q: Mapping[str, str]) -> sampling.Draw:
    """samples.png's parameters as a sampling request."""
    known = {"seed", "n", "truncation", "class", "tags", "prompt", "code", "edit"}
    _only(q, known)
    edits = tuple(sampling.parse_edit(e) for e in (_text(q, "edit") or "").split(",") if e.strip())
    code = _text(q, "code")
    req = sampling.Draw(seed=_int(q, "seed", 0, 0, 2**32 - 1), n=_int(q, "n", 64, 1, MAX_IMAGES),
                        truncation=_float(q, "truncation", None, 0.01, 1.0), condition=_text(q, "class"),
                        tags=_text(q, "tags"), prompt=_text(q, "prompt"),
                        code=sampling.parse_code(code) if code is not None else None, edits=edits)
    req.check()
    return req


def _only(q: Mapping[str, str], known: set[str]) -> None:
    unknown = sorted(set(q) - known - {"token"})
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r} (this picture takes {', '.join(sorted(known))})")


def encodes(model) -> bool:
    """Whether walks can start from encoded test images (an AE, a VAE, a BiGAN; not a conditional model)."""
    return hasattr(model, "encode") and getattr(model, "condition", None) is None and model.spec.kind == "image"


# -- pictures --------------------------------------------------------------------------------
@torch.no_grad()
def samples(model, q: Mapping[str, str]) -> tuple[bytes, str]:
    """(PNG, the `genlab sample` line that draws it)."""
    req = draw_request(q)
    x = sampling.images(model, req).cpu()
    return picture(model, x), sampling.command(str(model.run_dir), req)


@torch.no_grad()
def classes(model, q: Mapping[str, str]) -> tuple[bytes, str]:
    """Rows of classes (or of the first tag group), columns of the same noises."""
    _only(q, {"seed", "n"})
    if getattr(getattr(model, "condition", None), "kind", None) not in ("class", "tags"):
        raise BadRequest(f"a class grid needs a class- or tag-conditioned run; this {model.name} run is not")
    seed, n = _int(q, "seed", 0, 0, 2**32 - 1), _int(q, "n", 8, 1, 64)
    x = model.decode(model.class_grid(n, torch.Generator().manual_seed(seed))).cpu()
    command = f"genlab sample {model.run_dir} --grid classes --n {n} --seed {seed} --out classes.png"
    return picture(model, x, nrow=n), command


def plane_codes(model, x: float, y: float, n: int, truncation: float | None) -> torch.Tensor:
    """Codes (n, latent_dim) at a point of the seed plane: the prior draws of the four seeds around
    (x, y) (seed = y * PLANE_STRIDE + x at whole x, y) blended bilinearly, the noise rescaled by
    1 / sqrt(sum of squared weights) so a blend of N(0, I) draws is N(0, I) again; the condition
    is the nearest seed's."""
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    corners = [((x0 + i) + (y0 + j) * PLANE_STRIDE, (fx if i else 1 - fx) * (fy if j else 1 - fy))
               for j in (0, 1) for i in (0, 1)]
    k = noise_dim(model)
    codes = [model.prior(n, torch.Generator().manual_seed(s)) for s, _ in corners]
    w = torch.tensor([wt for _, wt in corners], dtype=codes[0].dtype)
    noise = sum(wi * c[:, :k] for wi, c in zip(w, codes)) / w.pow(2).sum().sqrt()
    nearest = codes[int(w.argmax())]
    if truncation is not None:
        noise = noise * truncation
    return torch.cat([noise, nearest[:, k:]], 1)


@torch.no_grad()
def plane(model, q: Mapping[str, str]) -> tuple[bytes, str]:
    _only(q, {"x", "y", "n", "truncation"})
    if not hasattr(model, "prior"):
        raise BadRequest(f"model {model.name!r} has no prior to sample from")
    x, y = _float(q, "x", 0.0, 0, PLANE_STRIDE - 2), _float(q, "y", 0.0, 0, 10**6)
    n = _int(q, "n", 16, 1, 256)
    codes = plane_codes(model, x, y, n, _float(q, "truncation", None, 0.01, 1.0))
    xi, yi = round(x), round(y)
    return picture(model, model.decode(codes).cpu()), \
        f"genlab sample {model.run_dir} --seed {yi * PLANE_STRIDE + xi} --n {n} --out samples.png  # nearest whole seed"


def _end(model, text: str, data_test: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A walk's end: ``seed:S`` (a prior draw) or ``test:I`` (test image I, encoded): (code (1, M), image or None)."""
    kind, _, value = text.partition(":")
    if kind not in ("seed", "test") or not value.isdigit():
        raise BadRequest(f"a walk's end is seed:N or test:N, got {text!r}")
    i = int(value)
    if kind == "seed":
        if not hasattr(model, "prior"):
            raise BadRequest(f"model {model.name!r} has no prior: walk between test images (test:N)")
        if i >= 2**32:
            raise BadRequest(f"a seed is below 2**32, got {i}")
        return model.prior(1, torch.Generator().manual_seed(i)), None
    if data_test is None or not encodes(model):
        raise BadRequest(f"model {model.name!r} does not encode images: walk between seeds (seed:N)")
    if i >= data_test.shape[0]:
        raise BadRequest(f"the test set has {data_test.shape[0]:,} images; test:{i} is past its end")
    x = data_test[i:i + 1].to(model.device)
    return encode_mean(model, x), x.cpu()


@torch.no_grad()
def walk(model, q: Mapping[str, str], data_test: torch.Tensor | None) -> tuple[bytes, str, str]:
    """A strip (or an animated PNG, ``animate=1``) along lerp/slerp from one end to the other:
    (bytes, media type, command)."""
    _only(q, {"from", "to", "steps", "method", "animate"})
    if model.spec.kind != "image":
        raise BadRequest("walks are drawn for image runs; this run's data are points")
    method = q.get("method") or "slerp"
    if method not in ("lerp", "slerp"):
        raise BadRequest(f"method must be lerp or slerp, got {method!r}")
    steps = _int(q, "steps", 8, 2, 64)
    z0, x0 = _end(model, q.get("from") or "seed:0", data_test)
    z1, x1 = _end(model, q.get("to") or "seed:1", data_test)
    frames = model.decode(interpolate(z0, z1, steps, method))[0].cpu()  # (T, C, H, W)
    if x0 is not None and x1 is not None:  # the originals around the decoded path
        frames = torch.cat([x0, frames, x1])
    command = f"genlab interpolate {model.run_dir} --length {steps} --method {method} --out walk.png"
    if q.get("animate") in ("1", "true"):
        return animation(frames), "image/png", command
    return picture(model, frames, nrow=frames.shape[0]), "image/png", command


@torch.no_grad()
def test_images(model, q: Mapping[str, str], data_test: torch.Tensor) -> bytes:
    _only(q, {"start", "n"})
    start = _int(q, "start", 0, 0, max(0, data_test.shape[0] - 1))
    n = _int(q, "n", 16, 1, 256)
    return picture(model, data_test[start:start + n])


# -- encoding --------------------------------------------------------------------------------
def picture(model, x: torch.Tensor, nrow: int | None = None) -> bytes:
    """Images (N, C, H, W) in [0, 1] as one PNG grid; points (N, 2) as a scatter picture."""
    if model.spec.kind == "points":
        return png(scatter(x))
    arr = make_grid(x.float().clamp(0, 1), nrow)
    return png(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def scatter(points: torch.Tensor, size: int = POINTS_PX) -> np.ndarray:
    """(N, 2) points as dots on a white square (bounds: the points' own, with a margin): (size, size, 3) uint8."""
    p = points.detach().float().cpu().numpy()
    p = p[np.isfinite(p).all(1)]
    img = np.full((size, size, 3), 255, np.uint8)
    if len(p) == 0:
        return img
    lo, hi = p.min(0), p.max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * 1.1
    ij = ((p - centre) / half * 0.5 + 0.5) * (size - 1)
    cols, rows = ij[:, 0].round().astype(int), (size - 1 - ij[:, 1]).round().astype(int)
    for dr in (0, 1):
        for dc in (0, 1):
            r, c = np.clip(rows + dr, 0, size - 1), np.clip(cols + dc, 0, size - 1)
            img[r, c] = (214, 39, 40)
    return img


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)  # fast; still lossless
    return buf.getvalue()


def animation(frames: torch.Tensor, duration_ms: int = 120) -> bytes:
    """Frames (T, C, H, W) in [0, 1] as an animated PNG that plays forth and back."""
    arrs = [(f.float().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for f in frames]
    arrs = [a[:, :, 0] if a.shape[2] == 1 else a for a in arrs]
    seq = arrs + arrs[-2:0:-1]
    images = [Image.fromarray(a) for a in seq]
    buf = io.BytesIO()
    images[0].save(buf, format="PNG", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return buf.getvalue()
