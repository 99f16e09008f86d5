"""Faces from tags on toonfaces: was the tag obeyed, at what cost, and do attribute directions edit?

Protocol:
  - data: toonfaces (genlab's synthetic tagged faces, seed 0, 20,000 at 64 x 64; 18,000 train /
    2,000 test by the folder split);
  - models: each row is `genlab train PRESET --data toonfaces` with no other flag (the 64 x 64
    recipe), plus the row's settings:
        cgan (projection)        D(x, c) by projection                      (the recipe)
        cgan (tiled)             d_condition=tile: tags tiled onto D's 4 x 4 map
        cgan (matching-aware)    mismatch=true: reals with wrong tags as fakes (GAN-CLS)
        cgan (tiled, matching-aware)  both: Reed et al. 2016's D and loss together
        acgan (multi-label)      D does not see the tags; a multi-label head predicts them
        acgan (multi-label, 16,000 steps)  the same at the previous recipe's length
        dcgan (unconditional)    the same networks without tags; D judges pairs, R1 penalty
  - metrics, in the feature space of the shipped toonfaces tag evaluator: FID, KID, precision and
    recall of --n-samples samples (tags ~ p(c)) against the test set; tag accuracy per group (hair
    colour, eye colour, ribbon, each binary tag) of samples asked for the tags of --n-samples test
    faces, beside the evaluator's agreement with the real test faces;
  - directions (the unconditional run of each seed): for each of --attributes, an InterFaceGAN
    direction from 10,000 scored samples, the same made orthogonal to every hair and eye colour's
    direction (of the groups it is not in), and the same pulled away from where every other tag and
    group's evaluator scores change (--preserve all, their Jacobian over 1,000 draws, weight 20);
    flip rate and preservation at strength 3 on 1,000 draws, beside those of a random unit direction;
  - mean +- sample std over seeds 0, 1, 2 (evaluation seed 0), minutes of training on this machine.

    python benchmarks/toonfaces/run.py --jobs 2 --threads 1   # every row, 3 seeds
    python benchmarks/toonfaces/run.py --quick                # the pipeline in seconds (for tests)
    python benchmarks/toonfaces/run.py --orthogonal RUN       # directions orthogonal to more tags
    python benchmarks/toonfaces/run.py --every-tag RUN...     # every tag as the attribute (kept runs)

Runs already in the results file are kept (--fresh redoes them). Writes results.json, the prompt grid
and an edit grid of seed 0, and the table into README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from benchmarks.common import mean_std, run_and_save, splice  # noqa: E402

ROWS = {  # the rows measured at the previous recipe's 16,000 steps say so
    "cgan (projection)": ("cgan", []),
    "cgan (projection, 16,000 steps)": ("cgan", ["train.steps=16000"]),
    "cgan (tiled)": ("cgan", ["d_condition=tile", "train.steps=16000"]),
    "cgan (matching-aware)": ("cgan", ["mismatch=true", "train.steps=16000"]),
    "cgan (tiled, matching-aware)": ("cgan", ["d_condition=tile", "mismatch=true", "train.steps=16000"]),
    "acgan (multi-label)": ("acgan", []),
    "acgan (multi-label, 16,000 steps)": ("acgan", ["train.steps=16000"]),
    "dcgan (unconditional)": ("dcgan", []),
}
PROMPTS = ("blue hair blue eyes", "blue hair green eyes", "blue hair red eyes", "green hair blue eyes",
           "green hair red eyes")  # the course's test prompts
ATTRIBUTES = ("smile", "glasses", "blonde hair", "twintails")
SCORES = ("fid", "kid", "precision", "recall")
GROUPS = ("hair", "eyes", "ribbon", "glasses", "smile", "blush")
DIRECTION_SCORES = ("flip_rate", "preservation", "orthogonal_flip_rate", "orthogonal_preservation",
                    "preserving_flip_rate", "preserving_preservation", "random_flip_rate", "random_preservation",
                    "svm_accuracy")
PRESERVED = ("preserved", "orthogonal_preserved", "preserving_preserved", "random_preserved")
KEEP = ("hair", "eyes")  # an edit's direction is also made orthogonal to these tag groups' (InterFaceGAN 3.4)


def slug(row: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-")


def run_one(job: dict) -> dict:
    """Train (or adopt) and score one row at one seed."""
    import torch

    import genlab

    run_dir = Path(job["run_dir"])
    preset, overrides = row_overrides(job["row"], job)
    if job.get("adopt"):  # a run of this row and seed trained before (see --adopt)
        model, train_s = _adopted(Path(job["adopt"]), job), None
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        t0 = time.perf_counter()
        model = genlab.train(preset, job["data"], out=run_dir, seed=job["seed"], progress=False, tensorboard=False,
                             sample_every=0, checkpoint_every=0, overrides=overrides, **job["train"])
        train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pictures = Path(job["picture_dir"]) if job["seed"] == 0 and job.get("picture_dir") else None
    scores = score(model, job["n_samples"], job["attributes"], job["direction_codes"], job["edit_n"],
                   pictures, slug(job["row"]), job.get("jacobian_codes"))
    eval_s = time.perf_counter() - t0
    if not job.get("keep") and not job.get("adopt"):
        shutil.rmtree(run_dir, ignore_errors=True)
    return {"row": job["row"], "seed": job["seed"], **scores, "config": row_config(job),
            "train_seconds": round(train_s, 1) if train_s else None,
            **({"adopted": job["adopt"]} if job.get("adopt") else {}), "eval_seconds": round(eval_s, 1),
            "threads": torch.get_num_threads(), "machine": _machine(), "command": command(job["row"], job)}


def score(model, n: int = 2000, attributes=ATTRIBUTES, direction_codes: int = 10_000, edit_n: int = 1000,
          picture_dir: Path | None = None, name: str = "", jacobian_codes: int | None = None) -> dict:
    """The protocol's scores of one trained model: FID, KID, precision, recall of ``n`` samples; tag
    accuracy (a tag-conditioned model) or the directions of ``attributes`` (an unconditional one)."""
    import torch

    from genlab import directions
    from genlab.api import load_data
    from genlab.images import save_grid
    from genlab.metrics.conditional import tag_accuracy
    from genlab.metrics.images import score_images

    data = load_data(model.run_config.data)
    g = torch.Generator().manual_seed(0)
    samples = torch.cat([model.sample(min(500, n - i), generator=g).cpu() for i in range(0, n, 500)])
    scores = score_images(samples, data, seed=0)
    record = {"steps": model.step, **{k: scores.get(k) for k in SCORES}, "n_samples": n, "pictures": []}
    if model.condition is not None:
        tags = tag_accuracy(model, data, n=n, seed=0)
        record.update(tag_accuracy=tags["tag_accuracy"], tag_accuracy_real=tags["tag_accuracy_real"])
        if picture_dir:
            record["pictures"].append(_prompt_grid(model, picture_dir / f"prompts-{name}.png"))
        return record
    net = directions.tagged_evaluator(model)
    scored = directions.scored_codes(model, net, direction_codes, seed=0)  # one set of scored codes for all
    groups = {g.name: g for g in net.vocab.groups}
    grams = directions.sensitivity(model, net, directions.tag_units(net.vocab),
                                   n=jacobian_codes or directions.JACOBIAN_CODES, seed=0)  # shared by all attributes
    found = {}
    for attribute in attributes:
        rec = directions.compute(model, net, attribute, scored=scored)
        v = torch.tensor(rec["vector"])
        found[rec["attribute"]] = {"svm_accuracy": rec["svm_accuracy"],
                                   **directions.edit_scores(model, net, attribute, v, n=edit_n, seed=0)}
        keep = [k for k in KEEP if k in groups and net.vocab.names.index(rec["attribute"]) not in groups[k].members]
        kept = directions.compute(model, net, attribute, scored=scored, orthogonal_to=tuple(keep))
        s = directions.edit_scores(model, net, attribute, torch.tensor(kept["vector"]), n=edit_n, seed=0, baseline=False)
        found[rec["attribute"]].update(orthogonal_to=keep, orthogonal_flip_rate=s["flip_rate"],
                                       orthogonal_preservation=s["preservation"], orthogonal_preserved=s["preserved"])
        soft = directions.compute(model, net, attribute, scored=scored, preserve=("all",), grams=grams)
        s = directions.edit_scores(model, net, attribute, torch.tensor(soft["vector"]), n=edit_n, seed=0, baseline=False)
        found[rec["attribute"]].update(preserve_weight=soft["preserve_weight"], preserving_flip_rate=s["flip_rate"],
                                       preserving_preservation=s["preservation"], preserving_preserved=s["preserved"])
        if picture_dir and attribute == attributes[0]:
            for suffix, vector in (("", v), ("-preserving", torch.tensor(soft["vector"]))):
                x = directions.edit_grid(model, vector, torch.linspace(-3, 3, 7), 8, seed=0)
                path = picture_dir / f"edit-{slug(attribute)}{suffix}.png"
                save_grid(x, path, nrow=7, scale=2)
                record["pictures"].append(path.name)
    record["directions"] = found
    return record


def _adopted(run_dir: Path, job: dict):
    """The trained model of ``run_dir`` once its config is the row's at the job's seed: the same
    run a fresh one would be, as genlab's resume is bit-exact (e.g. trained to 4,000 steps, then
    resumed to the recipe's steps). Its training time is not comparable and is left out."""
    import genlab
    from genlab.api import read_run_config

    have = read_run_config(run_dir)
    model = genlab.load(run_dir)
    want = row_config(job)
    if not ({**_what_is_learned(have), "steps": model.step} == want and have.train.seed == job["seed"]):
        raise SystemExit(f"error: {run_dir} is not the {job['row']} row at seed {job['seed']} and "
                         f"{want['steps']} steps; it cannot stand for it")
    return model


