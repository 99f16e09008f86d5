"""A run's attribute directions: found from its own samples, read by the data set's tag evaluator
(InterFaceGAN, Shen et al. 2020, https://arxiv.org/abs/2005.09635: the normal of a linear SVM; or
the mean gradient of the evaluator's log-probability, the first-order form of GANalyze, Goetschalckx
et al. 2019, https://arxiv.org/abs/1906.10112; or learned, as GANalyze learns it, on edits at the
strength they are made with), kept in RUN/directions.json, drawn by ``genlab
edit`` and scored by ``genlab eval`` (flip rate, preservation).

A direction lives in the noise part of the latent code (z of a GAN, the code of a VAE); a
conditional model's condition is left as it is.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from genlab.errors import CheckpointError, GenlabError
from genlab.latent import WSpace, find_direction, in_space, move, noise_dim, orthogonal, preserving

FILE = "directions.json"
CHUNK = 500  # images decoded and scored at a time
PRESERVE_WEIGHT = 20.0  # chosen on one run (benchmarks/toonfaces/README.md)
JACOBIAN_CODES = 1000
METHODS = ("svm", "gradient", "learned")
# the preservation weights ``keep`` tries, in order, on held-out edits; the first that keeps enough wins
KEEP_WEIGHTS = (0.0, 5.0, 10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0, 500.0, 700.0, 1000.0,
                2000.0, 5000.0)
HELD_OUT = 1009  # held-out edits are drawn with seed + HELD_OUT: apart from genlab eval's (seed 0)
# a learned direction (method "learned"): Adam on its edits of a pool of prior draws of its own
LEARN_SEED = 4049  # the pool is drawn with seed + LEARN_SEED: apart from the held-out and eval edits
LEARN_POOL, LEARN_BATCH, LEARN_STEPS, LEARN_LR = 2000, 64, 200, 0.01
LEARN_WEIGHT = 1.0  # the keep term's weight without --keep
# the keep term's weights ``keep`` tries, in order (its loss is a mean cross-entropy, not a Jacobian's)
LEARN_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0, 32.0, 64.0)


def tagged_evaluator(model):
    """The tag evaluator of the run's data set (its vocabulary names the attributes)."""
    from genlab.metrics.evaluator import load_evaluator

    if model.spec.kind != "image" or not hasattr(model, "prior"):
        raise GenlabError(f"attribute directions need a model of images with a prior to sample from; "
                          f"this run is {model.name} on {model.spec.kind}")
    name = model.run_config.data.name
    net = load_evaluator(name)
    if net.vocab is None:
        raise GenlabError(f"the evaluator of {name} reads classes, not tags: attribute directions need a tagged "
                          "data set (toonfaces, or a folder with a tags file and 'genlab evaluator train --data FOLDER')")
    if tuple(net.in_shape) != tuple(model.spec.shape):
        raise GenlabError(f"the {name} evaluator takes {tuple(net.in_shape)} images, this run's are {model.spec.shape}")
    return net


def attribute_index(net, text: str) -> int:
    """The one tag ``text`` names in the evaluator's vocabulary."""
    from genlab.data.tags import parse_tags

    found = parse_tags(text, net.vocab)
    if len(found) != 1:
        raise GenlabError(f"--attribute names one tag, got {len(found)} in {text!r}")
    return found[0]


def _group_log_probs(logits: torch.Tensor, index: int, vocab) -> torch.Tensor:
    """log p(tag ``index`` is on) from raw evaluator logits (N, T): the group's softmax (with its
    'none' class) for a tag of an exclusive group, a sigmoid for another tag."""
    from genlab.models.conditions import _group_targets

    for group in vocab.groups:
        if index in group.members:
            z, _ = _group_targets(logits, torch.zeros_like(logits), group)
            return z.log_softmax(1)[:, group.members.index(index)]
    return torch.nn.functional.logsigmoid(logits[:, index])


def _device(model) -> torch.device:
    return getattr(model, "device", torch.device("cpu"))


@torch.no_grad()
def _read(model, net, codes: torch.Tensor) -> torch.Tensor:
    """The evaluator's raw logits (N, T) of the images decoded from ``codes`` (N, M)."""
    return torch.cat([net.logits(model.decode(part.to(_device(model))).cpu()) for part in codes.split(CHUNK)])


