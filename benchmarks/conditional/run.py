"""Class-conditional generation on Fashion-MNIST: was the class obeyed, and at what cost?

Protocol:
  - data: Fashion-MNIST, 60,000 training images with their labels, 10,000 test images;
  - models, one budget for all (--steps generator or VAE steps, batch 64), 3 seeds:
        cgan (projection)      genlab train cgan                       D(x, c) by projection
        cgan (concatenation)   genlab train cgan d_condition=concat    c as channels beside x
        acgan (fakes too)      genlab train acgan                      D's class loss on reals and fakes
        acgan (reals only)     genlab train acgan class_loss_on_fakes=false
        cvae                   genlab train cvae                       MLP 784-300-300-40, Bernoulli decoder
        dcgan (unconditional)  genlab train dcgan                      the same networks without c
    GANs with the dcgan networks at ngf = ndf = --width and their DCGAN optimiser settings;
  - metrics, in the feature space of genlab's shipped Fashion-MNIST evaluator (not Inception: compare
    rows with each other, not with papers): FID of --n-samples samples (c ~ p(c)) against the test
    set; conditional accuracy (the evaluator's accuracy on 1,000 samples a class against the class
    asked for) beside the evaluator's accuracy on the real test images; per-class recall and
    coverage (k = 5) against that class's test images; per-class FID; CAS (a classifier of the
    evaluator's architecture trained on 10,000 generated images for 10 epochs, tested on the real
    test set) beside the same classifier trained on 10,000 real training images;
  - mean +- sample std over seeds 0, 1, 2 (evaluation seed 0).

    python benchmarks/conditional/run.py --jobs 2          # every variant, 3 seeds
    python benchmarks/conditional/run.py --quick           # the pipeline in seconds (for tests)

Runs already in the results file are kept (--fresh redoes them). Writes results.json, a class grid
per variant (seed 0: a row per class, the same noise in every row) and the table into README.md.
"""

from __future__ import annotations

import argparse
import json
import os
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

VARIANTS = {
    "cgan (projection)": ("cgan", []),
    "cgan (concatenation)": ("cgan", ["d_condition=concat"]),
    "acgan (fakes too)": ("acgan", []),
    "acgan (reals only)": ("acgan", ["class_loss_on_fakes=false"]),
    "cvae": ("cvae", []),
    "dcgan (unconditional)": ("dcgan", []),
}
METRICS = ("fid", "conditional_accuracy", "conditional_accuracy_real", "class_recall", "class_coverage",
           "class_fid", "cas", "cas_real")