def _machine() -> str:
    """What sets a run's minutes here: the cores and the CPU's bf16 support, e.g. "2 cores, CPU flags amx_bf16, avx512_bf16"."""
    import os

    import torch

    from genlab.training.precision import native_bf16

    return f"{os.cpu_count()} cores, {native_bf16(torch.device('cpu'))[1]}"


def row_overrides(row: str, job: dict) -> tuple[str, list[str]]:
    """The row's preset and overrides with the job's extra ones; a training setting the job sets
    (--quick's few steps) wins over the row's (the 16,000 steps some rows were measured at)."""
    preset, overrides = ROWS[row]
    return preset, [o for o in overrides if o.split("=")[0].removeprefix("train.") not in job["train"]] + job["extra"]


def row_config(job: dict) -> dict:
    """What the row's run learns (any seed): its model, model config and the training settings
    that change what is learned. A run in the results file stands for its row while this is the
    same, whatever the recipe and the row's overrides were called when it ran."""
    from genlab.api import build_config

    preset, overrides = row_overrides(job["row"], job)
    return _what_is_learned(build_config(preset, data=job["data"], overrides=overrides, **job["train"]))


def _what_is_learned(cfg) -> dict:
    from genlab.config import to_dict

    return json.loads(json.dumps({"model": cfg.model, "model_config": to_dict(cfg.model_config),
                                  **{k: getattr(cfg.train, k) for k in ("steps", "batch_size", "precision")}}))


def still_valid(runs: list[dict], setting: dict) -> list[dict]:
    """The runs whose config is still their row's (the others are redone), each with the command
    that trains it today: a recipe that takes in a row's override moves it to the command line."""
    return [{**r, "command": command(r["row"], {**setting, "seed": r["seed"]})} for r in runs
            if r["row"] in ROWS and _with_defaults(r.get("config")) == row_config({**setting, "row": r["row"]})]


def _with_defaults(config: dict | None) -> dict | None:
    """A saved run's config read back as genlab reads a run's (from_dict): the settings genlab gained
    since at their defaults, the behaviour the run had."""
    from genlab.config import from_dict, to_dict
    from genlab.errors import ConfigError
    from genlab.models import MODELS

    if not config or config.get("model") not in MODELS:
        return config
    try:
        mc = from_dict(MODELS[config["model"]].Config, config["model_config"], section="model")
    except ConfigError:  # a setting genlab no longer has: the run is redone
        return config
    return {**config, "model_config": json.loads(json.dumps(to_dict(mc)))}


def command(row: str, job: dict) -> str:
    """The command that trains the row's run at the job's seed (under today's recipe)."""
    preset, overrides = row_overrides(row, job)
    ov = "".join(f" {o}" for o in overrides)
    return f"genlab train {preset} --data {job['data']} --out DIR{ov} train.seed={job['seed']}"


def _prompt_grid(model, path: Path) -> str:
    """The course's test prompts, a row each, the same noise in every row."""
    import torch

    from genlab.data.tags import parse_prompt
    from genlab.images import save_grid

    g = torch.Generator().manual_seed(0)
    z = model.prior(8, g)
    x = torch.cat([model.decode(model.with_condition(z, parse_prompt(p, model.condition.vocab), g)).cpu()
                   for p in PROMPTS])
    save_grid(x, path, nrow=8, scale=2)
    return path.name