def prior_codes(model, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` codes (N, M) from the prior, on the CPU."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([model.prior(min(CHUNK, n - i), g) for i in range(0, n, CHUNK)]).cpu()


@torch.no_grad()
def scored_codes(model, net, n: int = 10_000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` codes (N, M) from the prior, on the CPU, and the evaluator's raw logits (N, T) of their images."""
    codes = prior_codes(model, n, seed)
    return codes, _read(model, net, codes)


def mean_gradient(model, net, index: int, codes: torch.Tensor, chunk: int = 250) -> torch.Tensor:
    """The unit mean over ``codes`` (N, M) of the gradient of log p(tag ``index``) by the evaluator
    with respect to the noise (d values): the move that raises the attribute most on average, to
    first order (GANalyze learns its direction through the assessor's gradient,
    https://arxiv.org/abs/1906.10112; for one linear move this mean is the closed form)."""
    d = noise_dim(model)
    total = torch.zeros(d, dtype=torch.float64)
    for part in codes.split(chunk):
        part = part.to(_device(model))
        noise = part[:, :d].detach().requires_grad_(True)
        with torch.enable_grad():
            logits = net.logits(_decode_with_graph(model, torch.cat([noise, part[:, d:]], 1)).float().cpu())
            (grad,) = torch.autograd.grad(_group_log_probs(logits, index, net.vocab).sum(), noise)
        total += grad.double().sum(0).cpu()
    if not torch.isfinite(total).all() or float(total.norm()) == 0:
        raise GenlabError(f"the evaluator's reading of {net.vocab.names[index]!r} does not change with the noise "
                          "at these draws: no gradient to follow")
    return (total / total.norm()).float()


@torch.no_grad()
def compute(model, net, attribute: str, *, method: str = "svm", n: int = 10_000, fraction: float = 0.1,
            seed: int = 0, orthogonal_to: tuple[str, ...] = (), known: dict | None = None,
            scored: tuple[torch.Tensor, torch.Tensor] | None = None, preserve: tuple[str, ...] = (),
            preserve_weight: float | None = None, keep: float | None = None, strength: float = 3.0,
            edit_n: int = 1000, grams: dict[str, torch.Tensor] | None = None,
            jacobian_codes: int = JACOBIAN_CODES) -> dict[str, Any]:
    """A direction for ``attribute`` from ``n`` codes of the prior (or the codes and logits of
    ``scored_codes`` given as ``scored``): with ``method`` "svm", the SVM normal between the codes
    whose log p(attribute) by the evaluator is in the top and bottom ``fraction``; with "gradient",
    the mean gradient of log p(attribute) at the codes (``mean_gradient``); with "learned", that
    gradient refined by Adam on edits at ``strength`` (``learn``). With ``preserve`` (tags, groups,
    or "all" the others) it is pulled away from where those tags' evaluator scores change
    (``preserving``, their Jacobian Gram matrices from ``jacobian_codes`` prior draws, or ``grams``;
    a learned direction instead learns to keep their verdicts on its edits) by ``preserve_weight``
    (default PRESERVE_WEIGHT, LEARN_WEIGHT when learned), or with ``keep`` by the least weight of
    KEEP_WEIGHTS (LEARN_WEIGHTS) whose ``edit_n`` held-out edits at ``strength`` keep the other tags
    at least that often (``choose_weight``).
    Then it is made orthogonal to the span of the directions of ``orthogonal_to``: tags with a
    direction in ``known``, or tag groups by name ("hair", "eyes"), each tag of the group with its
    direction found from the same codes; a tag's from ``known`` when the run has it, else from the
    same codes. Returns its record for directions.json."""
    if method not in METHODS:
        raise GenlabError(f"--method is one of {', '.join(METHODS)}, not {method!r}")
    space = "w" if isinstance(model, WSpace) else "noise"
    known = {k: r for k, r in (known or {}).items() if r.get("space", "noise") == space}  # directions of this space
    index = attribute_index(net, attribute)
    name = net.vocab.names[index]
    preserved = _units(net, index, preserve) if preserve else {}  # a bad name is told before any work
    if scored is None:  # the gradient reads the codes itself: scores only for the SVMs
        scored = scored_codes(model, net, n, seed) if method == "svm" or orthogonal_to else (prior_codes(model, n, seed), None)
    codes, logits = scored
    noise = codes[:, :noise_dim(model)]
    if method == "svm":
        direction, svm_accuracy = find_direction(noise, _group_log_probs(logits, index, net.vocab), fraction=fraction,
                                                 seed=seed)
        found = {"fraction": fraction, "svm_accuracy": svm_accuracy}
    else:
        direction, found = mean_gradient(model, net, index, codes), {}
    learned = method == "learned"
    if preserve_weight is None:
        preserve_weight = LEARN_WEIGHT if learned else PRESERVE_WEIGHT
    kept, others = [], []
    for other in orthogonal_to:
        other_name, vectors = _condition(other, index, noise, logits, net, known or {}, fraction, seed)
        kept.append(other_name)
        others += vectors
    if preserved and grams is None and not learned:
        grams = sensitivity(model, net, preserved, n=jacobian_codes, seed=seed)
    stacked = torch.stack([grams[k] for k in preserved]) if preserved and not learned else None
    pool = edit_pool(model, net, index, preserved, seed=seed + LEARN_SEED) if learned else None

    def shaped(weight: float) -> torch.Tensor:
        if learned:
            v = learn(model, net, index, direction, pool, weight if preserved else 0.0, strength=strength, seed=seed)
        else:
            v = preserving(direction, stacked, weight) if preserved else direction
        if not others:
            return v
        try:
            return orthogonal(v, torch.stack(others))
        except ValueError:
            raise GenlabError(f"the direction of {name!r} lies in the span of those of {', '.join(kept)}") from None

    chosen = {}
    if preserved and keep is not None:
        preserve_weight, tried = choose_weight(model, net, name, shaped, keep, strength=strength, n=edit_n,
                                               seed=seed + HELD_OUT, weights=LEARN_WEIGHTS if learned else KEEP_WEIGHTS)
        chosen = {"keep": keep, "held_out": {"edits": edit_n, "strength": strength, "seed": seed + HELD_OUT,
                                             "tried": tried}}
    direction = shaped(preserve_weight)
    return {"attribute": name, "method": method, "vector": [round(float(v), 7) for v in direction],
            "space": space,
            "n_codes": len(codes), **found, "seed": seed, "orthogonal_to": kept, "preserve": list(preserved),
            **({"preserve_weight": preserve_weight} if preserved else {}),
            **({"jacobian_codes": jacobian_codes} if preserved and not learned else {}),
            **({"learned": {"strength": strength, "pool": LEARN_POOL, "pool_seed": seed + LEARN_SEED,
                            "batch": LEARN_BATCH, "steps": LEARN_STEPS, "lr": LEARN_LR}} if learned else {}),
            **chosen, "evaluator": str(net.path)}


def edit_pool(model, net, index: int, units: dict[str, Any], *, n: int = LEARN_POOL,
              seed: int = LEARN_SEED) -> dict[str, Any]:
    """The prior draws a direction of tag ``index`` is learned on: their ``codes`` (N, M), whether
    the evaluator says each ``has`` the tag (so its edit goes away from it), and its verdict on each
    of ``units`` (class indices (N,) of ``_unit_log_probs``), which the edit should keep."""
    from genlab.models.conditions import tag_predict

    codes = prior_codes(model, n, seed)
    logits = _read(model, net, codes)
    return {"codes": codes, "has": tag_predict(logits, net.vocab)[:, index] > 0,
            "verdicts": {k: _unit_log_probs(logits, unit).argmax(1) for k, unit in units.items()}, "units": units}


def edited(codes: torch.Tensor, has: torch.Tensor, direction: torch.Tensor, strength: float) -> torch.Tensor:
    """``codes`` (N, M) moved by ``strength`` along the unit ``direction`` (d,, on their first d
    values) towards the tag where the draw ``has`` it not (N,), away where it has: an edit."""
    sign = torch.where(has.to(codes.device), -1.0, 1.0).to(codes)[:, None]
    return codes + sign * strength * torch.nn.functional.pad(direction.to(codes), (0, codes.shape[1] - direction.numel()))


def edit_losses(model, net, index: int, codes: torch.Tensor, has: torch.Tensor, verdicts: dict[str, torch.Tensor],
                units: dict[str, Any], direction: torch.Tensor, strength: float) -> tuple[torch.Tensor, torch.Tensor]:
    """What an edit of ``codes`` (N, M) by ``strength`` along ``direction`` (d,) does, by the
    evaluator, as two losses with the graph back to ``direction``: ``flip``, the mean of -log p(the
    tag's state is turned) (towards the tag where the draw ``has`` it not, away where it has), and
    ``keep``, the mean over ``units`` of the cross-entropy of their classes after the edit against
    their ``verdicts`` before it (0 with no units)."""
    logits = net.logits(_decode_with_graph(model, edited(codes, has, direction, strength)).float().cpu())  # (N, T)
    on = _group_log_probs(logits, index, net.vocab)
    off = torch.log1p(-on.exp().clamp(max=1 - 1e-6))
    flip = -torch.where(has.to(on.device), off, on).mean()
    keep = [torch.nn.functional.nll_loss(_unit_log_probs(logits, unit), verdicts[k]) for k, unit in units.items()]
    return flip, (torch.stack(keep).mean() if keep else flip.new_zeros(()))


def learn(model, net, index: int, start: torch.Tensor, pool: dict[str, Any], weight: float, *,
          strength: float = 3.0, steps: int = LEARN_STEPS, batch: int = LEARN_BATCH, lr: float = LEARN_LR,
          seed: int = 0) -> torch.Tensor:
    """The unit direction (d,) for tag ``index``, from ``start``, that Adam finds for edits at
    ``strength`` of ``pool``'s draws (``edit_pool``): ``steps`` batches of ``batch`` minimising
    flip + ``weight`` * keep (``edit_losses``). GANalyze (https://arxiv.org/abs/1906.10112) learns
    its direction so on the assessor's score of the edited image; the keep term is the classifier
    preservation loss of Zhuang et al. 2021 (https://arxiv.org/abs/2102.01187). Learned on the edit
    itself, not its first-order change, so it counts what a move of this length does."""
    v = start.detach().clone().float().requires_grad_(True)
    opt = torch.optim.Adam([v], lr=lr)
    g = torch.Generator().manual_seed(seed)
    n = len(pool["codes"])
    for _ in range(steps):
        rows = torch.randint(n, (batch,), generator=g)
        verdicts = {k: c[rows] for k, c in pool["verdicts"].items()}
        with torch.enable_grad():
            flip, keep = edit_losses(model, net, index, pool["codes"][rows].to(_device(model)), pool["has"][rows],
                                     verdicts, pool["units"], v / v.norm(), strength)
            (v.grad,) = torch.autograd.grad(flip + weight * keep, v)  # v's alone: G and the evaluator stay as they are
        opt.step()
    out = v.detach() / v.detach().norm()
    if not torch.isfinite(out).all():
        raise GenlabError(f"learning the direction of {net.vocab.names[index]!r} diverged")
    return out


def choose_weight(model, net, attribute: str, shaped, keep: float, *, strength: float = 3.0, n: int = 1000,
                  seed: int = HELD_OUT, weights: tuple[float, ...] = KEEP_WEIGHTS) -> tuple[float, list[list[float]]]:
    """The first of ``weights`` (ascending) whose direction ``shaped(weight)`` keeps the other tags
    at least ``keep`` of the time over ``n`` edits at ``strength`` of draws from ``seed``: the least
    pull, so the most flip, that keeps enough; when none does, the one that keeps most. Returns it
    and [weight, flip rate, other tags kept] of each weight tried."""
    tried = []
    for weight in weights:
        s = edit_scores(model, net, attribute, shaped(weight), strength=strength, n=n, seed=seed, baseline=False)
        tried.append([weight, round(s["flip_rate"], 4), round(s["preservation"], 4)])
        if s["preservation"] >= keep:
            return weight, tried
    return max(tried, key=lambda t: t[2])[0], tried


def tag_units(vocab) -> dict[str, Any]:
    """Every tag group (name -> its ``TagGroup``) and binary tag (name -> its index) of a vocabulary:
    what an edit can keep or change, and what ``sensitivity`` reads."""
    return {**{g.name: g for g in vocab.groups}, **{vocab.names[i]: i for i in vocab.binary}}


def _units(net, index: int, names: tuple[str, ...]) -> dict[str, Any]:
    """What ``--preserve`` names, by name (see ``tag_units``); "all" is every group and binary
    tag but the one tag ``index`` belongs to."""
    vocab = net.vocab
    own = next((g.name for g in vocab.groups if index in g.members), vocab.names[index])
    every = {k: unit for k, unit in tag_units(vocab).items() if k != own}
    units: dict[str, Any] = {}
    for name in names:
        key = "all" if name.strip().lower() == "all" else _unit_name(net, name)
        if key != "all" and key not in every:
            raise GenlabError(f"an edit of {vocab.names[index]!r} cannot keep {key!r}: that is the tag or group it changes")
        units.update(every if key == "all" else {key: every[key]})
    return units


def _unit_name(net, name: str) -> str:
    """The tag group (by its name, or one of its tags) or binary tag ``name`` names."""
    vocab = net.vocab
    group = next((g for g in vocab.groups if g.name == name.strip().lower()), None)
    if group is not None:
        return group.name
    try:
        i = attribute_index(net, name)
    except GenlabError:
        groups = ", ".join(g.name for g in vocab.groups) or "none"
        raise GenlabError(f"--preserve names a tag, a tag group ({groups}) or all; {name!r} is none of them") from None
    return next((g.name for g in vocab.groups if i in g.members), vocab.names[i])


def _unit_log_probs(logits: torch.Tensor, unit) -> torch.Tensor:
    """(N, K) log-probabilities of a tag group's classes (its softmax, with the 'none' class of a
    group that may be absent) or of a binary tag being on and off, from raw logits (N, T)."""
    from genlab.models.conditions import _group_targets

    if isinstance(unit, int):
        x = logits[:, unit]
        return torch.stack([torch.nn.functional.logsigmoid(x), torch.nn.functional.logsigmoid(-x)], 1)
    z, _ = _group_targets(logits, torch.zeros_like(logits), unit)
    return z.log_softmax(1)


def _decode_with_graph(model, codes: torch.Tensor) -> torch.Tensor:
    """``model.decode`` keeping the graph back to ``codes`` (a GAN's decode runs under no_grad)."""
    decode = type(model).decode
    with torch.enable_grad():
        return getattr(decode, "__wrapped__", decode)(model, codes)


def sensitivity(model, net, units: dict[str, Any], *, n: int = 1000, seed: int = 0,
                chunk: int = 250) -> dict[str, torch.Tensor]:
    """For each unit (a tag group or binary tag, see ``tag_units``), the Gram matrix (d, d) of the
    Jacobian of its log-probabilities by the evaluator with respect to the noise (d values),
    E_z[J(z)^T J(z)] over ``n`` prior draws: how much a move of the noise changes what the
    evaluator reads of that unit, by direction. One backward pass per class of a unit."""
    d = noise_dim(model)
    grams = {k: torch.zeros(d, d, dtype=torch.float64) for k in units}
    g = torch.Generator().manual_seed(seed + 7919)  # draws apart from those the SVM was fitted on
    for start in range(0, n, chunk):
        codes = model.prior(min(chunk, n - start), g)
        noise = codes[:, :d].detach().requires_grad_(True)
        with torch.enable_grad():
            logits = net.logits(_decode_with_graph(model, torch.cat([noise, codes[:, d:]], 1)).float().cpu())
            outs = [(k, _unit_log_probs(logits, unit)) for k, unit in units.items()]
            last = sum(out.shape[1] for _, out in outs)
            done = 0
            for k, out in outs:
                for c in range(out.shape[1]):
                    done += 1
                    (grad,) = torch.autograd.grad(out[:, c].sum(), noise, retain_graph=done < last)
                    grad = grad.double().cpu()
                    grams[k] += grad.T @ grad
    return {k: v / n for k, v in grams.items()}


def _condition(other: str, index: int, noise: torch.Tensor, logits: torch.Tensor, net, known: dict,
               fraction: float, seed: int) -> tuple[str, list[torch.Tensor]]:
    """The name and unit directions of what an edit of tag ``index`` must leave alone: a tag group
    (a direction per member, from these scored codes) or a tag (its direction in ``known``, else
    found from these codes)."""
    vocab = net.vocab
    group = next((g for g in vocab.groups if g.name == other.strip().lower()), None)
    if group is not None:
        if index in group.members:
            raise GenlabError(f"{vocab.names[index]!r} is one of the {group.name} tags: its edit changes "
                              f"{group.name} and cannot be made to keep it")
        return group.name, [find_direction(noise, _group_log_probs(logits, m, vocab), fraction=fraction, seed=seed)[0]
                            for m in group.members]
    try:
        other_name = vocab.names[attribute_index(net, other)]
    except GenlabError as e:
        groups = ", ".join(g.name for g in vocab.groups) or "none"
        raise GenlabError(f"--orthogonal-to names a tag or a tag group ({groups}); {other!r}: {e}") from None
    if other_name in known:  # the direction the run edits that tag with
        return other_name, [torch.tensor(known[other_name]["vector"])]
    other_index = vocab.names.index(other_name)
    return other_name, [find_direction(noise, _group_log_probs(logits, other_index, vocab), fraction=fraction,
                                       seed=seed)[0]]


@torch.no_grad()
def edit_grid(model, direction: torch.Tensor, strengths: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Images (n * S, C, H, W): row i is prior draw i moved by each of the S ``strengths``."""
    codes = model.prior(n, torch.Generator().manual_seed(seed))
    path = move(codes, direction.to(codes.device), strengths)  # (n, S, M)
    return model.decode(path.flatten(0, 1)).cpu()


@torch.no_grad()
def edit_scores(model, net, attribute: str, direction: torch.Tensor, *, strength: float = 3.0, n: int = 1000,
                seed: int = 0, baseline: bool = True) -> dict[str, Any]:
    """Edits of ``n`` prior draws by ``strength`` towards the attribute (for draws the evaluator says
    lack it) or away from it (for draws that have it): ``flip_rate``, how often the evaluator's
    verdict on the attribute turns; ``preservation``, the mean over the other tag groups and tags of
    how often its verdict on them stays (per group in ``preserved``). Beside them, the same for a
    random unit direction of the same strength (``random_flip_rate``, ``random_preservation``, per
    group ``random_preserved``): what any move that long does; ``baseline=False`` leaves it out
    (it depends on the attribute, not the direction: score it once per attribute)."""
    index = attribute_index(net, attribute)
    codes = model.prior(n, torch.Generator().manual_seed(seed))
    own = next((g.name for g in net.vocab.groups if index in g.members), net.vocab.names[index])
    found = _edit(model, net, codes, index, own, direction, strength)
    if not baseline:
        return {**found, "strength": strength, "n": n}
    random = torch.randn(direction.numel(), generator=torch.Generator().manual_seed(seed + 1))
    chance = _edit(model, net, codes, index, own, random / random.norm(), strength)
    return {**found, "random_flip_rate": chance["flip_rate"], "random_preservation": chance["preservation"],
            "random_preserved": chance["preserved"],
            "strength": strength, "n": n}


def _edit(model, net, codes: torch.Tensor, index: int, own: str, direction: torch.Tensor,
          strength: float) -> dict[str, Any]:
    from genlab.metrics.evaluator import agreement
    from genlab.models.conditions import tag_predict

    before = tag_predict(_read(model, net, codes), net.vocab)
    has = before[:, index] > 0
    moved = edited(codes, has, direction, strength)
    after = tag_predict(_read(model, net, moved), net.vocab)
    flipped = (after[:, index] > 0) != has
    preserved = {k: v for k, v in agreement(after, before, net.vocab).items() if k != own}
    return {"flip_rate": float(flipped.double().mean()),
            "preservation": sum(preserved.values()) / len(preserved) if preserved else math.nan,
            "preserved": preserved, "had_attribute": int(has.sum()),
            "flip_by_before": flip_by_before(before, after, flipped, index, net.vocab)}


def edit_states(model, nets, attribute: str, direction: torch.Tensor, *, strength: float = 3.0, n: int = 1000,
                seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """``edit_scores``' edits (``n`` prior draws of ``seed``, moved by ``strength`` towards the
    attribute or away as the first of ``nets`` reads them) read by each of ``nets``, evaluators of the
    same tags: per net, what it says each draw has of the attribute's unit (``_states``) before the
    edit and after: where two evaluators part on the same edits."""
    from genlab.models.conditions import tag_predict

    codes = model.prior(n, torch.Generator().manual_seed(seed))
    tags = [tag_predict(_read(model, net, codes), net.vocab) for net in nets]
    moved = edited(codes, tags[0][:, attribute_index(nets[0], attribute)] > 0, direction, strength)
    before, after = [], []
    for net, was in zip(nets, tags):
        index = attribute_index(net, attribute)
        before.append(_states(was, index, net.vocab))
        after.append(_states(tag_predict(_read(model, net, moved), net.vocab), index, net.vocab))
    return before, after


def _states(tags: torch.Tensor, index: int, vocab) -> list[str]:
    """What each row of multi-hot ``tags`` (N, T) has of tag ``index``'s unit: the member of its
    group ("yellow eyes", or "no ribbon" where a group may be empty), else the tag or "no <tag>"."""
    group = vocab.group_of(index)
    members = list(group.members) if group else [index]
    none = f"no {group.name}" if group else f"no {vocab.names[index]}"
    on, which = tags[:, members].max(1)
    return [vocab.names[members[w]] if o > 0 else none for o, w in zip(on.tolist(), which.tolist())]


def flip_by_before(before: torch.Tensor, after: torch.Tensor, flipped: torch.Tensor, index: int,
                   vocab) -> dict[str, dict[str, Any]]:
    """The flip rate of edits of tag ``index`` split by what the draws had of its unit before
    (``_states``), most common first: ``n`` draws, their ``flip_rate``, and what the edits that
    missed left them as (``missed_as``, counts): where a direction falls short, and from where."""
    was, now = _states(before, index, vocab), _states(after, index, vocab)
    out: dict[str, dict[str, Any]] = {}
    for state in sorted(set(was), key=lambda s: (-was.count(s), s)):
        rows = [i for i, s in enumerate(was) if s == state]
        missed = Counter(now[i] for i in rows if not flipped[i])
        out[state] = {"n": len(rows), "flip_rate": float(flipped[rows].double().mean()),
                      "missed_as": dict(sorted(missed.items(), key=lambda kv: (-kv[1], kv[0])))}
    return out


def in_its_space(model, record: dict):
    """The model seen in the latent space the direction ``record`` lives in (its "space": the noise,
    or w, the whitened output of a mapping network: ``genlab.latent.WSpace``)."""
    try:
        return in_space(model, record.get("space", "noise"))
    except ValueError as e:
        raise CheckpointError(f"the direction of {record.get('attribute')!r} lives in {record.get('space')!r}: {e}") from None


def read(run_dir: str | Path) -> dict[str, dict]:
    """The run's directions (attribute -> record), {} when it has none."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text())
        ok = isinstance(records, dict) and all(
            isinstance(r, dict) and isinstance(r.get("vector"), list) and r["vector"]
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in r["vector"]) for r in records.values())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        ok = False
    if not ok:
        raise CheckpointError(f"{path} is damaged: find the directions again with 'genlab directions'")
    return records


def write(run_dir: str | Path, records: dict[str, dict]) -> Path:
    from genlab.files import atomic_write_text

    return atomic_write_text(Path(run_dir) / FILE, json.dumps(records, indent=1) + "\n")


def vector(records: dict[str, dict], name: str, model) -> torch.Tensor:
    """The unit direction stored for tag ``name``, checked against the model's noise size."""
    if name not in records:
        known = ", ".join(sorted(records)) or "none yet"
        raise GenlabError(f"this run has no direction for {name!r} (it has: {known}); find one with "
                          f"'genlab directions RUN --attribute {name!r}'")
    v = torch.tensor(records[name]["vector"], dtype=torch.float32)
    if v.numel() != noise_dim(model):
        raise CheckpointError(f"the direction of {name!r} has {v.numel()} values, this run's noise {noise_dim(model)}")
    return v / v.norm()