def run_one(job: dict) -> dict:
    """Train and score one variant at one seed."""
    import torch

    import genlab
    from genlab.api import load_data
    from genlab.config import DataConfig
    from genlab.images import save_grid
    from genlab.metrics.conditional import classification_accuracy_score, conditional_accuracy
    from genlab.metrics.images import score_images

    run_dir = Path(job["run_dir"])
    if run_dir.exists():
        shutil.rmtree(run_dir)
    preset, overrides = VARIANTS[job["variant"]]
    gan = preset != "cvae"
    overrides = [*overrides, *([f"ngf={job['width']}", f"ndf={job['width']}"] if gan else [])]
    t0 = time.perf_counter()
    model = genlab.train(preset, job["data"], out=run_dir, seed=job["seed"], steps=job["steps"], batch_size=64,
                         overrides=overrides, progress=False, tensorboard=False, sample_every=0,
                         checkpoint_every=0, log_every=max(1, job["steps"] // 10))
    train_s = time.perf_counter() - t0
    data = load_data(DataConfig(name=job["data"]))
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    n = job["n_samples"]
    samples = torch.cat([model.sample(min(500, n - i), generator=g).cpu() for i in range(0, n, 500)])
    scores = {"fid": score_images(samples, data, seed=0)["fid"]}
    conditional = getattr(model, "condition", None) is not None
    if conditional:
        scores.update(conditional_accuracy(model, data, n_per_class=job["per_class"], seed=0))
        scores.update(classification_accuracy_score(model, data, n_train=job["cas_n"], seed=0))
    eval_s = time.perf_counter() - t0
    grid = None
    if job["seed"] == 0 and job.get("grid_dir"):
        grid = Path(job["grid_dir"]) / f"classes-{slug(job['variant'])}.png"
        codes = model.class_grid(8, torch.Generator().manual_seed(0)) if conditional else model.prior(80, g)
        save_grid(model.decode(codes).cpu(), grid, nrow=8, scale=2)
    if not job.get("keep"):
        shutil.rmtree(run_dir, ignore_errors=True)
    ov = "".join(f" {o}" for o in overrides)
    return {"variant": job["variant"], "seed": job["seed"], "steps": job["steps"],
            **{m: scores.get(m) for m in METRICS}, "n_samples": n, "per_class": job["per_class"],
            "train_seconds": round(train_s, 1), "eval_seconds": round(eval_s, 1),
            "threads": torch.get_num_threads(), "grid": grid.name if grid else None,
            "command": f"genlab train {preset} --data {job['data']} --out DIR --steps {job['steps']} "
                       f"--batch-size 64{ov} train.seed={job['seed']}"}


def slug(variant: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", variant.lower()).strip("-")


def aggregate(runs: list[dict]) -> list[dict]:
    rows = []
    for variant in VARIANTS:
        rs = sorted((r for r in runs if r["variant"] == variant), key=lambda r: r["seed"])
        if rs:
            row = {"variant": variant, "seeds": [r["seed"] for r in rs], "steps": rs[0]["steps"]}
            for m in (*METRICS, "train_seconds", "eval_seconds"):
                values = [r[m] for r in rs if r.get(m) is not None]
                row[m] = [round(v, 4) for v in mean_std(values)] if values else None
            rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| variant | steps | FID ↓ | conditional accuracy ↑ (real images) | class recall ↑ | class coverage ↑ "
             "| class FID ↓ | CAS ↑ (real-trained) | min / run | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def pm(key, digits=3):
            v = r.get(key)
            return "—" if v is None else f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"
        ref = lambda key: "" if r.get(key) is None else f" ({r[key][0]:.3f})"  # noqa: E731
        lines.append(f"| {r['variant']} | {r['steps']:,} | {pm('fid', 2)} | {pm('conditional_accuracy')}"
                     f"{ref('conditional_accuracy_real')} | {pm('class_recall')} | {pm('class_coverage')} | "
                     f"{pm('class_fid', 2)} | {pm('cas')}{ref('cas_real')} | {r['train_seconds'][0] / 60:.1f} | "
                     f"{len(r['seeds'])} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="digits, 4 steps, 1 seed, few samples: seconds")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=5000, help="generator (or VAE) steps a run: the budget")
    p.add_argument("--width", type=int, default=32, help="ngf = ndf of the dcgan networks")
    p.add_argument("--n-samples", type=int, default=10_000)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--threads", type=int, default=None, help="torch threads a run (default: cores / jobs)")
    p.add_argument("--run-dir", default="runs/bench-conditional")
    p.add_argument("--out", default=None, help="results file (default: results.json beside this script)")
    p.add_argument("--fresh", action="store_true", help="ignore runs already in the results file")
    args = p.parse_args()
    data, per_class, cas_n = "fashion-mnist", 1000, 10_000
    if args.quick:
        data, args.seeds, args.steps, args.width, args.n_samples, per_class, cas_n = "digits", 1, 4, 8, 200, 20, 200
    out = Path(args.out) if args.out else (HERE / "results.json" if not args.quick else
                                          Path(args.run_dir) / "results-quick.json")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    old = json.loads(out.read_text()).get("runs", []) if out.is_file() and not args.fresh else []
    done = {(r["variant"], r["seed"], r["steps"]) for r in old}
    jobs = [{"variant": v, "seed": s, "data": data, "steps": args.steps, "width": args.width,
             "n_samples": args.n_samples, "per_class": per_class, "cas_n": cas_n, "grid_dir": str(out.parent),
             "run_dir": str(Path(args.run_dir) / f"{slug(v)}-s{s}")}
            for s in range(args.seeds) for v in args.variants if (v, s, args.steps) not in done]
    print(f"{len(jobs)} runs to do ({args.jobs} at a time, {threads} thread(s) each)", file=sys.stderr, flush=True)

    def report(r: dict) -> None:
        print(f"{r['variant']:>22} seed {r['seed']}: FID {r['fid']:.2f}, accuracy {r['conditional_accuracy']}, "
              f"CAS {r['cas']}, {r['train_seconds']:.0f} s", file=sys.stderr, flush=True)

    record = run_and_save(run_one, jobs, args.jobs, threads, list(old), out, lambda runs: {
        "benchmark": "conditional", "quick": args.quick, "data": data, "steps": args.steps, "width": args.width,
        "batch_size": 64, "n_samples": args.n_samples, "per_class": per_class, "cas_train_size": cas_n,
        "features": f"genlab evaluator ({data})", "tables": aggregate(runs)}, report)
    readme = HERE / "README.md"
    if not args.quick and args.out is None and readme.is_file():
        readme.write_text(splice(readme.read_text(), "table", markdown(record["tables"])))
    print(markdown(record["tables"]))


if __name__ == "__main__":
    main()