def orthogonal_variants(run_dir: str, attributes, edit_n: int = 1000, codes: int = 10_000,
                        weights=(10.0, 20.0, 30.0), jacobian_codes: int | None = None) -> str:
    """Each attribute's direction as found, and made orthogonal to: the hair and eye colours (the
    protocol's), every other tag but those colours, every other tag and group; then pulled away from
    where every other tag's scores change (--preserve all) at each of ``weights``; flip rate and other
    tags kept at strength 3 (markdown)."""
    import torch

    import genlab
    from genlab import directions
    from genlab.errors import GenlabError

    model = genlab.load(run_dir)
    net = directions.tagged_evaluator(model)
    scored = directions.scored_codes(model, net, codes, seed=0)
    vocab = net.vocab
    grams = directions.sensitivity(model, net, directions.tag_units(vocab),
                                   n=jacobian_codes or directions.JACOBIAN_CODES, seed=0)
    lines = ["| attribute | made orthogonal to | flip rate | other tags kept | eyes kept | hair kept |",
             "|---|---|---|---|---|---|"]
    for attribute in attributes:
        index = directions.attribute_index(net, attribute)
        own = next((g for g in vocab.groups if index in g.members), None)
        grouped = {m for g in vocab.groups for m in g.members}
        others = [g.name for g in vocab.groups if g is not own]
        others += [vocab.names[i] for i in range(len(vocab.names)) if i not in grouped and i != index]
        colours = [k for k in KEEP if k in others]
        variants = {"nothing": ([], ()), "hair and eye colour": (colours, ()),
                    "every other tag but the colours": ([o for o in others if o not in KEEP], ()),
                    "every other tag": (others, ())}
        variants.update({f"none; every other tag kept by its Jacobian, weight {w:g}": ([], (w,)) for w in weights})
        for label, (orthogonal_to, weight) in variants.items():
            soft = {"preserve": ("all",), "preserve_weight": weight[0], "grams": grams} if weight else {}
            try:
                rec = directions.compute(model, net, attribute, scored=scored, orthogonal_to=tuple(orthogonal_to),
                                         **soft)
            except GenlabError:  # a latent too small for that many directions
                lines.append(f"| {attribute} | {label} | in their span | | | |")
                continue
            s = directions.edit_scores(model, net, attribute, torch.tensor(rec["vector"]), n=edit_n, seed=0, baseline=False)
            kept = s["preserved"]
            lines.append(f"| {attribute} | {label} | {s['flip_rate']:.3f} | {s['preservation']:.3f} | "
                         f"{kept.get('eyes', float('nan')):.2f} | {kept.get('hair', float('nan')):.2f} |")
    return "\n".join(lines)


def every_tag_one(job: dict) -> dict:
    """Every tag of one unconditional run's vocabulary as the attribute: the direction as found and
    the one kept by every other tag's Jacobian (weight ``job["weight"]``), flip rate and other tags
    kept at strength 3, beside a random direction's. ``job["as_group"]`` (a name, then tags) reads
    those binary tags as one exclusive group: the arg-max of their logits, one unit of the other tags
    kept; ``job["only"]`` limits the attributes."""
    import torch

    import genlab
    from genlab import directions
    from genlab.errors import GenlabError

    from genlab.latent import in_space
    from genlab.metrics.evaluator import load_evaluator

    t0 = time.perf_counter()
    model = in_space(genlab.load(job["run"]), job.get("space", "noise"))
    net = directions.tagged_evaluator(model)
    judge = load_evaluator(path=job["judge"]) if job.get("judge") else None
    if job.get("as_group"):
        net.vocab = read_as_group(net.vocab, job["as_group"][0], job["as_group"][1:])
        if judge is not None:
            judge.vocab = read_as_group(judge.vocab, job["as_group"][0], job["as_group"][1:])
    scored = directions.scored_codes(model, net, job["codes"], seed=0)
    grams = directions.sensitivity(model, net, directions.tag_units(net.vocab), n=job["jacobian_codes"], seed=0)
    found = {}
    for tag in job.get("only") or net.vocab.names:
        try:
            plain = directions.compute(model, net, tag, scored=scored)
            kept = directions.compute(model, net, tag, scored=scored, preserve=("all",), grams=grams,
                                      preserve_weight=job["weight"])
        except GenlabError as e:  # e.g. a tag the model never draws: no codes to tell apart
            found[tag] = {"error": str(e)}
            continue
        a = directions.edit_scores(model, net, tag, torch.tensor(plain["vector"]), n=job["edit_n"], seed=0)
        b = directions.edit_scores(model, net, tag, torch.tensor(kept["vector"]), n=job["edit_n"], seed=0, baseline=False)
        found[tag] = {"svm_accuracy": plain["svm_accuracy"], "had_attribute": a["had_attribute"],
                      **{k: a[k] for k in ("flip_rate", "preservation", "random_flip_rate", "random_preservation")},
                      "preserving_flip_rate": b["flip_rate"], "preserving_preservation": b["preservation"],
                      "preserving_preserved": b["preserved"]}
        if job.get("held_out_keep"):  # --keep: each method's direction at the weight held-out edits choose
            found[tag]["held_out"] = {m: _kept_by_held_out(model, net, tag, m, scored, grams, job["held_out_keep"],
                                                           job["edit_n"], a if m == "svm" else None, judge)
                                      for m in job.get("methods") or directions.METHODS}
        if job.get("weights"):  # --weights: the same at each weight, [flip rate, other tags kept]
            scored_at = {0: [a["flip_rate"], a["preservation"]], job["weight"]: [b["flip_rate"], b["preservation"]]}
            found[tag]["by_weight"] = {
                f"{w:g}": scored_at[w] if w in scored_at else _kept_at(model, net, tag, scored, grams, w, job["edit_n"])
                for w in job["weights"]}
    return {"run": job["run"], "seed": model.run_config.train.seed, "steps": model.step, "weight": job["weight"],
            "as_group": job.get("as_group"), "only": job.get("only"), "codes": job["codes"],
            "jacobian_codes": job["jacobian_codes"], "edit_n": job["edit_n"],
            **{k: job[k] for k in ("weights", "held_out_keep", "judge", "methods") if k in job},  # a later call keeps it by these
            "tags": found, "seconds": round(time.perf_counter() - t0, 1), "machine": _machine(),
            "threads": torch.get_num_threads()}


def _kept_at(model, net, tag: str, scored, grams, weight: float, edit_n: int) -> list[float]:
    """[flip rate, other tags kept] at strength 3 of ``tag``'s direction kept by every other tag's
    Jacobian at ``weight``."""
    import torch

    from genlab import directions

    kept = directions.compute(model, net, tag, scored=scored, preserve=("all",), grams=grams, preserve_weight=weight)
    s = directions.edit_scores(model, net, tag, torch.tensor(kept["vector"]), n=edit_n, seed=0, baseline=False)
    return [s["flip_rate"], s["preservation"]]


GRADIENT_CODES = 2000  # where --keep's mean gradients are taken (of the 10,000 scored codes)


def _kept_by_held_out(model, net, tag: str, method: str, scored, grams, keep: float, edit_n: int,
                      found: dict | None = None, judge=None) -> dict:
    """``tag``'s direction by ``method``, kept by every other tag's Jacobian at the least weight whose
    held-out edits keep ``keep`` of the other tags (``genlab directions --preserve all --keep``):
    the weight, what the held-out edits gave at each weight tried, and flip rate and other tags kept
    on the protocol's edits (seed 0), beside the direction as found (weight 0; its scores ``found``
    when already taken), and with a ``judge`` (another evaluator of the same tags, one the direction
    was not found with) its flip rate and other tags kept on the same draws scored by that judge as
    if it were the protocol's (it reads each draw before, so it decides which way the draw is moved).
    The mean gradient (the learned direction's start too) is taken at the first GRADIENT_CODES of the
    scored codes."""
    import torch

    from genlab import directions

    if method != "svm":
        scored = (scored[0][:GRADIENT_CODES], None)
    rec = directions.compute(model, net, tag, method=method, scored=scored, preserve=("all",), grams=grams,
                             keep=keep, edit_n=edit_n)
    s = directions.edit_scores(model, net, tag, torch.tensor(rec["vector"]), n=edit_n, seed=0, baseline=False)
    if found is None:
        plain = directions.compute(model, net, tag, method=method, scored=scored)
        found = directions.edit_scores(model, net, tag, torch.tensor(plain["vector"]), n=edit_n, seed=0, baseline=False)
    judged = {}
    if judge is not None:
        j = directions.edit_scores(model, judge, tag, torch.tensor(rec["vector"]), n=edit_n, seed=0, baseline=False)
        judged = {"judged": [j["flip_rate"], j["preservation"]]}
    return {"weight": rec["preserve_weight"], "tried": rec["held_out"]["tried"], "flip_rate": s["flip_rate"],
            "preservation": s["preservation"], "preserved": s["preserved"], "flip_by_before": s["flip_by_before"],
            "found": [found["flip_rate"], found["preservation"]], **judged}


