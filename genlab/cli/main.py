"""The ``genlab`` command: train, sample, interpolate, eval.

Every user-fixable problem ends as one ``error: ...`` line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

from genlab.cli import edit as edit_cli, evaluator as evaluator_cli, explore as explore_cli
from genlab.cli.argtypes import (epochs_float, example, grid_int, importance_int, positive_int, samples_int, seed_int,
                                 steps_int, threads_int)
from genlab.cli import figures
from genlab.errors import GenlabError, Stopped
from genlab.files import is_disk_full


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as every other bad input
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


DEVICE_HELP = "auto (default: cuda, else mps, else cpu), cpu, cuda, cuda:N or mps"
MAX_GRID = 10_000  # images in one PNG grid
SAMPLE_CHUNK = 4096  # samples drawn at a time
THREADS_HELP = "torch threads (default: $GENLAB_THREADS, else one per core left idle by other processes)"


def build_parser() -> argparse.ArgumentParser:
    from genlab.models import MODELS  # names only: torch is imported by the command that needs it

    p = _Parser(prog="genlab", description="Train, sample, evaluate and understand deep generative models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = example(sub.add_parser("train", help="train a model (or --resume a run)"),
                "train vae --data digits --steps 2 --out OUT hidden=16 latent_dim=2 --no-progress",
                "train --resume RUN --steps 6 --no-progress")
    t.add_argument("model", nargs="?", help=f"one of: {', '.join(sorted(MODELS))}")
    t.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. latent_dim=20 or train.log_every=50; any config key "
                        "also works as a flag: --loss minimax --d-steps 5")
    t.add_argument("--data", help="data set name, image folder, or N x 2 .npy/.csv file")
    t.add_argument("--data-dir", help="where the data set's files are")
    t.add_argument("--steps", type=steps_int, help="train to this many steps")
    t.add_argument("--epochs", type=epochs_float, help="train for this many passes over the data")
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--seed", type=seed_int)
    t.add_argument("--device", help=DEVICE_HELP)
    t.add_argument("--precision", choices=("fp32", "bf16", "fp16", "auto"),
                   help="number format of the training step (default fp32; auto: bf16 where native)")
    t.add_argument("--threads", type=threads_int, help=THREADS_HELP)
    t.add_argument("--out", help="run directory (default runs/MODEL-DATA)")
    t.add_argument("--config", help="YAML config file (a run's config.yaml works)")
    t.add_argument("--resume", metavar="DIR", help="continue this run to --steps")
    t.add_argument("--image-size", type=positive_int, help="resize images to this many pixels a side")
    t.add_argument("--channels", type=positive_int, choices=(1, 3))
    t.add_argument("--binarize", action="store_true", default=None,
                   help="dynamic binarisation of the training images; fixed binarised test set")
    t.add_argument("--labels-from", choices=("folders", "tags"),
                   help="folders: label an image folder's images by the sub-folder each sits in (one per class); "
                        "tags: by the tags file beside them (tags.csv, tags.txt or list_attr_celeba.txt; "
                        "the default when there is one)")
    t.add_argument("--min-tag-count", type=positive_int, metavar="N",
                   help="a tagged folder: drop the tags on fewer than N images (default 10)")
    t.add_argument("--labels", type=positive_int, metavar="N",
                   help="a label budget: keep the labels of N training examples (balanced over the classes), "
                        "remove the others' before training (models that learn from unlabelled data: sgan)")
    t.add_argument("--labels-seed", type=seed_int, metavar="S", help="which examples keep their labels (default 0)")
    t.add_argument("--no-progress", dest="progress", action="store_false", default=None)

    s = example(sub.add_parser("sample", help="draw samples from a trained run"), "sample RUN --n 4 --out OUT.png")
    s.add_argument("run_dir")
    s.add_argument("--n", type=samples_int, help="samples (default 64); with --grid classes, samples per class (default 8)")
    s.add_argument("--class", dest="condition", metavar="NAME",
                   help="a conditional run: samples of this class (a name such as sneaker, or an index)")
    s.add_argument("--grid", choices=("classes",), help="classes: one row per class, the same noise in every row")
    s.add_argument("--prompt", action="append", metavar="TEXT",
                   help='a tag-conditioned run: samples of the tags a text names ("girl with red hair and red '
                        'eyes"); repeat it for a grid, one row per prompt, the same noise in every row')
    s.add_argument("--tags", action="append", metavar="TAGS",
                   help='as --prompt, the tags listed exactly ("red hair, red eyes")')
    s.add_argument("--sweep", metavar="code[N]",
                   help="an infogan run: a row per categorical code, the columns sweeping continuous code N "
                        "(default 1) from -2 to 2, one noise for the grid (the InfoGAN paper's figure); "
                        "--n columns (default 9)")
    s.add_argument("--truncation", type=float, metavar="PSI",
                   help="the noise scaled by PSI in (0, 1]: typical samples, less variety (the truncation trick)")
    s.add_argument("--code", metavar="K,C1,...",
                   help="an infogan run: the categorical code K then each continuous code (e.g. 3,0.5,-1)")
    s.add_argument("--edit", action="append", metavar="ATTRIBUTE:STRENGTH",
                   help="move the noise along a direction of the run (genlab directions), e.g. smile:2; repeatable")
    s.add_argument("--out", required=True, help="PNG grid (or .pt / .npy for the raw tensor)")
    s.add_argument("--seed", type=seed_int, default=0)
    s.add_argument("--device", default="auto", help=DEVICE_HELP)
    s.add_argument("--threads", type=threads_int, help=THREADS_HELP)

    i = example(sub.add_parser("interpolate", help="decode paths between latent codes"),
                "interpolate RUN --pairs 2 --length 3 --out OUT.png")
    i.add_argument("run_dir")
    i.add_argument("--out", required=True, help="PNG grid, one path per row")
    i.add_argument("--pairs", type=grid_int, default=8)
    i.add_argument("--length", type=grid_int, default=10, help="images along each path")
    i.add_argument("--method", choices=("lerp", "slerp"), default="slerp")
    i.add_argument("--from-prior", action="store_true", help="endpoints drawn from p(z), not test images")
    i.add_argument("--seed", type=seed_int, default=0)
    i.add_argument("--device", default="auto", help=DEVICE_HELP)
    i.add_argument("--threads", type=threads_int, help=THREADS_HELP)

    e = example(sub.add_parser("eval", help="test-set metrics of a trained run"),
                "eval RUN --k 2 --max-examples 8 --json")
    e.add_argument("run_dir")
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    e.add_argument("--k", type=importance_int, help="VAE: importance samples for the NLL (default 1,000)")
    e.add_argument("--n-samples", type=samples_int,
                   help="GAN: samples to score (default 2,500 for 2-D data, 10,000 for images)")
    e.add_argument("--modes", type=grid_int, help="2-D data: fit this many modes (default: known or by BIC)")
    e.add_argument("--features", choices=("genlab", "inception"),
                   help="GAN on images: feature space of FID/KID/precision/recall")
    e.add_argument("--max-examples", type=positive_int, help="evaluate on the first N test examples (an encoder's probe also trains on at most N)")
    e.add_argument("--seed", type=seed_int, help="seed of the samples drawn (default 0)")
    e.add_argument("--device", default="auto", help=DEVICE_HELP)
    e.add_argument("--threads", type=threads_int, help=THREADS_HELP)

    figures.add_parser(sub)
    evaluator_cli.add_parser(sub)
    edit_cli.add_parsers(sub, DEVICE_HELP, THREADS_HELP)
    explore_cli.add_parser(sub, DEVICE_HELP, THREADS_HELP)
    return p


def config_flags(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """Config keys given as flags, in order: ``--d-steps 5``, ``--loss=minimax`` or a bare
    ``--spectral-norm`` (true) become ``d-steps=5``, ``loss=minimax``, ``spectral-norm=true``
    beside the plain ``key=value`` words; returns (overrides, tokens that are neither). The keys
    are checked against the config later, so an unknown one is a clear error."""
    overrides, rest, i = [], [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--") and len(tok) > 2:
            name, eq, value = tok[2:].partition("=")
            if not eq:
                nxt = tokens[i + 1] if i + 1 < len(tokens) else None
                if nxt is not None and not nxt.startswith("--") and "=" not in nxt:
                    value, i = nxt, i + 1
                else:
                    value = "true"
            overrides.append(f"{name}={value}")
        elif "=" in tok and not tok.startswith("-"):
            overrides.append(tok)
        else:
            rest.append(tok)
        i += 1
    return overrides, rest


def _negative_ranges(argv: Sequence[str]) -> list[str]:
    """``--strength -3:3`` as ``--strength=-3:3``: argparse takes a value that starts with "-" and is
    not a plain number for a flag."""
    import re

    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--strength" and i + 1 < len(argv) and re.fullmatch(r"-[\d.]+:[-+\d.]+", argv[i + 1]):
            out.append(f"--strength={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(_negative_ranges(sys.argv[1:] if argv is None else argv))
        overrides, rest = config_flags(extra) if args.command == "train" else ([], extra)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
    except SystemExit as e:  # argparse: --help (0) or a usage error (2), already printed
        return int(e.code or 0)
    if args.command == "train":
        args.overrides = list(args.overrides) + overrides
    signal.signal(signal.SIGTERM, _interrupt)  # outside training a kill ends like Ctrl-C
    try:
        return COMMANDS[args.command](args)
    except GenlabError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except Stopped as e:  # training saved its state at the stop: not an error
        sys.stderr.write(e.message() + "\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except OSError as e:  # unwritable output, disk full, ...
        full = "the disk is full" if is_disk_full(e) else (e.strerror or str(e))
        sys.stderr.write(f"error: {full} ({e.filename})\n" if e.filename else f"error: {full}\n")
        return 2


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_train(args: argparse.Namespace) -> int:
    import genlab

    if args.model and "=" in args.model:  # `genlab train --resume D key=value`
        args.overrides.insert(0, args.model)
        args.model = None
    if args.resume is None and args.model is None and args.config is None:
        raise GenlabError("name a model to train, e.g. 'genlab train vae --data digits'")
    if args.resume is not None:
        given = [k for k in ("data", "data_dir", "batch_size", "seed", "config", "out", "image_size",
                             "channels", "binarize", "precision", "labels_from", "labels", "labels_seed",
                             "min_tag_count")
                 if getattr(args, k) is not None]
        if given or args.overrides:
            raise GenlabError("--resume continues a run with its saved config; only --steps, --epochs, "
                              f"--device, --threads may change (got {', '.join(given + args.overrides)})")
    model = genlab.train(
        args.model, args.data, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
        seed=args.seed, device=args.device, out=args.out, config=args.config, resume=args.resume,
        data_dir=args.data_dir, image_size=args.image_size, channels=args.channels,
        binarize=args.binarize, labels_from=args.labels_from, labels=args.labels, labels_seed=args.labels_seed,
        min_tag_count=args.min_tag_count, progress=args.progress, threads=args.threads,
        overrides=args.overrides + ([f"train.precision={args.precision}"] if args.precision else []))
    run_dir = Path(model.run_dir)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 reports for all
        return 0
    samples = sorted((run_dir / "samples").glob("*.png"))
    print(f"trained {model.name} to step {_latest_step(run_dir)}; run directory: {run_dir}")
    for path in _newest_per_kind(samples) + sorted((run_dir / "samples").glob("*.gif")):
        print(f"  {path}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    import genlab
    from genlab.limits import ensure_fits

    out = _check_out(Path(args.out), (".png", ".pt", ".npy"))
    grid = args.grid == "classes"
    if grid and args.condition is not None:
        raise GenlabError("give --class or --grid classes, not both")
    if args.sweep is not None:
        return _sample_sweep(args, out)
    if args.truncation is not None or args.code is not None or args.edit:
        return _sample_draw(args, out)
    if args.prompt or args.tags:
        return _sample_prompts(args, out)
    n = args.n or (8 if grid else 64)
    _set_threads(args)
    model = genlab.load(args.run_dir, device=args.device)
    if not hasattr(model, "sample"):
        raise GenlabError(f"model {model.name!r} has no prior to sample from; "
                          "try 'genlab interpolate' to look at its latent space")
    classes = getattr(getattr(model, "condition", None), "kind", None) == "class"
    if (grid or args.condition is not None) and not classes:
        raise GenlabError(f"--class and --grid classes need a class-conditional run (cgan, acgan, ...); "
                          f"this {model.name} run is not")
    total = n * model.condition.dim if grid else n
    if out.suffix == ".png" and total > MAX_GRID:
        raise GenlabError(f"a PNG grid holds at most {MAX_GRID:,} samples, asked for {total:,}; "
                          "write .pt or .npy for more")
    ensure_fits(total * model.spec.dim * 4 * 2, f"{total:,} samples", hint="ask for fewer with --n")
    g = torch.Generator().manual_seed(args.seed)
    if grid:  # rows of classes, columns of noises
        x = model.decode(model.class_grid(n, g)).cpu()
        _write_output(x, out, model, nrow=n)
    else:
        condition = model.condition.parse(args.condition) if args.condition is not None else None
        # in chunks, so the networks' activations stay bounded whatever --n is
        x = torch.cat([model.sample(min(SAMPLE_CHUNK, n - i), generator=g, condition=condition).cpu()
                       for i in range(0, n, SAMPLE_CHUNK)])
        _write_output(x, out, model)
    print(out)
    return 0


def _sample_prompts(args: argparse.Namespace, out: Path) -> int:
    """``genlab sample RUN --prompt TEXT [--prompt TEXT ...]``: one prompt's samples, or a grid with
    a row per prompt and the same noise in every row."""
    import torch

    import genlab
    from genlab.data.tags import parse_prompt, parse_tags

    if args.grid or args.condition is not None:
        raise GenlabError("--prompt and --tags choose the condition: give them without --class or --grid")
    asked = [(parse_prompt, t) for t in args.prompt or []] + [(parse_tags, t) for t in args.tags or []]
    n = args.n or (8 if len(asked) > 1 else 16)
    if out.suffix == ".png" and n * len(asked) > MAX_GRID:
        raise GenlabError(f"a PNG grid holds at most {MAX_GRID:,} samples, asked for {n * len(asked):,}")
    _set_threads(args)
    model = genlab.load(args.run_dir, device=args.device)
    if getattr(getattr(model, "condition", None), "kind", None) != "tags":
        raise GenlabError(f"--prompt and --tags need a tag-conditioned run (cgan or acgan on a tagged data set); "
                          f"this {model.name} run is not")
    requests = [parse(text, model.condition.vocab) for parse, text in asked]  # every error before any sampling
    g = torch.Generator().manual_seed(args.seed)
    z = model.prior(n, g)
    x = torch.cat([model.decode(model.with_condition(z, r, g)).cpu() for r in requests])
    _write_output(x, out, model, nrow=n if len(requests) > 1 else None)
    print(out)
    return 0


def _sample_draw(args: argparse.Namespace, out: Path) -> int:
    """``genlab sample`` with --truncation, --code or --edit: one request (genlab.sampling), as the
    explorer draws it."""
    import genlab
    from genlab import sampling

    if args.grid or len(args.prompt or []) + len(args.tags or []) > 1:
        raise GenlabError("--truncation, --code and --edit draw one set of samples: give them without --grid "
                          "and with at most one --prompt or --tags")
    req = sampling.Draw(seed=args.seed, n=args.n or 64, truncation=args.truncation, condition=args.condition,
                        tags=(args.tags or [None])[0], prompt=(args.prompt or [None])[0],
                        code=sampling.parse_code(args.code) if args.code is not None else None,
                        edits=tuple(sampling.parse_edit(e) for e in args.edit or ()))
    req.check()
    if out.suffix == ".png" and req.n > MAX_GRID:
        raise GenlabError(f"a PNG grid holds at most {MAX_GRID:,} samples, asked for {req.n:,}")
    _set_threads(args)
    model = genlab.load(args.run_dir, device=args.device)
    _write_output(sampling.images(model, req).cpu(), out, model)
    print(out)
    return 0


def _sample_sweep(args: argparse.Namespace, out: Path) -> int:
    """``genlab sample RUN --sweep code[N]``: InfoGAN's code sweep as one grid."""
    import re

    import torch

    import genlab

    match = re.fullmatch(r"code(\d*)", args.sweep.strip())
    if match is None:
        raise GenlabError(f"--sweep takes code or codeN (continuous code N), got {args.sweep!r}")
    if args.grid or args.condition is not None:
        raise GenlabError("--sweep draws its own grid: give it without --grid or --class")
    index = int(match.group(1) or 1) - 1
    columns = args.n or 9
    if columns > 1000:
        raise GenlabError(f"--sweep draws --n columns, at most 1,000; got {columns:,}")
    _set_threads(args)
    model = genlab.load(args.run_dir, device=args.device)
    if not hasattr(model, "code_sweep"):
        raise GenlabError(f"--sweep code needs an infogan run; this run is {model.name}")
    if model.config.continuous == 0:
        raise GenlabError("this infogan run has no continuous code to sweep (continuous=0)")
    if index < 0:
        raise GenlabError("continuous codes are numbered from 1")
    latent = model.code_sweep(index, columns, torch.Generator().manual_seed(args.seed))
    _write_output(model.decode(latent).cpu(), out, model, nrow=columns)
    print(out)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    import genlab
    from genlab.api import load_data
    from genlab.images import save_grid, upscale_for_display
    from genlab.latent import encode_mean, interpolate

    out = _check_out(Path(args.out), (".png",))
    if args.length < 2:
        raise GenlabError("--length must be at least 2")
    if args.pairs * (args.length + 2) > MAX_GRID:
        raise GenlabError(f"a PNG grid holds at most {MAX_GRID:,} images; --pairs x (--length + 2) is "
                          f"{args.pairs * (args.length + 2):,}")
    _set_threads(args)
    model = genlab.load(args.run_dir, device=args.device)
    if model.spec.kind != "image":
        raise GenlabError("interpolate draws image grids; this run's data are points")
    g = torch.Generator().manual_seed(args.seed)
    # a GAN has no encoder, a conditional model's codes hold a condition: endpoints from its prior
    if args.from_prior or not hasattr(model, "encode") or getattr(model, "condition", None) is not None:
        if not hasattr(model, "prior"):
            raise GenlabError(f"model {model.name!r} has no prior; drop --from-prior")
        z0, z1 = model.prior(args.pairs, g), model.prior(args.pairs, g)
        ends = None
    else:
        data = load_data(model.run_config.data)
        idx = torch.randperm(data.test.shape[0], generator=g)[:2 * args.pairs]
        x = data.test[idx].to(model.device)
        pairs = x.shape[0] // 2
        if pairs == 0:
            raise GenlabError("the test set needs at least 2 images to interpolate between")
        z = encode_mean(model, x[:2 * pairs])
        z0, z1 = z[:pairs], z[pairs:]
        ends = (x[:pairs], x[pairs:2 * pairs])
    with torch.no_grad():
        path = interpolate(z0, z1, args.length, args.method)  # (P, T, M)
        frames = model.decode(path)  # (P, T, C, H, W)
    if ends is not None:  # originals at both ends of each row
        frames = torch.cat([ends[0].unsqueeze(1), frames, ends[1].unsqueeze(1)], dim=1)
    grid = frames.flatten(0, 1)
    save_grid(grid, out, nrow=frames.shape[1], scale=upscale_for_display(grid))
    print(out)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import genlab
    from genlab.api import load_data
    from genlab.limits import ensure_fits

    _set_threads(args)
    model = genlab.load(args.run_dir, device=args.device)
    given = {k for k in EVAL_OPTIONS if getattr(args, k) is not None}
    if given - model.eval_options:
        flags = lambda names: ", ".join("--" + n.replace("_", "-") for n in sorted(names))  # noqa: E731
        raise GenlabError(f"{flags(given - model.eval_options)} does not apply to a {model.name} run"
                          + (f" (it takes {flags(model.eval_options)})" if model.eval_options else ""))
    data = load_data(model.run_config.data)
    if args.n_samples:
        ensure_fits(args.n_samples * model.spec.dim * 4 * 3, f"{args.n_samples:,} samples to score",
                    hint="lower --n-samples")
    n_test, k = min(args.max_examples or len(data.test), len(data.test)), args.k or 1000
    if hasattr(model, "log_px_given_z_samples") and n_test * k > 10**9:
        print(f"genlab: note: the likelihood takes {n_test:,} x {k:,} decoder passes; on a 2-core CPU "
              "10,000 x 5,000 take about 10 minutes (lower --k or --max-examples for less)", file=sys.stderr)
    options = {name: getattr(args, name) for name in given}
    results = model.evaluate(data, **options, progress=sys.stderr.isatty())  # a bar where a model has one
    results = {"model": model.name, "data": model.run_config.data.name, "step": model.step, **results,
               **_direction_scores(model, args.seed or 0)}
    _keep_eval(model.run_dir, results)
    if args.json:  # JSON has no NaN or infinity: those are null
        print(json.dumps(_json_safe(results), allow_nan=False))
    else:
        for key, v in results.items():
            print(f"{key:>14}: {v:.4f}" if isinstance(v, float) else f"{key:>14}: {v}")
    return 0


