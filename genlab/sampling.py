"""What to draw from a model, as one request that `genlab sample` and the explorer share: the same
request gives the same latent codes, so the explorer's "copy as command" line redraws its picture.

    req = Draw(seed=3, n=16, truncation=0.7, tags="red hair, red eyes", edits=(("smile", 2.0),))
    codes = latent_codes(model, req)      # (n, latent_dim): noise then condition
    x = images(model, req)                # model.decode(codes), then any edit along a direction in w
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field

import torch

from genlab.errors import GenlabError
from genlab.latent import noise_dim


@dataclass(frozen=True)
class Draw:
    seed: int = 0
    n: int = 64
    truncation: float | None = None  # psi in (0, 1]: the noise scaled towards 0 (StyleGAN's trick around mean 0)
    condition: str | None = None  # a class (or an InfoGAN category) by name or index
    tags: str | None = None  # "red hair, red eyes"
    prompt: str | None = None  # "girl with red hair and red eyes"
    code: tuple[float, ...] | None = None  # InfoGAN: category, then each continuous code
    edits: tuple[tuple[str, float], ...] = field(default_factory=tuple)  # (attribute, strength) directions

    def check(self) -> None:
        if not 1 <= self.n <= 4096:
            raise GenlabError(f"n must be between 1 and 4,096, got {self.n}")
        if self.truncation is not None and not (0 < self.truncation <= 1):
            raise GenlabError(f"truncation must be in (0, 1], got {self.truncation}")
        asked = [name for name, v in (("class", self.condition), ("tags", self.tags), ("prompt", self.prompt),
                                      ("code", self.code)) if v is not None]
        if len(asked) > 1:
            raise GenlabError(f"give one of class, tags, prompt and code, not {' and '.join(asked)}")
        for name, s in self.edits:
            if not math.isfinite(s) or abs(s) > 10:
                raise GenlabError(f"the strength of {name!r} must be between -10 and 10, got {s}")


def can_truncate(model) -> bool:
    return hasattr(model, "prior") and model.spec.kind == "image"


def latent_codes(model, req: Draw, *, records: dict | None = None) -> torch.Tensor:
    """The (n, latent_dim) codes ``req`` asks of ``model``: noise from seed ``req.seed`` (the first
    draws of that generator, as `genlab sample --seed` takes them), the condition asked for, then
    the truncation and the attribute edits on the noise. ``records``: the run's directions."""
    req.check()
    if not hasattr(model, "prior"):
        raise GenlabError(f"model {model.name!r} has no prior to sample from")
    cond = getattr(model, "condition", None)
    g = torch.Generator().manual_seed(req.seed)
    if req.condition is not None and getattr(cond, "kind", None) not in ("class", "code"):
        raise GenlabError(f"a class needs a class-conditional run (cgan, acgan, ...); this {model.name} run is not")
    if (req.tags is not None or req.prompt is not None) and getattr(cond, "kind", None) != "tags":
        raise GenlabError(f"tags and prompts need a tag-conditioned run (cgan or acgan on a tagged data set); "
                          f"this {model.name} run is not")
    if req.code is not None and getattr(cond, "kind", None) != "code":
        raise GenlabError(f"a code needs an infogan run; this run is {model.name}")
    if req.tags is not None or req.prompt is not None:
        from genlab.data.tags import parse_prompt, parse_tags

        asked = parse_tags(req.tags, cond.vocab) if req.tags is not None else parse_prompt(req.prompt, cond.vocab)
        codes = model.prior(req.n, g)
        codes = model.with_condition(codes, asked, g)
    else:
        codes = model.prior(req.n, g, req.condition)
    if req.code is not None:
        codes = torch.cat([codes[:, :noise_dim(model)], _code(cond, req.code, req.n).to(codes)], 1)
    k = noise_dim(model)
    if req.truncation is not None and req.truncation != 1:
        codes = torch.cat([codes[:, :k] * req.truncation, codes[:, k:]], 1)
    for name, strength, v in _edits(model, req, records, "noise"):
        codes = torch.cat([codes[:, :k] + strength * v.to(codes), codes[:, k:]], 1)
    return codes


