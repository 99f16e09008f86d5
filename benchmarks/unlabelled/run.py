"""Learning from unlabelled data on Fashion-MNIST: the semi-supervised GAN beside its
supervised-only twin, InfoGAN's clusters, and the encoders' probe beside raw pixels.

Protocol:
  - data: Fashion-MNIST, the official 60,000 / 10,000 split;
  - one budget for all (--steps steps, batch 64); infogan and bigan on the dcgan networks at
    ngf = ndf = --width; sgan on its Fashion-MNIST recipe (Salimans et al.'s MNIST MLPs, Gaussian
    noise in D);
  - sgan with a label budget of 100 and of 1,000 (balanced, --labels-seed 0), beside the same D
    trained on the same labels alone (supervised_only=true), and beside that D without its noise
    (the stronger supervised baseline): test accuracy of the averaged D;
  - infogan (10 categories, 2 continuous codes): Q's category against the test classes,
    cluster accuracy (Hungarian matching), NMI, ARI, and the information term against ln 10;
  - the encoders: bigan's E, the ae's and the vae's encoders (the vae benchmark's MLP at the same
    budget; the ae likewise): linear probe (logistic regression on the codes of 10,000 training
    images) and 1-NN on the test set, beside the same on raw pixels;
  - 2-D (ALI's 25-mode grid, also ring8): the course's plain GAN (configs/gan-plain.yaml, 10,000
    steps), and bigan / ali with the same networks, optimiser and budget; modes, high-quality
    samples, reverse KL and spread of 2,500 samples;
  - seeds 0, 1, 2 (the training seed; evaluation seed 0): mean +- sample std.

    python benchmarks/unlabelled/run.py --jobs 2 --threads 1   # every row, 3 seeds
    python benchmarks/unlabelled/run.py --quick                # the pipeline in seconds (for tests)

Runs already in the results file are kept (--fresh redoes them). Writes results.json, the InfoGAN
code sweep and bigan's reconstructions of seed 0, and the table into README.md.
"""

from __future__ import annotations

import argparse
import json
import math
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

# row: (model, labels, overrides); sgan on Fashion-MNIST is its recipe (the paper's MNIST MLPs, SGAN_STEPS steps)
SUPERVISED, QUIET = ["supervised_only=true"], ["supervised_only=true", "d_noise=[0,0]"]
ROWS = {
    "sgan, 100 labels": ("sgan", 100, []),
    "supervised only, 100 labels": ("sgan", 100, SUPERVISED),
    "supervised only without noise, 100 labels": ("sgan", 100, QUIET),
    "sgan, 1,000 labels": ("sgan", 1000, []),
    "supervised only, 1,000 labels": ("sgan", 1000, SUPERVISED),
    "supervised only without noise, 1,000 labels": ("sgan", 1000, QUIET),
    "infogan": ("infogan", None, []),
    "bigan": ("bigan", None, []),
    "ae": ("ae", None, ["net=mlp"]),
    "vae": ("vae", None, ["net=mlp"]),
}
# 2-D rows (ALI's paper, section 4.3: 25-mode grid): the course's plain GAN, and the same networks and
# optimiser with an encoder; row: (model, data, overrides), all with --config configs/gan-plain.yaml
POINT_ROWS = {
    "gan, grid25": ("gan", "grid25", []),
    "bigan, grid25": ("bigan", "grid25", []),
    "ali, grid25": ("bigan", "grid25", ["stochastic_encoder=true"]),
    "gan, ring8": ("gan", "ring8", []),
    "bigan, ring8": ("bigan", "ring8", []),
    "ali, ring8": ("bigan", "ring8", ["stochastic_encoder=true"]),
}
PLAIN = ROOT / "configs" / "gan-plain.yaml"
SGAN_STEPS = 5_000  # the sgan recipe on Fashion-MNIST, at the budget of every row
POINT_METRICS = ("modes", "hq", "reverse_kl", "spread")
METRICS = ("accuracy", "cluster_accuracy", "nmi", "ari", "information", "information_bound", "linear_probe",
           "knn_accuracy", "linear_probe_pixels", "knn_accuracy_pixels", "recon_mse", "recon_class_accuracy")