def screen_one(job: dict) -> dict:
    """``job["only"]``'s tags (else the vocabulary's) each as the attribute of one unconditional run:
    its learned direction at the default weight of its keep term (``genlab directions --method learned
    --preserve all``), scored on held-out edits only (seed + HELD_OUT), never the protocol's: which
    tags are worth the --keep protocol is chosen without looking at the edits that score it."""
    import torch

    import genlab
    from genlab import directions
    from genlab.errors import GenlabError

    t0 = time.perf_counter()
    model = genlab.load(job["run"])
    net = directions.tagged_evaluator(model)
    codes = directions.prior_codes(model, job["codes"], seed=0)[:GRADIENT_CODES]  # where --keep's gradients start
    found = {}
    for tag in job.get("only") or net.vocab.names:
        try:
            rec = directions.compute(model, net, tag, method="learned", scored=(codes, None), preserve=("all",))
        except GenlabError as e:
            found[tag] = {"error": str(e)}
            continue
        s = directions.edit_scores(model, net, tag, torch.tensor(rec["vector"]), n=job["edit_n"],
                                   seed=directions.HELD_OUT, baseline=False)
        found[tag] = {"weight": rec["preserve_weight"], "flip_rate": s["flip_rate"], "preservation": s["preservation"],
                      "had_attribute": s["had_attribute"]}
    return {"run": job["run"], "seed": model.run_config.train.seed, "steps": model.step, "codes": job["codes"],
            "edit_n": job["edit_n"], "held_out_seed": directions.HELD_OUT, "only": job.get("only"), "tags": found,
            "seconds": round(time.perf_counter() - t0, 1), "machine": _machine(), "threads": torch.get_num_threads()}


def screen_markdown(runs: list[dict]) -> str:
    """Every screened tag (of the records of one run's parts), most flipped first: the keep term's
    weight, flip rate and other tags kept on the held-out edits, and whether that meets the target."""
    tags = {t: r for run in runs for t, r in run["tags"].items()}
    ok = sorted((t for t in tags if "error" not in tags[t]), key=lambda t: (-tags[t]["flip_rate"], t))
    lines = ["| attribute | had it (of held-out draws) | keep weight | flip rate | other tags kept | target |",
             "|---|---|---|---|---|---|"]
    for t in ok:
        r = tags[t]
        lines.append(f"| {t} | {r['had_attribute']} | {r['weight']:g} | {r['flip_rate']:.3f} | "
                     f"{r['preservation']:.3f} | {'**met**' if met(r['flip_rate'], r['preservation']) else '-'} |")
    lines += [f"| {t} | {tags[t]['error']} |||||" for t in sorted(set(tags) - set(ok))]
    return "\n".join(lines)