def images(model, req: Draw, *, records: dict | None = None) -> torch.Tensor:
    """The images (n, *shape) ``req`` asks of ``model``: its ``latent_codes`` decoded, or, when an
    edit follows a direction in w (a mapping network's output), the codes mapped to w, moved there,
    and decoded from there."""
    if req.edits and records is None:  # read once for both spaces
        from genlab import directions

        records = directions.read(model.run_dir)
    codes = latent_codes(model, req, records=records)
    in_w = _edits(model, req, records, "w")
    if not in_w:
        return model.decode(codes)
    from genlab.latent import WSpace

    space = WSpace(model)
    u = space.from_noise(codes)
    k = noise_dim(model)
    for name, strength, v in in_w:
        u = torch.cat([u[:, :k] + strength * v.to(u), u[:, k:]], 1)
    with torch.no_grad():
        return space.decode(u)


def _edits(model, req: Draw, records: dict | None, space: str) -> list[tuple[str, float, torch.Tensor]]:
    """(name, strength, unit direction) of the edits of ``req`` whose directions live in ``space``."""
    if not req.edits:
        return []
    from genlab import directions

    records = directions.read(model.run_dir) if records is None else records
    return [(name, s, directions.vector(records, name, model)) for name, s in req.edits
            if (records[name].get("space", "noise") if name in records else "noise") == space]


def _code(cond, values: tuple[float, ...], n: int) -> torch.Tensor:
    """InfoGAN's code (n, K + L) from (category, continuous values...)."""
    if len(values) != 1 + cond.continuous:
        raise GenlabError(f"a code is the category then {cond.continuous} continuous value(s): "
                          f"{1 + cond.continuous} numbers, got {len(values)}")
    cat = values[0]
    if cat != int(cat) or not 0 <= cat < cond.categories:
        raise GenlabError(f"the category must be a whole number in 0-{cond.categories - 1}, got {cat:g}")
    if any(not math.isfinite(v) or abs(v) > 10 for v in values[1:]):
        raise GenlabError("continuous codes must be finite and between -10 and 10")
    one = torch.cat([torch.nn.functional.one_hot(torch.tensor(int(cat)), cond.categories).float(),
                     torch.tensor(values[1:], dtype=torch.float32)])
    return one.to(cond.p.device).expand(n, -1)


def parse_code(text: str) -> tuple[float, ...]:
    """'3,0.5,-1' -> (3.0, 0.5, -1.0)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise GenlabError(f"a code is numbers separated by commas (the category, then each continuous value), "
                          f"got {text!r}") from None


def parse_edit(text: str) -> tuple[str, float]:
    """'smile:2' or 'blonde hair:-1.5' -> ('smile', 2.0)."""
    name, sep, value = text.rpartition(":")
    try:
        strength = float(value)
    except ValueError:
        strength = math.nan
    if not sep or not name.strip() or not math.isfinite(strength):
        raise GenlabError(f"an edit is ATTRIBUTE:STRENGTH (e.g. smile:2), got {text!r}")
    return name.strip(), strength


def command(run: str, req: Draw, out: str = "samples.png") -> str:
    """The `genlab sample` line that draws ``req`` from the run at ``run``."""
    parts = ["genlab", "sample", run, "--seed", str(req.seed), "--n", str(req.n)]
    if req.truncation is not None and req.truncation != 1:
        parts += ["--truncation", f"{req.truncation:g}"]
    for flag, v in (("--class", req.condition), ("--tags", req.tags), ("--prompt", req.prompt)):
        if v is not None:
            parts += [flag, v]
    if req.code is not None:
        parts += ["--code", ",".join(f"{v:g}" for v in req.code)]
    for name, s in req.edits:
        parts += ["--edit", f"{name}:{s:g}"]
    return shlex.join([*parts, "--out", out])
