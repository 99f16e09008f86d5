"""``genlab directions`` (find an attribute's direction in a run's latent space) and ``genlab edit``
(rows of samples moved along it). Wiring in genlab/cli/main.py: ``add_parsers(sub)`` and
``COMMANDS["directions"] = run_directions``, ``COMMANDS["edit"] = run_edit``.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

from genlab.cli.argtypes import Int, example, grid_int, seed_int, threads_int
from genlab.errors import GenlabError

codes_int = Int(100, 1_000_000)


def add_parsers(subparsers, device_help: str, threads_help: str) -> None:
    d = example(subparsers.add_parser("directions", help="find an attribute's direction in a run's latent space "
                                                          "(InterFaceGAN: a linear SVM on scored samples)"),
                'directions RUN --attribute "smile" --n 200')
    d.add_argument("run_dir")
    d.add_argument("--attribute", required=True, help='a tag of the run\'s data set, e.g. "blonde hair" or smile')
    d.add_argument("--method", choices=("svm", "gradient", "learned"), default="svm",
                   help="svm: the normal of a linear SVM between the top and bottom scored samples (InterFaceGAN, "
                        "the default); gradient: the mean gradient of the evaluator's log-probability of the "
                        "attribute; learned: that gradient refined on edits at strength 3 (GANalyze)")
    d.add_argument("--orthogonal-to", action="append", default=[], metavar="TAG|GROUP",
                   help="keep another attribute: remove the component along its direction (the run's, else "
                        "found here), or along each tag's of a tag group such as hair or eyes; repeatable")
    d.add_argument("--preserve", action="append", default=[], metavar="TAG|GROUP|all",
                   help="keep other attributes softly: pull the direction away from where the evaluator's "
                        "scores of these tags or groups change (their Jacobian), 'all' for every other; repeatable")
    d.add_argument("--preserve-weight", type=float, default=None,
                   help="how hard --preserve pulls: 0 not at all (default 20; 1 for --method learned)")
    d.add_argument("--keep", type=float, default=None, metavar="FRACTION",
                   help="choose --preserve's weight: the least that keeps the other tags at least FRACTION of the "
                        "time over 1,000 edits at strength 3 of held-out samples (tried from 0 to 5,000; "
                        "0 to 64 for --method learned)")
    d.add_argument("--jacobian-codes", type=codes_int, default=None,
                   help="prior draws that --preserve's Jacobians average over (default 1,000)")
    d.add_argument("--space", choices=("noise", "w"), default="noise",
                   help="where the direction lives: the noise z (default), or w, the whitened output of the run's "
                        "mapping network (a GAN trained with mapping=N; StyleGAN's w)")
    d.add_argument("--n", type=codes_int, default=10_000, help="samples drawn and scored (default 10,000)")
    d.add_argument("--fraction", type=float, default=None,
                   help="the SVM separates the top and bottom FRACTION of scores (default 0.1)")
    d.add_argument("--seed", type=seed_int, default=0)
    d.add_argument("--device", default="auto", help=device_help)
    d.add_argument("--threads", type=threads_int, help=threads_help)

    e = example(subparsers.add_parser("edit", help="samples moved along an attribute direction, one row each"),
                'edit RUN --attribute "smile" --strength=-3:3 --n 2 --out OUT.png')
    e.add_argument("run_dir")
    e.add_argument("--attribute", required=True, help="an attribute with a direction in this run")
    e.add_argument("--strength", default="-3:3", help="LOW:HIGH, the distance moved along the unit direction")
    e.add_argument("--steps", type=grid_int, default=7, help="images a row, LOW to HIGH (default 7)")
    e.add_argument("--n", type=grid_int, default=8, help="rows (prior draws)")
    e.add_argument("--out", required=True, help="PNG grid")
    e.add_argument("--seed", type=seed_int, default=0)
    e.add_argument("--device", default="auto", help=device_help)
    e.add_argument("--threads", type=threads_int, help=threads_help)


def run_directions(args: argparse.Namespace) -> int:
    import genlab
    from genlab import directions
    from genlab.latent import in_space
    from genlab.training.device import set_threads

    if args.fraction is not None and args.method != "svm" and not args.orthogonal_to:
        raise GenlabError(f"--fraction sets the SVMs' split of the scored samples; --method {args.method} fits one "
                          "only for --orthogonal-to's tags")
    fraction = 0.1 if args.fraction is None else args.fraction
    if not 0 < fraction <= 0.5:
        raise GenlabError(f"--fraction must be in (0, 0.5], got {args.fraction}")
    if not args.preserve and (args.preserve_weight is not None or args.jacobian_codes is not None
                              or args.keep is not None):
        raise GenlabError("--preserve-weight, --keep and --jacobian-codes set how --preserve works; give --preserve too")
    if args.method == "learned" and args.jacobian_codes is not None:
        raise GenlabError("--jacobian-codes sets the Jacobians of --preserve; a learned direction keeps the other "
                          "tags on its edits instead")
    if args.keep is not None and args.preserve_weight is not None:
        raise GenlabError("--keep chooses --preserve-weight; give one of them")
    if args.keep is not None and not 0 < args.keep <= 1:
        raise GenlabError(f"--keep is a fraction in (0, 1], got {args.keep}")
    weight = args.preserve_weight
    if weight is not None and not (math.isfinite(weight) and weight >= 0):
        raise GenlabError(f"--preserve-weight must be a number >= 0, got {args.preserve_weight}")
    set_threads(args.threads)
    model = genlab.load(args.run_dir, device=args.device)
    net = directions.tagged_evaluator(model)
    records = directions.read(model.run_dir)
    run_dir = model.run_dir
    try:
        model = in_space(model, args.space)
    except ValueError as e:
        raise GenlabError(f"--space w: {e}") from None
    record = directions.compute(model, net, args.attribute, method=args.method, n=args.n, fraction=fraction,
                                seed=args.seed, orthogonal_to=tuple(args.orthogonal_to), known=records,
                                preserve=tuple(args.preserve), preserve_weight=weight, keep=args.keep,
                                jacobian_codes=args.jacobian_codes or directions.JACOBIAN_CODES)
    records[record["attribute"]] = record
    path = directions.write(run_dir, records)
    if args.method == "svm":
        found = f"SVM held-out accuracy {record['svm_accuracy']:.3f} ({args.n:,} samples, top and bottom {fraction:g})"
    else:
        found = f"the mean gradient of log p({record['attribute']}) over {args.n:,} samples" + (
            f", learned on edits at strength 3 of {directions.LEARN_POOL:,} other samples" if args.method == "learned" else "")
    where = " in w" if args.space == "w" else ""
    print(f"direction of {record['attribute']!r}{where}: {found}{_kept(record, net)}; saved in {path}")
    return 0


def _kept(record: dict, net) -> str:
    """What a direction was made to keep, in words."""
    preserve = record.get("preserve") or []
    if not preserve:
        return ""
    groups = sum(1 for k in preserve if k in {g.name for g in net.vocab.groups})
    how = (f"their Jacobian over {record['jacobian_codes']:,} draws" if "jacobian_codes" in record
           else "their verdicts on the edits")
    return (f", keeping {groups} tag groups and {len(preserve) - groups} tags ({how}, "
            f"weight {record['preserve_weight']:g}{_chosen(record)})")


def _chosen(record: dict) -> str:
    """How --keep chose the weight, in words."""
    if "keep" not in record:
        return ""
    held = record["held_out"]
    weight, flip, kept = next(t for t in held["tried"] if t[0] == record["preserve_weight"])
    met = "" if kept >= record["keep"] else f"; none of 0 to {held['tried'][-1][0]:g} keeps {record['keep']:g}, so the one that keeps most"
    return (f", chosen on {held['edits']:,} held-out edits at strength {held['strength']:g}: flip rate {flip:.3f}, "
            f"other tags kept {kept:.3f}{met}")


def run_edit(args: argparse.Namespace) -> int:
    import torch

    import genlab
    from genlab import directions
    from genlab.images import save_grid, upscale_for_display
    from genlab.training.device import set_threads

    out = Path(args.out)
    if out.suffix.lower() != ".png" or not out.parent.is_dir() or out.is_dir():
        raise GenlabError(f"--out {out}: give a .png file in an existing directory")
    low, high = _strength(args.strength)
    if args.steps < 2:
        raise GenlabError("--steps must be at least 2")
    set_threads(args.threads)
    model = genlab.load(args.run_dir, device=args.device)
    net = directions.tagged_evaluator(model)
    name = net.vocab.names[directions.attribute_index(net, args.attribute)]
    records = directions.read(model.run_dir)
    v = directions.vector(records, name, model)
    x = directions.edit_grid(directions.in_its_space(model, records[name]), v, torch.linspace(low, high, args.steps),
                             args.n, args.seed)
    save_grid(x, out, nrow=args.steps, scale=upscale_for_display(x))
    print(out)
    return 0


def _strength(text: str) -> tuple[float, float]:
    """"-3:3" -> (-3.0, 3.0); finite, LOW < HIGH, |value| <= 100."""
    m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?)\s*:\s*([-+]?\d+(?:\.\d*)?)\s*", text)
    if m is None:
        raise GenlabError(f"--strength takes LOW:HIGH, e.g. -3:3; got {text!r}")
    low, high = float(m.group(1)), float(m.group(2))
    if not (low < high and max(abs(low), abs(high)) <= 100):
        raise GenlabError(f"--strength needs LOW < HIGH, both within -100..100; got {text!r}")
    return low, high
