"""VAE likelihood benchmark on dynamically binarised Fashion-MNIST, over seeds.

Protocol (Exemplar VAE, arXiv:2004.04795, Table 1: VAE 228.70 nats):
  - model: the `vae` default, MLP 784-300-300-40, Bernoulli decoder, N(0, I) prior;
  - data: Fashion-MNIST, 60,000 train images binarised afresh at every step (dynamic
    binarisation), 10,000 test images binarised once with a fixed seed;
  - training: `genlab train vae --data fashion-mnist --binarize --seed S` with no other setting
    (the preset: batch 100, Adam 1e-3 halved every 45k steps, KL warm-up 10k steps, 180k steps);
  - metric: test NLL by importance sampling with k = 5,000 samples (IWAE bound), on all 10,000
    test images (evaluation seed 0); also the test ELBO; mean +- sample std over the seeds.

    python benchmarks/vae_fmnist/run.py --seeds 3 --jobs 2 --threads 1   # two commands at a time, ~80 min
    python benchmarks/vae_fmnist/run.py --quick                 # the same pipeline in seconds (for tests)

Each seed's run and timings live in RUN_DIR/seed-S (training time in bench-train.json), so
--phase train and --phase eval can run apart; a seed already trained (or evaluated, bench-eval.json)
is not trained (or evaluated) again unless --fresh. Writes results.json (beside this file, or --out) with the numbers, times and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(HERE.parents[1]))

from benchmarks.common import machine, mean_std, write_json  # noqa: E402


def genlab_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("genlab")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "genlab"]


def timed(cmd: list[str], env: dict, stdout=None) -> float:
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=stdout, env=env)
    return time.perf_counter() - t0


def commands(run_dir: Path, seed: int, k: int, quick: bool) -> tuple[list[str], list[str]]:
    train = [*genlab_cmd(), "train", "vae", "--data", "fashion-mnist", "--binarize", "--out", str(run_dir),
             "--seed", str(seed), "--no-progress"]
    evaluate = [*genlab_cmd(), "eval", str(run_dir), "--json", "--k", str(k)]
    if quick:
        train += ["--steps", "200", "train.log_every=100", "train.sample_every=0", "train.checkpoint_every=200"]
        evaluate += ["--max-examples", "200"]
    return train, evaluate


def train_seed(seed: int, args: argparse.Namespace, env: dict) -> None:
    run_dir = Path(args.run_dir) / f"seed-{seed}"
    train, _ = commands(run_dir, seed, args.k, args.quick)
    train_file = run_dir / "bench-train.json"
    if args.phase in ("all", "train") and (args.fresh or not train_file.is_file()):
        if run_dir.exists():
            shutil.rmtree(run_dir)
        seconds = timed(train, env)
        write_json(train_file, {"train_seconds": round(seconds, 1), "threads": args.threads,
                                "loadavg_after": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M")})


def eval_seed(seed: int, args: argparse.Namespace, env: dict, trained: Future) -> dict | None:
    trained.result()  # its training, done (or raising) first
    if args.phase == "train":
        return None
    run_dir = Path(args.run_dir) / f"seed-{seed}"
    train, evaluate = commands(run_dir, seed, args.k, args.quick)
    train_file = run_dir / "bench-train.json"
    eval_file, timing_file = run_dir / "eval.json", run_dir / "bench-eval.json"
    if args.fresh or not (eval_file.is_file() and timing_file.is_file()):
        with open(eval_file, "w") as f:
            seconds = timed(evaluate, env, stdout=f)
        write_json(timing_file, {"eval_seconds": round(seconds, 1), "threads": args.threads,
                                 "loadavg_after": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M")})
    eval_s = json.loads(timing_file.read_text())["eval_seconds"]
    result = json.loads(eval_file.read_text())
    trained = json.loads(train_file.read_text()) if train_file.is_file() else {}
    return {"seed": seed, "nll": result["nll"], "elbo": result["elbo"], "k": result["k"],
            "n_test": result["n_test"], "steps": result["step"],
            "train_seconds": trained.get("train_seconds"), "eval_seconds": eval_s,
            "threads": trained.get("threads", args.threads),
            "commands": [" ".join(["genlab", *c[len(genlab_cmd()):]]) for c in (train, evaluate)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 seed, 200 steps, k=10 on 200 test images")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch threads of each command (GENLAB_THREADS)")
    p.add_argument("--jobs", type=int, default=1, help="commands at a time")
    p.add_argument("--phase", choices=("all", "train", "eval"), default="all")
    p.add_argument("--run-dir", default="runs/bench-vae-fmnist")
    p.add_argument("--out", default=str(HERE / "results.json"))
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--fresh", action="store_true", help="train and evaluate again seeds that are already done")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.k = 1, 10
    env = {**os.environ, "GENLAB_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    # every training first, then the evaluations, --jobs commands at a time (an evaluation waits
    # for its own training): with 2 jobs and 3 seeds, 2 x (train + eval) + 1 x (train + eval)
    # run in about 2.5 x (train + eval) instead of 3 x
    with ThreadPoolExecutor(args.jobs) as pool:
        trained = [pool.submit(train_seed, s, args, env) for s in range(args.seeds)]
        evaluated = [pool.submit(eval_seed, s, args, env, trained[s]) for s in range(args.seeds)]
        runs = [r for r in (f.result() for f in evaluated) if r is not None]
    if not runs:
        return
    record = {
        "benchmark": "vae_fmnist", "quick": args.quick, "seeds": [r["seed"] for r in runs],
        **{key: mean_std([r[key] for r in runs]) for key in ("nll", "elbo", "eval_seconds")},
        "train_seconds": (mean_std([r["train_seconds"] for r in runs])
                          if all(r["train_seconds"] is not None for r in runs) else None),
        "k": args.k, "n_test": runs[0]["n_test"], "steps": runs[0]["steps"], "threads": args.threads,
        "jobs": args.jobs,
        "commands": runs[0]["commands"], "runs": runs,
        "anchor_nll": 228.70, "target_nll": 232.0,
        "machine": machine(), "date": time.strftime("%Y-%m-%d"),
    }
    write_json(Path(args.out), record)
    print(json.dumps({k: v for k, v in record.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
