"""``genlab evaluator train``: the feature network behind the image metrics of ``genlab eval``.

Wiring in genlab/cli/main.py: ``add_parser(sub)`` in ``build_parser`` and
``COMMANDS["evaluator"] = run``.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from genlab.cli.argtypes import epochs_float, example, positive_int, seed_int


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``evaluator`` (with sub-command ``train``) to the ``genlab`` sub-parsers."""
    e = subparsers.add_parser("evaluator", help="feature networks for FID/KID/precision/recall of images")
    esub = e.add_subparsers(dest="evaluator_command", metavar="{train}", required=True, parser_class=type(e))
    t = esub.add_parser("train", help="train the feature classifier of a labelled or tagged image data set")
    example(t, "evaluator train --data digits --quick --out OUT.safetensors")
    t.add_argument("--data", required=True, help="digits, mnist, fashion-mnist, cifar10, toonfaces, or a folder of "
                                                 "images with a tags file (a multi-label tag evaluator)")
    t.add_argument("--data-dir", help="where the data set's files are")
    t.add_argument("--image-size", type=positive_int, help="images resized to this many pixels a side (as the runs "
                                                           "it will score)")
    t.add_argument("--min-tag-count", type=positive_int, metavar="N",
                   help="a tagged folder: drop the tags on fewer than N images, as the runs it will score (default 10)")
    t.add_argument("--epochs", type=epochs_float, help="passes over the training set (default per data set)")
    t.add_argument("--seed", type=seed_int, default=0)
    t.add_argument("--out", help="weights file (.safetensors; a .json sidecar is written next to it); "
                                 "default: $GENLAB_CACHE/evaluators/evaluator-NAME.safetensors")
    t.add_argument("--ship", action="store_true", help="write into the package (genlab/assets/) instead")
    t.add_argument("--quick", action="store_true", help="a few hundred steps only (tests)")
    return e


def run(args: argparse.Namespace) -> int:
    """Run ``genlab evaluator SUBCOMMAND``; GenlabError propagates to main (one ``error:`` line)."""
    from genlab.errors import GenlabError
    from genlab.metrics.evaluator import default_path, train_evaluator

    if args.evaluator_command != "train":  # argparse allows only "train" today
        raise GenlabError(f"unknown evaluator command {args.evaluator_command!r}")
    if args.out is not None and args.ship:
        raise GenlabError("give --out or --ship, not both")
    # the user cache by default (created when missing), the package with --ship, or --out
    out = args.out if args.out is not None else (default_path(args.data, ship=True) if args.ship else None)
    meta = train_evaluator(args.data, epochs=args.epochs, seed=args.seed, out_path=out, quick=args.quick,
                           data_dir=args.data_dir, image_size=args.image_size, min_tag_count=args.min_tag_count,
                           command=_command(args),
                           log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(f"evaluator for {meta['data']}: test accuracy {meta['test_accuracy']:.4f} "
          f"({meta['n_test']} images) after {meta['epochs']:g} epochs; weights: {meta['path']}")
    if "test_tag_accuracy" in meta:
        print("  per tag group and tag: " + ", ".join(f"{k} {v:.3f}" for k, v in meta["test_tag_accuracy"].items()))
    if args.out is None and not args.ship:
        print(f"image metrics on {meta['data']} now use it (it takes precedence over a shipped evaluator); "
              "delete the file to go back")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (recorded in the JSON sidecar)."""
    parts = ["genlab", "evaluator", "train", "--data", args.data]
    for flag, value in (("--data-dir", args.data_dir), ("--image-size", args.image_size),
                        ("--min-tag-count", args.min_tag_count), ("--epochs", args.epochs), ("--out", args.out)):
        if value is not None:
            parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    parts += ["--seed", str(args.seed)] + ["--ship"] * args.ship + ["--quick"] * args.quick
    return shlex.join(parts)