def _keep_eval(run_dir: Path, results: dict) -> None:
    """The results also in RUN/eval.json (the last eval, which the explorer shows)."""
    from genlab.files import atomic_write_text

    try:
        atomic_write_text(Path(run_dir) / "eval.json", json.dumps(_json_safe(results), allow_nan=False, indent=1) + "\n")
    except OSError as e:
        print(f"genlab: note: could not keep the results in {run_dir}/eval.json ({e.strerror})", file=sys.stderr)


def _direction_scores(model, seed: int) -> dict:
    """Flip rate and preservation at strength 3 of each attribute direction the run has."""
    from genlab import directions

    records = directions.read(model.run_dir)
    if not records:
        return {}
    net = directions.tagged_evaluator(model)
    spaces = {}  # one WSpace (10,000 draws to whiten w) for every w direction

    def seen_in(record):
        key = record.get("space", "noise")
        if key not in spaces:
            spaces[key] = directions.in_its_space(model, record)
        return spaces[key]

    return {"directions": {name: directions.edit_scores(seen_in(records[name]), net, name,
                                                        directions.vector(records, name, model), seed=seed)
                           for name in sorted(records)}}


EVAL_OPTIONS = ("k", "n_samples", "modes", "features", "max_examples", "seed")


def _json_safe(value):
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _set_threads(args: argparse.Namespace) -> None:
    from genlab.training.device import set_threads

    set_threads(args.threads)