def slug(row: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-")


def run_points(job: dict) -> dict:
    """Train and score one 2-D row at one seed: mode metrics of 2,500 samples."""
    import torch

    import genlab
    from genlab.api import load_data

    run_dir = Path(job["run_dir"])
    shutil.rmtree(run_dir, ignore_errors=True)
    model_name, data, overrides = POINT_ROWS[job["row"]]
    t0 = time.perf_counter()
    model = genlab.train(model_name, data, out=run_dir, seed=job["seed"], config=PLAIN, overrides=overrides,
                         progress=False, tensorboard=False, sample_every=0, checkpoint_every=0,
                         **({"steps": job["point_steps"]} if job.get("point_steps") else {}))
    train_s = time.perf_counter() - t0
    scores = model.evaluate(load_data(model.run_config.data), seed=0)
    shutil.rmtree(run_dir, ignore_errors=True)
    ov = "".join(f" {o}" for o in overrides)
    return {"row": job["row"], "seed": job["seed"], "steps": model.step, **{m: scores.get(m) for m in POINT_METRICS},
            "n_modes": scores.get("n_modes"), "train_seconds": round(train_s, 1), "threads": torch.get_num_threads(),
            "command": f"genlab train {model_name} --data {data} --config configs/gan-plain.yaml --out DIR{ov} "
                       f"train.seed={job['seed']} && genlab eval DIR --json"}


def run_one(job: dict) -> dict:
    """Train and score one row at one seed."""
    if job["row"] in POINT_ROWS:
        return run_points(job)
    import torch

    import genlab
    from genlab.api import load_data
    from genlab.images import save_grid
    from genlab.metrics.probe import encoder_scores, reconstruction_scores

    run_dir = Path(job["run_dir"])
    shutil.rmtree(run_dir, ignore_errors=True)
    model_name, labels, overrides = ROWS[job["row"]]
    conv = model_name in ("infogan", "bigan") or (model_name == "sgan" and job["data"] == "digits")
    overrides = [*overrides, *([f"ngf={job['width']}", f"ndf={job['width']}"] if conv else [])]
    t0 = time.perf_counter()
    model = genlab.train(model_name, job["data"], out=run_dir, seed=job["seed"], steps=_steps(job), batch_size=64,
                         labels=labels, overrides=overrides, progress=False, tensorboard=False, sample_every=0,
                         checkpoint_every=0, log_every=max(1, job["steps"] // 10))
    train_s = time.perf_counter() - t0
    data = load_data(model.run_config.data)
    t0 = time.perf_counter()
    if model_name == "sgan":
        scores = model.evaluate(data)
    elif model_name == "infogan":
        from genlab.metrics.clustering import clustering_scores

        scores = {**clustering_scores(model.infer_category(data.test), data.test_labels),
                  "information": model.information(), "information_bound": math.log(model.config.categories)}
    else:
        encode = model.encode if model_name != "vae" else (lambda x: model.encode(x.to(model.device))[0])
        scores = encoder_scores(encode, data, seed=0, max_train=job["probe_n"])
        if model_name == "bigan":
            scores.update(reconstruction_scores(model.reconstruct, data))
    eval_s = time.perf_counter() - t0
    picture = None
    if job["seed"] == 0 and job.get("picture_dir") and model_name in ("infogan", "bigan"):
        picture = Path(job["picture_dir"]) / f"{slug(job['row'])}.png"
        with torch.no_grad():
            if model_name == "infogan":
                x, nrow = model.decode(model.code_sweep(0, 9, torch.Generator().manual_seed(0))).cpu(), 9
            else:
                from genlab.models.vae import interleave

                x, nrow = interleave(data.test[:32], model.reconstruct(data.test[:32]).cpu()), 8
        save_grid(x, picture, nrow=nrow, scale=2)
    if not job.get("keep"):
        shutil.rmtree(run_dir, ignore_errors=True)
    ov = "".join(f" {o}" for o in overrides)
    lab = f" --labels {labels}" if labels else ""
    return {"row": job["row"], "seed": job["seed"], "steps": _steps(job), "labels": labels,
            **{m: scores.get(m) for m in METRICS}, "train_seconds": round(train_s, 1), "eval_seconds": round(eval_s, 1),
            "threads": torch.get_num_threads(), "picture": picture.name if picture else None,
            "command": f"genlab train {model_name} --data {job['data']}{lab} --out DIR --steps {_steps(job)} "
                       f"--batch-size 64{ov} train.seed={job['seed']} && genlab eval DIR --json"}


def _steps(job: dict) -> int:
    """The row's budget: the sgan recipe's on Fashion-MNIST, the 2-D config's for points, else --steps."""
    if job["row"] in POINT_ROWS:
        return job.get("point_steps") or 10_000
    return SGAN_STEPS if ROWS[job["row"]][0] == "sgan" and job["data"] == "fashion-mnist" else job["steps"]


def aggregate(runs: list[dict]) -> list[dict]:
    rows = []
    for row in (*ROWS, *POINT_ROWS):
        rs = sorted((r for r in runs if r["row"] == row), key=lambda r: r["seed"])
        if rs:
            out = {"row": row, "seeds": [r["seed"] for r in rs], "steps": rs[0]["steps"], "labels": rs[0].get("labels")}
            for m in (*METRICS, *POINT_METRICS, "train_seconds", "eval_seconds"):
                values = [r[m] for r in rs if r.get(m) is not None]
                out[m] = [round(v, 4) for v in mean_std(values)] if values else None
            rows.append(out)
    return rows


def _pm(r: dict, key: str, digits: int = 3) -> str:
    v = r.get(key)
    return "—" if v is None else f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"


def markdown(rows: list[dict]) -> str:
    by = {r["row"]: r for r in rows}
    sgan = ["| row | labels | test accuracy | min / run | seeds |", "|---|---|---|---|---|"]
    sgan += [f"| {r['row']} | {r['labels']:,} | {_pm(r, 'accuracy')} | {r['train_seconds'][0] / 60:.1f} | "
             f"{len(r['seeds'])} |" for name, r in by.items() if name.startswith(("sgan", "supervised"))]
    info = ["| row | cluster accuracy | NMI | ARI | information (bound) | min / run | seeds |", "|---|---|---|---|---|---|---|"]
    if "infogan" in by:
        r = by["infogan"]
        info.append(f"| infogan | {_pm(r, 'cluster_accuracy')} | {_pm(r, 'nmi')} | {_pm(r, 'ari')} | "
                    f"{_pm(r, 'information')} ({r['information_bound'][0]:.3f}) | {r['train_seconds'][0] / 60:.1f} | "
                    f"{len(r['seeds'])} |")
    probe = ["| encoder | linear probe | 1-NN | G(E(x)) MSE | G(E(x)) class kept | min / run | seeds |",
             "|---|---|---|---|---|---|---|"]
    for name in ("bigan", "ae", "vae"):
        if name in by:
            r = by[name]
            probe.append(f"| {name} | {_pm(r, 'linear_probe')} | {_pm(r, 'knn_accuracy')} | {_pm(r, 'recon_mse', 4)} | "
                         f"{_pm(r, 'recon_class_accuracy')} | {r['train_seconds'][0] / 60:.1f} | {len(r['seeds'])} |")
    pixels = next((by[n] for n in ("bigan", "ae", "vae") if n in by), None)
    if pixels is not None:
        probe.append(f"| raw pixels | {_pm(pixels, 'linear_probe_pixels')} | {_pm(pixels, 'knn_accuracy_pixels')} | — | — "
                     f"| — | {len(pixels['seeds'])} |")
    points = ["| row | steps | modes | high-quality samples | reverse KL | spread | seeds |", "|---|---|---|---|---|---|---|"]
    points += [f"| {r['row']} | {r['steps']:,} | {_pm(r, 'modes', 1)} | {_pm(r, 'hq', 3)} | {_pm(r, 'reverse_kl', 3)} | "
               f"{_pm(r, 'spread', 2)} | {len(r['seeds'])} |" for name, r in by.items() if name in POINT_ROWS]
    return "\n\n".join("\n".join(t) for t in (sgan, info, probe, points))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="digits, 4 steps, 1 seed, a small probe: seconds")
    p.add_argument("--rows", nargs="+", default=[*ROWS, *POINT_ROWS], choices=[*ROWS, *POINT_ROWS])
    p.add_argument("--point-steps", type=int, default=None, help="steps of the 2-D rows (default: the config's 10,000)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=5000, help="steps a run: the budget")
    p.add_argument("--width", type=int, default=32, help="ngf = ndf of the dcgan networks")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--threads", type=int, default=None, help="torch threads a run (default: cores / jobs)")
    p.add_argument("--run-dir", default="runs/bench-unlabelled")
    p.add_argument("--out", default=None, help="results file (default: results.json beside this script)")
    p.add_argument("--fresh", action="store_true", help="ignore runs already in the results file")
    args = p.parse_args()
    data, probe_n = "fashion-mnist", 10_000
    if args.quick:
        data, args.seeds, args.steps, args.width, probe_n, args.point_steps = "digits", 1, 4, 8, 300, 20
    out = Path(args.out) if args.out else (HERE / "results.json" if not args.quick else
                                          Path(args.run_dir) / "results-quick.json")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    old = json.loads(out.read_text()).get("runs", []) if out.is_file() and not args.fresh else []
    done = {(r["row"], r["seed"], r["steps"]) for r in old}
    jobs = [{"row": row, "seed": s, "data": data, "steps": args.steps, "width": args.width, "probe_n": probe_n,
             "point_steps": args.point_steps,
             "picture_dir": str(out.parent), "run_dir": str(Path(args.run_dir) / f"{slug(row)}-s{s}")}
            for s in range(args.seeds) for row in args.rows]
    jobs = [j for j in jobs if (j["row"], j["seed"], _steps(j)) not in done]
    print(f"{len(jobs)} runs to do ({args.jobs} at a time, {threads} thread(s) each)", file=sys.stderr, flush=True)

    def report(r: dict) -> None:
        shown = {m: round(r[m], 4) for m in (*METRICS, *POINT_METRICS) if r.get(m) is not None}
        print(f"{r['row']:>30} seed {r['seed']}: {shown}, {r['train_seconds']:.0f} s", file=sys.stderr, flush=True)

    record = run_and_save(run_one, jobs, args.jobs, threads, list(old), out, lambda runs: {
        "benchmark": "unlabelled", "quick": args.quick, "data": data, "steps": args.steps, "width": args.width,
        "batch_size": 64, "probe_train": probe_n, "tables": aggregate(runs)}, report)
    readme = HERE / "README.md"
    if not args.quick and args.out is None and readme.is_file():
        readme.write_text(splice(readme.read_text(), "table", markdown(record["tables"])))
    print(markdown(record["tables"]))


if __name__ == "__main__":
    main()