def screen(args, codes: int, edit_n: int) -> None:
    """--screen RUN: screen_one over the tags, split into --jobs parts; screen-learned.json and its README table."""
    import genlab
    from genlab.directions import tagged_evaluator
    from genlab.errors import GenlabError

    run_dir = str(Path(args.screen).resolve())
    try:
        names = tagged_evaluator(genlab.load(run_dir)).vocab.names
    except (GenlabError, OSError) as e:
        raise SystemExit(f"error: --screen: {e}") from None
    tags = list(args.only or names)
    unknown = [t for t in tags if t not in names]
    if unknown:
        raise SystemExit(f"error: --screen --only: not tags of this run: {', '.join(unknown)}")
    parts = max(1, min(args.jobs, len(tags)))
    jobs = [{"run": run_dir, "codes": codes, "edit_n": edit_n, "only": tags[i::parts]} for i in range(parts)]
    out = Path(args.out) if args.out else (HERE / "screen-learned.json" if not args.quick else
                                          Path(args.run_dir) / "screen-learned-quick.json")

    def report(r: dict) -> None:
        print(f"{len(r['tags'])} tags: {r['seconds'] / 60:.1f} min", file=sys.stderr, flush=True)

    record = run_and_save(screen_one, jobs, parts, args.threads or max(1, 2 // parts), [], out,
                          lambda rs: {"benchmark": "toonfaces learned-direction screen", "quick": args.quick}, report)
    table = screen_markdown(record["runs"])
    _into_readme(out, {out.stem: table}, args.quick)
    print(table)


def read_as_group(vocab, name: str, tags: list[str]):
    """``vocab`` with the binary ``tags`` made one exclusive group ``name`` that every image has one of."""
    import dataclasses

    from genlab.data.tags import TagGroup
    from genlab.errors import GenlabError

    try:
        members = tuple(sorted(vocab.index(t) for t in tags))
    except GenlabError as e:
        raise SystemExit(f"error: --as-group: {e}") from None
    if len(members) < 2 or any(i not in vocab.binary for i in members):
        binary = ", ".join(vocab.names[i] for i in vocab.binary)
        raise SystemExit(f"error: --as-group takes a name and at least 2 binary tags of {binary}")
    return dataclasses.replace(vocab, groups=(*vocab.groups, TagGroup(name, members, True)),
                               binary=tuple(i for i in vocab.binary if i not in members))


def met(flip: float, kept: float) -> bool:
    """The issue's target for a direction at strength 3: flipped at least 0.80, other tags kept 0.90."""
    return flip >= 0.80 and kept >= 0.90


def every_tag_markdown(runs: list[dict]) -> str:
    """Per tag: mean ± std over the runs of flip rate and other tags kept, as found and kept by the
    Jacobian, and at how many seeds the kept one meets the target."""
    runs = sorted(runs, key=lambda r: r["seed"])
    k = len(runs)
    lines = ["| attribute | had it (of 1,000) | as found: flip rate | its other tags kept | kept by the Jacobian: "
             "flip rate | its other tags kept | target met (seeds) | a random direction: flip rate | its other "
             "tags kept |", "|---|---|---|---|---|---|---|---|---|"]
    for tag in runs[0]["tags"]:
        rs = [r["tags"][tag] for r in runs]
        if any("error" in r for r in rs):
            lines.append(f"| {tag} | " + "; ".join(sorted({r['error'] for r in rs if 'error' in r})) + " |||||||| ")
            continue
        cell = {key: _mean_std([r[key] for r in rs]) for key in (
            "had_attribute", "flip_rate", "preservation", "preserving_flip_rate", "preserving_preservation",
            "random_flip_rate", "random_preservation")}
        hits = sum(met(r["preserving_flip_rate"], r["preserving_preservation"]) for r in rs)
        mean = met(cell["preserving_flip_rate"][0], cell["preserving_preservation"][0])
        lines.append(f"| {tag} | {cell['had_attribute'][0]:.0f} | "
                     + " | ".join(_pm(cell[key], 3, k) for key in ("flip_rate", "preservation", "preserving_flip_rate",
                                                                     "preserving_preservation"))
                     + f" | {hits} of {k}{' (mean: met)' if mean else ''} | "
                     + " | ".join(_pm(cell[key], 3, k) for key in ("random_flip_rate", "random_preservation")) + " |")
    return "\n".join(lines)


def by_weight_markdown(runs: list[dict]) -> str:
    """Per tag (of --only) and preservation weight: mean flip rate / other tags kept over the runs,
    at how many seeds the target is met and whether the means meet it; weight 0 is the direction as found."""
    runs = sorted(runs, key=lambda r: r["seed"])
    weights = next((list(t["by_weight"]) for t in runs[0]["tags"].values() if "by_weight" in t), [])
    lines = ["| attribute | " + " | ".join(["as found", *(f"weight {w}" for w in weights)]) + " |",
             "|---|" + "---|" * (len(weights) + 1)]
    for tag in runs[0]["tags"]:
        rs = [r["tags"][tag] for r in runs]
        if any("error" in r for r in rs):
            continue
        pairs = [[[r["flip_rate"], r["preservation"]] for r in rs]] + [[r["by_weight"][w] for r in rs] for w in weights]
        cells = []
        for at in pairs:
            flip, kept = (sum(x[i] for x in at) / len(at) for i in (0, 1))
            hits = sum(met(*x) for x in at)
            counts = [f"**{hits} of {len(at)}**"] if hits else []
            counts += ["mean: met"] if met(flip, kept) else []
            cells.append(f"{flip:.3f} / {kept:.3f}" + (f" ({', '.join(counts)})" if counts else ""))
        lines.append(f"| {tag} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def held_out_markdown(runs: list[dict]) -> str:
    """Per tag (of --only) and method: the weight held-out edits chose at each seed, and over the
    runs the mean flip rate / other tags kept on the protocol's edits, as found and at that weight,
    with the seeds that meet the target."""
    runs = sorted(runs, key=lambda r: r["seed"])
    k = len(runs)
    judged = all(r.get("judge") for r in runs)
    lines = ["| attribute | method | as found: flip rate / other tags kept | weight chosen (seed " +
             ", ".join(str(r["seed"]) for r in runs) + ") | kept by that weight: flip rate | its other tags kept "
             "| target met (seeds) |" + (" read by another evaluator: flip rate / other tags kept (met) |" if judged else ""),
             "|---|---|---|---|---|---|---|" + ("---|" if judged else "")]
    for tag in runs[0]["tags"]:
        rs = [r["tags"][tag] for r in runs]
        if any("error" in r or "held_out" not in r for r in rs):
            continue
        for method in rs[0]["held_out"]:
            hs = [r["held_out"][method] for r in rs]
            found = [sum(h["found"][i] for h in hs) / k for i in (0, 1)]
            flip, kept = (_mean_std([h[key] for h in hs]) for key in ("flip_rate", "preservation"))
            hits = sum(met(h["flip_rate"], h["preservation"]) for h in hs)
            mean = met(flip[0], kept[0])
            lines.append(f"| {tag} | {method} | {found[0]:.3f} / {found[1]:.3f} | "
                         + ", ".join(f"{h['weight']:g}" for h in hs)
                         + f" | {_pm(flip, 3, k)} | {_pm(kept, 3, k)} | "
                         + (f"**{hits} of {k}**" if hits else f"0 of {k}") + (" (mean: met)" if mean else "") + " |"
                         + (f" {_judged(hs)} |" if judged else ""))
    return "\n".join(lines)


def _judged(held: list[dict]) -> str:
    """The mean flip rate / other tags kept of the same draws scored by the judge, and the seeds it says meet the target."""
    flip, kept = (sum(h["judged"][i] for h in held) / len(held) for i in (0, 1))
    hits = sum(met(*h["judged"]) for h in held)
    return f"{flip:.3f} / {kept:.3f} ({hits} of {len(held)})"


def by_before_markdown(runs: list[dict]) -> str:
    """Per tag (of --only) and what the edited draws had of it before (commonest first): how many (the
    mean over the runs), each method's flip rate at the weight held-out edits chose (mean ± std), and what the
    missed edits left the draws as (the three commonest, counted over the runs) for the last method."""
    runs = sorted(runs, key=lambda r: r["seed"])
    k = len(runs)
    methods = next((list(t["held_out"]) for t in runs[0]["tags"].values() if "held_out" in t), ["svm"])
    lines = ["| attribute | the draw had | draws (of 1,000) | " + " | ".join(f"{m}: flip rate" for m in methods)
             + f" | missed edits left as ({methods[-1]}, {k} runs) |", "|---|---|---|" + "---|" * (len(methods) + 1)]
    for tag in runs[0]["tags"]:
        rs = [r["tags"][tag] for r in runs]
        if any("error" in r or "flip_by_before" not in r.get("held_out", {}).get(methods[-1], {}) for r in rs):
            continue
        counts: dict[str, int] = {}  # the states, commonest over the runs first
        for r in rs:
            for state, b in r["held_out"][methods[-1]]["flip_by_before"].items():
                counts[state] = counts.get(state, 0) + b["n"]
        states = sorted(counts, key=lambda st: (-counts[st], st))
        for state in states:
            by = {m: [r["held_out"][m]["flip_by_before"].get(state) for r in rs] for m in methods}
            if any(b is None for b in by[methods[-1]]):
                continue  # a state some run never drew
            missed: dict[str, int] = {}
            for b in by[methods[-1]]:
                for where, c in b["missed_as"].items():
                    missed[where] = missed.get(where, 0) + c
            top = sorted(missed.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            lines.append(f"| {tag} | {state} | {sum(b['n'] for b in by[methods[-1]]) / k:.0f} | "
                         + " | ".join(_pm(_mean_std([b["flip_rate"] for b in by[m]]), 2, k) if None not in by[m]
                                      else "-" for m in methods)
                         + " | " + (", ".join(f"{w} {c}" for w, c in top) or "-") + " |")
    return "\n".join(lines)


def disagree_one(job: dict) -> dict:
    """The direction of ``job["attribute"]`` saved in ``job["run"]`` (``genlab directions``), its
    protocol edits (``edit_n`` draws of seed 0 at strength 3) read by the protocol's evaluator and by
    ``job["judge"]``: how often each says the attribute turned (by its own reading before and after),
    and what each says the edited draws have of the attribute's unit where the two differ (pairs,
    commonest first)."""
    from collections import Counter

    import torch

    import genlab
    from genlab import directions
    from genlab.metrics.evaluator import load_evaluator

    model = genlab.load(job["run"])
    net = directions.tagged_evaluator(model)
    name = net.vocab.names[directions.attribute_index(net, job["attribute"])]
    records = directions.read(job["run"])
    before, (ours, theirs) = directions.edit_states(model, [net, load_evaluator(path=job["judge"])], name,
                                                    directions.vector(records, name, model), n=job["edit_n"])
    record = records[name]
    turned = [sum((a == name) != (b == name) for b, a in zip(was, now)) / len(now)  # its own before and after
              for was, now in zip(before, (ours, theirs))]
    pairs = Counter((o, t) for o, t in zip(ours, theirs) if o != t)
    return {"run": job["run"], "seed": model.run_config.train.seed, "attribute": name, "judge": job["judge"],
            "method": record.get("method"), "preserve_weight": record.get("preserve_weight"), "edit_n": job["edit_n"],
            "had_attribute": sum(b == name for b in before[0]), "flip_rate": turned[0],
            "judged_flip_rate": turned[1], "read_alike": sum(o == t for o, t in zip(ours, theirs)),
            "pairs": [[o, t, c] for (o, t), c in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))],
            "threads": torch.get_num_threads()}


def disagree_markdown(runs: list[dict]) -> str:
    """A row a run and attribute: the flip rate by each evaluator, how many edited draws the two read
    alike, and the commonest ways they part (the protocol's evaluator's reading / the judge's: count)."""
    lines = ["| attribute | seed | direction | flip rate: the protocol's evaluator / the judge | edits read alike | "
             "where they part (the evaluator's reading / the judge's: edits) |", "|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["attribute"], r["seed"])):
        how = f"{r['method']}, weight {r['preserve_weight']:g}" if r.get("preserve_weight") is not None else r["method"]
        lines.append(f"| {r['attribute']} | {r['seed']} | {how} | {r['flip_rate']:.3f} / {r['judged_flip_rate']:.3f} | "
                     f"{r['read_alike']} of {r['edit_n']} | "
                     + (", ".join(f"{o} / {t}: {c}" for o, t, c in r["pairs"][:4]) or "-") + " |")
    return "\n".join(lines)


def disagree(args, edit_n: int) -> None:
    """--disagree RUN...: disagree_one for each run and --attributes; disagree.json and its README table."""
    if not args.judge:
        raise SystemExit("error: --disagree reads a run's edits by the protocol's evaluator and a judge: give --judge")
    import genlab
    from genlab import directions
    from genlab.errors import GenlabError

    _check_judge(args.judge)
    for run_dir in args.disagree:  # every run has every direction before any is read
        try:
            model = genlab.load(run_dir)
            net = directions.tagged_evaluator(model)
            for a in args.attributes:
                directions.vector(directions.read(run_dir), net.vocab.names[directions.attribute_index(net, a)], model)
        except (GenlabError, OSError) as e:
            raise SystemExit(f"error: --disagree: {e}") from None
    jobs = [{"run": str(Path(r).resolve()), "attribute": a, "judge": str(Path(args.judge).resolve()), "edit_n": edit_n}
            for r in args.disagree for a in args.attributes]
    out = Path(args.out) if args.out else (HERE / "disagree.json" if not args.quick else
                                          Path(args.run_dir) / "disagree-quick.json")
    record = run_and_save(disagree_one, jobs, 1, args.threads or 2, [], out,
                          lambda rs: {"benchmark": "toonfaces: one direction's edits read by two evaluators",
                                      "quick": args.quick}, lambda r: None)
    table = disagree_markdown(record["runs"])
    _into_readme(out, {out.stem: table}, args.quick)
    print(table)


def confusion(run_dir: str, group: str, n: int, seed: int = 0) -> str:
    """For each member of a tag group: how often samples asked for it are read as it by the tag
    evaluator, and what they are read as otherwise (markdown)."""
    import torch

    import genlab
    from genlab import directions
    from genlab.models.conditions import tag_predict

    model = genlab.load(run_dir)
    net = directions.tagged_evaluator(model)
    members = next((g.members for g in net.vocab.groups if g.name == group), None)
    if members is None:
        raise SystemExit(f"error: no tag group {group!r} (groups: {', '.join(g.name for g in net.vocab.groups)})")
    names = [net.vocab.names[i] for i in members]
    g = torch.Generator().manual_seed(seed)
    lines = [f"| asked for | read as asked ({n} samples) | read as |", "|---|---|---|"]
    with torch.no_grad():
        for name in names:
            asked = [model.condition.vocab.names.index(name)]
            x = model.decode(model.with_condition(model.prior(n, g), asked, g))
            read = tag_predict(net.logits(x.cpu()), net.vocab)[:, members].argmax(1)
            counts = torch.bincount(read, minlength=len(names)).tolist()
            others = ", ".join(f"{names[j]} {c / n:.2f}" for c, j in sorted(((c, j) for j, c in enumerate(counts)
                                                                         if c and names[j] != name), reverse=True)[:3])
            lines.append(f"| {name} | {counts[names.index(name)] / n:.2f} | {others} |")
    return "\n".join(lines)


def aggregate(runs: list[dict]) -> list[dict]:
    rows = []
    for name in ROWS:
        rs = sorted((r for r in runs if r["row"] == name), key=lambda r: r["seed"])
        if not rs:
            continue
        out = {"row": name, "seeds": [r["seed"] for r in rs], "steps": rs[0]["steps"],
               "machines": sorted({r["machine"] for r in rs if r.get("machine") and r.get("train_seconds")})}
        for m in (*SCORES, "train_seconds"):
            values = [r[m] for r in rs if r.get(m) is not None]
            out[m] = [round(v, 4) for v in mean_std(values)] if values else None
        for key in ("tag_accuracy", "tag_accuracy_real"):
            if rs[0].get(key):
                out[key] = {k: [round(v, 4) for v in mean_std([r[key][k] for r in rs])] for k in rs[0][key]}
        if rs[0].get("directions"):
            out["directions"] = {a: {**{k: _mean_std([r["directions"][a].get(k) for r in rs]) for k in DIRECTION_SCORES},
                                     **{key: _per_group([r["directions"][a].get(key) for r in rs])
                                        for key in PRESERVED}}
                                 for a in rs[0]["directions"]}
        rows.append(out)
    return rows


def _mean_std(values: list) -> list | None:
    """Mean and std over the seeds that recorded the score (older runs may lack a newer one)."""
    values = [v for v in values if v is not None]
    return [round(v, 4) for v in mean_std(values)] if values else None


def _per_group(records: list[dict | None]) -> dict | None:
    """Mean and std over seeds of each group's share kept, from the seeds that recorded it."""
    records = [r for r in records if r]
    return {g: [round(v, 4) for v in mean_std([r[g] for r in records])] for g in records[0]} if records else None


def _pm(v, digits: int = 3, seeds: int = 2) -> str:
    """mean ± std, or the value alone for one seed (whose std is not 0 but unknown)."""
    if v is None:
        return "—"
    return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}" if seeds > 1 else f"{v[0]:.{digits}f}"


def _minutes(seconds) -> str:
    """Mean minutes of the runs trained by this runner (adopted runs have no comparable time)."""
    return f"{seconds[0] / 60:.1f}" if seconds else "—"


def markdown(rows: list[dict]) -> str:
    head = ["| row | steps | FID ↓ | KID ↓ | precision | recall | " + " | ".join(GROUPS) + " | min / run | seeds |",
            "|---|---|---|---|---|---|" + "---|" * len(GROUPS) + "---|---|"]
    real = next((r["tag_accuracy_real"] for r in rows if r.get("tag_accuracy_real")), None)
    for r in rows:
        tags, k = r.get("tag_accuracy") or {}, len(r["seeds"])
        head.append(f"| {r['row']} | {r['steps']:,} | {_pm(r['fid'], 2, k)} | {_pm(r['kid'], 4, k)} | "
                    f"{_pm(r['precision'], 3, k)} | {_pm(r['recall'], 3, k)} | "
                    + " | ".join(_pm(tags.get(g), 3, k) for g in GROUPS)
                    + f" | {_minutes(r['train_seconds'])} | {len(r['seeds'])} |")
    if real:
        head.append("| real test faces (the evaluator) | | | | | | " + " | ".join(_pm(real.get(k), 3, 1) for k in GROUPS)
                    + " | | |")
    edits = ["| attribute | flip rate at strength 3 | other tags kept | orthogonal to hair and eye colour: flip rate "
             "| its other tags kept | preserving every other tag: flip rate | its other tags kept "
             "| a random direction: flip rate | its other tags kept | SVM held-out accuracy | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for a, d in (r.get("directions") or {}).items():
            k = len(r["seeds"])
            edits.append(f"| {a} | " + " | ".join(_pm(d.get(m), 3, k) for m in DIRECTION_SCORES) + f" | {k} |")
    machines = {r["row"]: "; ".join(r["machines"]) for r in rows if r.get("machines")}
    if len(set(machines.values())) == 1:
        head.append(f"\nThe timed runs trained on: {next(iter(machines.values()))}.")
    elif machines:  # minutes of different machines side by side: say which rows each timed
        rows_of = {m: [row for row, mm in machines.items() if mm == m] for m in dict.fromkeys(machines.values())}
        head.append("\nThe timed runs trained on: " + "; ".join(f"{m} ({', '.join(rs)})" for m, rs in rows_of.items()) + ".")
    return ("\n".join(head) + "\n\nDirections on the unconditional run:\n\n" + "\n".join(edits)
            + "\n\nOther tags kept, by group (the direction / made orthogonal to hair and eye colour / preserving "
              "every other tag / a random direction; mean over seeds):\n\n" + _kept(rows))


def _kept(rows: list[dict]) -> str:
    found = {a: d for r in rows for a, d in (r.get("directions") or {}).items() if d.get("preserved")}
    groups = list(dict.fromkeys(g for d in found.values() for g in d["preserved"]))
    lines = ["| attribute | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
    for a, d in found.items():
        cells = [" / ".join(f"{(d.get(key) or {})[g][0]:.2f}" if g in (d.get(key) or {}) else "—"
                            for key in PRESERVED)
                 if g in d["preserved"] else "" for g in groups]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="240 faces at 16 px, a few steps, 1 seed: seconds")
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--n-samples", type=int, default=2000)
    p.add_argument("--attributes", nargs="+", default=list(ATTRIBUTES))
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--threads", type=int, default=None, help="torch threads a run (default: 2 / jobs)")
    p.add_argument("--run-dir", default="runs/bench-toonfaces")
    p.add_argument("--out", default=None, help="results file (default: results.json beside this script)")
    p.add_argument("--fresh", action="store_true", help="ignore runs already in the results file")
    p.add_argument("--keep-runs", action="store_true", help="keep the trained run directories (for --score)")
    p.add_argument("--adopt", nargs=3, action="append", default=[], metavar=("ROW", "SEED", "RUN"),
                   help="score this run for ROW at SEED instead of training one (its config must be the row's)")
    p.add_argument("--score", metavar="RUN", help="only this: the protocol's scores of any toonfaces run (JSON)")
    p.add_argument("--confusion", metavar="RUN", help="only this: a tag-conditioned run's confusion in --group")
    p.add_argument("--group", default="eyes", help="the tag group of --confusion (default eyes)")
    p.add_argument("--orthogonal", metavar="RUN",
                   help="only this: an unconditional run's directions made orthogonal to more and more tags, "
                        "then kept by the other tags' Jacobian at each of --weights")
    p.add_argument("--weights", nargs="+", type=float, default=None,
                   help="the preservation weights of --orthogonal (default 10 20 30); with --every-tag, the "
                        "kept direction also at each of these (every-tag-weights.json)")
    p.add_argument("--every-tag", nargs="+", metavar="RUN",
                   help="only this: every tag of these unconditional runs as the attribute (every-tag.json)")
    p.add_argument("--screen", metavar="RUN",
                   help="only this: every tag's learned direction on one unconditional run, scored on held-out "
                        "edits only (screen-learned.json): which tags to give --every-tag --keep")
    p.add_argument("--only", nargs="+", metavar="TAG", help="--every-tag, --screen: these tags only")
    p.add_argument("--disagree", nargs="+", metavar="RUN",
                   help="only this: the protocol's edits along each run's saved direction of each of --attributes, "
                        "read by the protocol's evaluator and by --judge: where the two part (disagree.json)")
    p.add_argument("--keep", type=float, metavar="FRACTION",
                   help="--every-tag --only: each method's kept direction at the weight held-out edits choose "
                        "(genlab directions --keep FRACTION; every-tag-keep.json)")
    p.add_argument("--methods", nargs="+", choices=("svm", "gradient", "learned"),
                   help="--every-tag --keep: these methods only (default every one)")
    p.add_argument("--judge", metavar="EVALUATOR.safetensors",
                   help="--every-tag --keep, --disagree: also read each kept direction's edits by this other "
                        "evaluator of the same tags (genlab evaluator train --data toonfaces --seed 1 --out ...)")
    p.add_argument("--as-group", nargs="+", metavar="NAME TAG",
                   help="--every-tag: read these binary tags as one exclusive group NAME (e.g. style 'long hair' ...)")
    p.add_argument("--space", choices=("noise", "w"), default="noise",
                   help="--every-tag: find and apply the directions in the noise z, or in the whitened w of a run "
                        "with a mapping network (every-tag...-w.json)")
    args = p.parse_args()
    codes, jacobian_codes, edit_n = (200, 40, 40) if args.quick else (10_000, None, 1000)
    if args.orthogonal:
        import torch

        torch.set_num_threads(args.threads or 2)
        weights = args.weights or (10.0, 20.0, 30.0)
        print(orthogonal_variants(args.orthogonal, args.attributes, weights=weights, codes=codes,
                                  edit_n=edit_n, jacobian_codes=jacobian_codes))
        return
    if args.every_tag:
        every_tag(args, codes, jacobian_codes, edit_n)
        return
    if args.screen:
        screen(args, codes, edit_n)
        return
    if args.disagree:
        disagree(args, edit_n)
        return
    if args.confusion:
        print(confusion(args.confusion, args.group, n=200))
        return
    if args.score:
        import genlab

        print(json.dumps(score(genlab.load(args.score), args.n_samples, args.attributes), indent=1))
        return
    data, extra, train = "toonfaces", [], {}
    if args.quick:
        data = _quick_data(Path(args.run_dir))
        args.seeds, args.n_samples = 1, 40
        extra = ["ngf=4", "ndf=4", "z_dim=32"]  # room for the 22 colour directions
        train = {"steps": 4, "batch_size": 16, "image_size": 16, "min_tag_count": 1}
    out = Path(args.out) if args.out else (HERE / "results.json" if not args.quick else
                                          Path(args.run_dir) / "results-quick.json")
    threads = args.threads or max(1, 2 // args.jobs)
    old = json.loads(out.read_text()).get("runs", []) if out.is_file() and not args.fresh else []
    old = still_valid(old, {"data": data, "extra": extra, "train": train})
    done = {(r["row"], r["seed"]) for r in old}
    jobs = [{"row": row, "seed": s, "data": data, "extra": extra, "train": train, "n_samples": args.n_samples,
             "attributes": args.attributes, "direction_codes": codes, "edit_n": edit_n,
             "jacobian_codes": jacobian_codes,
             "picture_dir": str(out.parent), "run_dir": str(Path(args.run_dir) / f"{slug(row)}-s{s}"),
             "keep": args.keep_runs}
            for s in range(args.seeds) for row in args.rows if (row, s) not in done]
    adopted = {(row, int(seed)): run for row, seed, run in args.adopt}
    if any(row not in ROWS for row, _ in adopted):
        raise SystemExit(f"error: --adopt ROW is one of: {', '.join(ROWS)}")
    for job in jobs:
        job["adopt"] = adopted.get((job["row"], job["seed"]))
    print(f"{len(jobs)} runs to do ({args.jobs} at a time, {threads} thread(s) each)", file=sys.stderr, flush=True)

    def report(r: dict) -> None:
        print(f"{r['row']:>24} seed {r['seed']}: fid {r['fid']:.2f}, tags {r.get('tag_accuracy')}, "
              f"directions {r.get('directions')}, " + (f"{r['train_seconds']:.0f} s" if r["train_seconds"] else "adopted"),
              file=sys.stderr, flush=True)

    record = run_and_save(run_one, jobs, args.jobs, threads, list(old), out, lambda runs: {
        "benchmark": "toonfaces", "quick": args.quick, "data": data, "n_samples": args.n_samples,
        "tables": aggregate(runs)}, report)
    readme = HERE / "README.md"
    if not args.quick and args.out is None and readme.is_file():
        readme.write_text(splice(readme.read_text(), "table", markdown(record["tables"])))
    print(markdown(record["tables"]))


def every_tag(args, codes: int, jacobian_codes: int | None, edit_n: int) -> None:
    """--every-tag: each run scored by every_tag_one (--jobs at a time); every-tag.json keeps the
    runs scored before (by path) unless --fresh; the table goes into README.md."""
    from genlab.directions import JACOBIAN_CODES, PRESERVE_WEIGHT

    name = ("every-tag" + (f"-{slug(args.as_group[0])}" if args.as_group else "")  # its file and README section
            + ("-weights" if args.weights else "") + ("-keep" if args.keep is not None else "")
            + ("-judged" if args.judge else "") + ("-w" if args.space == "w" else ""))
    if args.weights and (min(args.weights) < 0 or not args.only):
        raise SystemExit("error: --every-tag --weights takes weights >= 0 and --only TAG... (a row a tag, a column a weight)")
    if args.keep is not None and (not 0 < args.keep <= 1 or not args.only or args.weights):
        raise SystemExit("error: --every-tag --keep takes a fraction in (0, 1] and --only TAG..., and not --weights")
    if args.judge and args.keep is None:
        raise SystemExit("error: --judge reads the directions --keep chooses: give --keep too")
    if args.methods and args.keep is None:
        raise SystemExit("error: --methods names the methods of --keep's directions: give --keep too")
    if args.judge:
        _check_judge(args.judge)
    out = Path(args.out) if args.out else (HERE / f"{name}.json" if not args.quick else
                                          Path(args.run_dir) / f"{name}-quick.json")
    runs = [str(Path(r).resolve()) for r in args.every_tag]
    if args.as_group:  # its tags checked here, before any worker starts
        import genlab
        from genlab.directions import tagged_evaluator

        read_as_group(tagged_evaluator(genlab.load(runs[0])).vocab, args.as_group[0], args.as_group[1:])
    jobs = [{"run": r, "weight": PRESERVE_WEIGHT, "codes": codes, "jacobian_codes": jacobian_codes or JACOBIAN_CODES,
             "edit_n": edit_n, "only": args.only, "as_group": args.as_group,
             **({"weights": args.weights} if args.weights else {}),
             **({"space": args.space} if args.space != "noise" else {}),
             **({"held_out_keep": args.keep} if args.keep is not None else {}),
             **({"judge": str(Path(args.judge).resolve())} if args.judge else {}),
             **({"methods": args.methods} if args.methods else {})} for r in runs]
    old = json.loads(out.read_text()).get("runs", []) if out.is_file() and not args.fresh else []
    old = [r for r in old if r["run"] not in runs  # other runs scored by the same settings
           and all(r.get(k) == v for k, v in jobs[0].items() if k != "run")]

    def report(r: dict) -> None:
        print(f"{r['run']} (seed {r['seed']}): {r['seconds'] / 60:.1f} min", file=sys.stderr, flush=True)

    record = run_and_save(every_tag_one, jobs, args.jobs, args.threads or max(1, 2 // args.jobs), old, out,
                          lambda rs: {"benchmark": "toonfaces every tag", "quick": args.quick,
                                      "seeds": sorted(r["seed"] for r in rs)}, report)
    if out.resolve().parent == HERE:  # a file beside the README (--out there too): its tables are named after it
        name = out.stem
    tables = every_tag_tables(name, record["runs"])
    _into_readme(out, tables, args.quick)
    print("\n\n".join(tables.values()))


def _check_judge(path: str) -> None:
    """--judge names an evaluator that loads, or the run stops with one error line."""
    from genlab.errors import GenlabError
    from genlab.metrics.evaluator import load_evaluator

    try:
        load_evaluator(path=path)
    except (GenlabError, OSError) as e:
        raise SystemExit(f"error: --judge: {e}") from None


def _into_readme(out: Path, tables: dict[str, str], quick: bool) -> None:
    """A results file ``out`` beside the README (not --quick) puts its ``tables`` (marker -> body) there."""
    readme = HERE / "README.md"
    if quick or out.resolve().parent != HERE or not readme.is_file():
        return
    text = readme.read_text()
    for marker, body in tables.items():
        text = splice(text, marker, body)
    readme.write_text(text)


def every_tag_tables(name: str, runs: list[dict]) -> dict[str, str]:
    """README marker -> table of the every-tag file ``name`` (its suffixes say what it holds:
    ``-weights`` a column a weight, ``-keep`` the weight held-out edits chose, with its flip rate by
    what the draws had before; ``-judged``, read by a second evaluator too, a column more)."""
    if "-weights" in name:
        return {name: by_weight_markdown(runs)}
    if "-keep" in name:
        return {name: held_out_markdown(runs), f"{name}-by-before": by_before_markdown(runs)}
    return {name: every_tag_markdown(runs)}


def _quick_data(run_dir: Path) -> str:
    """240 toonfaces and a quick 16-pixel tag evaluator for them (in the evaluator cache)."""
    from genlab.data import toonfaces
    from genlab.metrics.evaluator import train_evaluator

    faces = toonfaces.generate(run_dir / "quick-faces", n=240, workers=1)
    train_evaluator(str(faces), image_size=16, min_tag_count=1, quick=True)
    return str(faces)


if __name__ == "__main__":
    main()
