"""Every GAN loss with the DCGAN networks on Fashion-MNIST, at one fixed budget, over 3 seeds.

Protocol (in the spirit of Lucic et al. 2018, arXiv:1711.10337: equal budget, mean +- std over
seeds, not the best run):
  - data: Fashion-MNIST, 60,000 training images (28x28, grey), scaled to [-1, 1];
  - model: the dcgan networks (strided convolutions, batch norm; layer norm in the WGAN-GP
    critic), each loss with its paper's optimiser settings (the genlab presets):
        ns       genlab train dcgan                  Adam(2e-4, 0.5, 0.999), K = 1
        minimax  genlab train dcgan loss=minimax     (the saturating generator loss)
        hinge    genlab train dcgan loss=hinge
        ls       genlab train lsgan                  (a, b, c) = (0, 1, 1)
        wgan     genlab train wgan                   RMSProp(5e-5), clip 0.01, K = 5
        wgan-gp  genlab train wgan-gp                Adam(1e-4, 0, 0.9), lambda 10, K = 5
    with one width for all (ngf = ndf = --width) and the same number of generator steps, batch 64;
  - metric: `genlab eval DIR --json`: 10,000 samples of G against the 10,000 test images in the
    feature space of genlab's shipped Fashion-MNIST evaluator (FID, KID, precision, recall,
    density, coverage with k = 5, classifier score). These FIDs are NOT on the Inception scale of
    the published numbers (anchors.md); compare the losses with each other, not with papers;
  - 3 seeds a loss (train.seed 0, 1, 2; evaluation seed 0): mean +- sample std.

    python benchmarks/fmnist_gans/run.py --jobs 2          # every loss, 3 seeds
    python benchmarks/fmnist_gans/run.py --losses ns wgan --seeds 1
    python benchmarks/fmnist_gans/run.py --quick           # the pipeline in seconds (for tests)

Runs already in the results file are kept and skipped (--fresh redoes them). Writes
results.json, a sample grid per loss (seed 0, the fixed preview noise) and, unless --quick, the
table into README.md between the markers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, mean_std, run_jobs, splice, write_json  # noqa: E402

# loss -> (preset, overrides): each loss with its paper's settings
LOSSES = {
    "ns": ("dcgan", []),
    "minimax": ("dcgan", ["loss=minimax"]),
    "hinge": ("dcgan", ["loss=hinge"]),
    "ls": ("lsgan", []),
    "wgan": ("wgan", []),
    "wgan-gp": ("wgan-gp", []),
}
METRICS = ("fid", "kid", "precision", "recall", "density", "coverage", "classifier_score")


def run_one(job: dict) -> dict:
    """Train and evaluate one loss at one seed; returns the record of the run."""
    import torch

    import genlab
    from genlab.api import load_data
    from genlab.config import DataConfig
    from genlab.images import save_grid

    run_dir = Path(job["run_dir"])
    if run_dir.exists():
        shutil.rmtree(run_dir)
    preset, overrides = LOSSES[job["loss"]]
    overrides = [*overrides, f"ngf={job['width']}", f"ndf={job['width']}"]
    if job.get("precision", "fp32") != "fp32":
        overrides.append(f"train.precision={job['precision']}")
    t0 = time.perf_counter()
    model = genlab.train(preset, job["data"], out=run_dir, seed=job["seed"], steps=job["steps"],
                         batch_size=64, overrides=overrides, progress=False, tensorboard=False,
                         sample_every=0, checkpoint_every=0, log_every=max(1, job["steps"] // 10))
    train_s = time.perf_counter() - t0
    model.eval()
    data = load_data(DataConfig(name=job["data"]))
    t0 = time.perf_counter()
    scores = model.evaluate(data, n_samples=job["n_samples"], seed=0)
    eval_s = time.perf_counter() - t0
    grid = None
    if job["seed"] == 0 and job.get("grid_dir"):
        tag = job["loss"] if job.get("precision", "fp32") == "fp32" else f"{job['loss']}-{job['precision']}"
        grid = Path(job["grid_dir"]) / f"samples-{tag}.png"
        save_grid(model.preview(None, seed=0)["samples"].cpu(), grid, nrow=8, scale=2)
    if not job.get("keep"):
        shutil.rmtree(run_dir, ignore_errors=True)
    ov = "".join(f" {o}" for o in overrides)
    return {"loss": job["loss"], "seed": job["seed"], "train_precision": job.get("precision", "fp32"),
            **{m: scores[m] for m in METRICS},
            "kid_std": scores["kid_std"], "n_generated": scores["n_generated"], "n_real": scores["n_real"],
            "steps": job["steps"], "train_seconds": round(train_s, 1), "eval_seconds": round(eval_s, 1),
            "threads": torch.get_num_threads(), "grid": grid.name if grid else None,
            "memory_format": "channels_last",
            "command": f"genlab train {preset} --data {job['data']} --out DIR --steps {job['steps']} "
                       f"--batch-size 64{ov} train.seed={job['seed']} && genlab eval DIR --json"}


def aggregate(runs: list[dict]) -> list[dict]:
    """One row per budget (generator steps), loss and precision: mean and std over its seeds."""
    rows = []
    for steps in sorted({r["steps"] for r in runs}):
        for loss in LOSSES:
            for prec in ("fp32", "bf16", "fp16"):
                rs = sorted((r for r in runs if r["loss"] == loss and r["steps"] == steps
                             and r.get("train_precision", "fp32") == prec), key=lambda r: r["seed"])
                if rs:
                    rows.append({"loss": loss if prec == "fp32" else f"{loss} ({prec})",
                                 "seeds": [r["seed"] for r in rs], "steps": steps,
                                 **{m: [round(v, 4) for v in mean_std([r[m] for r in rs])]
                                    for m in (*METRICS, "train_seconds")}})
    return rows


def reference_scores(data: str, n: int) -> dict:
    """The same scores for ``n`` real training images (a seeded subset): the best a G can expect."""
    import torch

    from genlab.api import load_data
    from genlab.config import DataConfig
    from genlab.metrics.images import score_images

    train = load_data(DataConfig(name=data)).train
    pick = torch.randperm(train.shape[0], generator=torch.Generator().manual_seed(0))[:n]
    scores = score_images(train[pick], data, seed=0)
    return {"loss": f"real ({n:,} training images)", **{m: scores[m] for m in METRICS}}


def markdown(rows: list[dict]) -> str:
    lines = ["| loss | G steps | FID ↓ | KID ↓ | precision ↑ | recall ↑ | density | coverage ↑ "
             "| classifier score ↑ | min / run | seeds |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def pm(key, scale=1.0, digits=2):  # mean ± std over seeds, or the one value of the reference
            v = r[key]
            return f"{v[0] * scale:.{digits}f} ± {v[1] * scale:.{digits}f}" if isinstance(v, list) else \
                f"{v * scale:.{digits}f}"
        time_seeds = f"{r['train_seconds'][0] / 60:.1f} | {len(r['seeds'])}" if "seeds" in r else "— | —"
        steps = f"{r['steps']:,}" if "steps" in r else "—"
        lines.append(f"| {r['loss']} | {steps} | {pm('fid')} | {pm('kid', 1, 3)} | {pm('precision')} | {pm('recall')} | "
                     f"{pm('density')} | {pm('coverage')} | {pm('classifier_score')} | {time_seeds} |")
    return "\n".join(lines)


def update_readme(record: dict, marker: str = "table") -> None:
    readme = HERE / "README.md"
    if readme.is_file():
        body = markdown(record["tables"] + ([record["reference"]] if record.get("reference") else []))
        readme.write_text(splice(readme.read_text(), marker, body))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="digits, 4 steps, 1 seed, 200 samples: seconds")
    p.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(LOSSES))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=3000, help="generator steps a run (the budget)")
    p.add_argument("--width", type=int, default=32, help="ngf = ndf of the dcgan networks")
    p.add_argument("--n-samples", type=int, default=10_000)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--threads", type=int, default=None, help="torch threads a run (default: cores / jobs)")
    p.add_argument("--run-dir", default="runs/bench-fmnist-gans")
    p.add_argument("--out", default=None, help="results file (default: results.json beside this script)")
    p.add_argument("--fresh", action="store_true", help="ignore runs already in the results file")
    p.add_argument("--keep-runs", action="store_true")
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=("fp32", "bf16", "fp16"),
                   help="train.precision of the runs (a row each)")
    p.add_argument("--marker", default="table", help="README.md markers the table goes between")
    p.add_argument("--readme-only", action="store_true", help="rewrite README.md's table from the results file")
    args = p.parse_args()
    if args.readme_only:
        update_readme(json.loads((Path(args.out) if args.out else HERE / "results.json").read_text()), args.marker)
        return
    data = "fashion-mnist"
    if args.quick:  # digits ship with scikit-learn: the pipeline runs anywhere
        data, args.seeds, args.steps, args.width, args.n_samples = "digits", 1, 4, 8, 200
    out = Path(args.out) if args.out else (HERE / "results.json" if not args.quick else
                                          Path(args.run_dir) / "results-quick.json")
    grid_dir = out.parent
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    old = json.loads(out.read_text()).get("runs", []) if out.is_file() and not args.fresh else []
    done = {(r["loss"], r["seed"], r["steps"], r.get("train_precision", "fp32")) for r in old}
    jobs = [{"loss": loss, "seed": s, "data": data, "steps": args.steps, "width": args.width,
             "precision": prec, "n_samples": args.n_samples, "grid_dir": str(grid_dir), "keep": args.keep_runs,
             "run_dir": str(Path(args.run_dir) / f"{loss}-{prec}-s{s}")}
            for s in range(args.seeds) for loss in args.losses for prec in args.precisions
            if (loss, s, args.steps, prec) not in done]
    print(f"{len(jobs)} runs to do ({args.jobs} at a time, {threads} thread(s) each)", file=sys.stderr, flush=True)
    runs = list(old)
    reference = (json.loads(out.read_text()).get("reference") if out.is_file() and not args.fresh else None) \
        or reference_scores(data, min(args.n_samples, 10_000))
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def save() -> dict:
        record = {"benchmark": "fmnist_gans", "quick": args.quick, "data": data, "steps": args.steps,
                  "width": args.width, "batch_size": 64, "n_samples": args.n_samples,
                  "features": "genlab evaluator (fashion-mnist)", "tables": aggregate(runs), "runs": runs,
                  "reference": reference,
                  "conditions": {"jobs": args.jobs, "threads_per_run": threads, "loadavg_at_start": load0},
                  "machine": machine(), "date": time.strftime("%Y-%m-%d")}
        write_json(out, record)
        return record

    def report(r: dict) -> None:
        runs.append(r)
        save()
        print(f"{r['loss']:>8} seed {r['seed']}: FID {r['fid']:.2f}, precision {r['precision']:.3f}, "
              f"recall {r['recall']:.3f}, {r['train_seconds']:.0f} s", file=sys.stderr, flush=True)

    for r in run_jobs(run_one, jobs, args.jobs, threads):
        report(r)
    record = save()
    if not args.quick and (args.out is None or args.marker != "table"):
        update_readme(record, args.marker)
    print(markdown(record["tables"]))


if __name__ == "__main__":
    main()