def _check_out(out: Path, suffixes: tuple[str, ...]) -> Path:
    """An output file genlab can write: a known suffix, in an existing directory, not a directory."""
    if out.suffix.lower() not in suffixes:
        raise GenlabError(f"--out {out}: the file name must end in {' or '.join(suffixes)}")
    if not out.parent.is_dir():
        raise GenlabError(f"cannot write {out}: directory {out.parent} does not exist")
    if out.is_dir():
        raise GenlabError(f"--out {out} is a directory; give a file name")
    return out


def _write_output(x, out: Path, model, nrow: int | None = None) -> None:
    import numpy as np
    import torch

    from genlab.files import atomic_write
    from genlab.images import save_grid, save_points, upscale_for_display

    suffix = out.suffix.lower()
    if suffix == ".pt":
        atomic_write(out, lambda tmp: torch.save(x.cpu(), tmp))
    elif suffix == ".npy":
        def write_npy(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: numpy would add ".npy" to a path
                np.save(f, x.cpu().numpy())

        atomic_write(out, write_npy)
    elif model.spec.kind == "image":
        save_grid(x, out, nrow=nrow, scale=upscale_for_display(x))
    else:
        save_points(x, out)


def _latest_step(run_dir: Path) -> int:
    from genlab.training.checkpoint import find_checkpoint

    return find_checkpoint(run_dir).step


def _newest_per_kind(paths: list[Path]) -> list[Path]:
    newest: dict[str, Path] = {}
    for p in paths:
        newest[p.name.split("-step")[0]] = p
    return sorted(newest.values())


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "interpolate": cmd_interpolate, "eval": cmd_eval,
            "figures": figures.run, "evaluator": evaluator_cli.run, "directions": edit_cli.run_directions,
            "edit": edit_cli.run_edit, "explore": explore_cli.run}

if __name__ == "__main__":
    raise SystemExit(main())
