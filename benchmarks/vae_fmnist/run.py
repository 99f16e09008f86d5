"""VAE likelihood benchmark on dynamically binarised Fashion-MNIST.

Protocol (Exemplar VAE, arXiv:2004.04795, Table 1: VAE 228.70 nats):
  - model: the `vae` default, MLP 784-300-300-40, Bernoulli decoder, N(0, I) prior;
  - data: Fashion-MNIST, 60,000 train images binarised afresh at every step (dynamic
    binarisation), 10,000 test images binarised once with a fixed seed;
  - training: `genlab train vae --data fashion-mnist --binarize` with no other flag
    (the preset: batch 100, Adam 1e-3 halved every 45k steps, KL warm-up 10k steps, 180k steps);
  - metric: test NLL by importance sampling with k = 5,000 samples (IWAE bound), on all 10,000
    test images; also the test ELBO.

    python benchmarks/vae_fmnist/run.py            # the full benchmark (~25 min train + eval)
    python benchmarks/vae_fmnist/run.py --quick    # the same pipeline in seconds (for tests)

Writes results.json (beside this file, or --out) with the numbers, times and machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(HERE.parents[1]))

from benchmarks.common import machine  # noqa: E402


def genlab_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("genlab")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "genlab"]


def timed(cmd: list[str], stdout=None) -> float:
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=stdout)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 steps, k=10 on 200 test images")
    p.add_argument("--run-dir", default="runs/bench-vae-fmnist")
    p.add_argument("--out", default=str(HERE / "results.json"))
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--skip-train", action="store_true", help="evaluate an existing --run-dir")
    args = p.parse_args()
    run_dir = Path(args.run_dir)
    train = [*genlab_cmd(), "train", "vae", "--data", "fashion-mnist", "--binarize", "--out", str(run_dir),
             "--no-progress"]
    evaluate = [*genlab_cmd(), "eval", str(run_dir), "--json", "--k", str(args.k)]
    if args.quick:
        train += ["--steps", "200", "train.log_every=100", "train.sample_every=0", "train.checkpoint_every=200"]
        evaluate = [*genlab_cmd(), "eval", str(run_dir), "--json", "--k", "10", "--max-examples", "200"]
    train_s = None
    if not args.skip_train:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        train_s = timed(train)
    eval_file = run_dir / "eval.json"
    with open(eval_file, "w") as f:
        eval_s = timed(evaluate, stdout=f)
    result = json.loads(eval_file.read_text())
    record = {
        "benchmark": "vae_fmnist",
        "quick": args.quick,
        "commands": [" ".join(["genlab", *c[len(genlab_cmd()):]]) for c in (train, evaluate)],
        "nll": result["nll"], "elbo": result["elbo"], "k": result["k"], "n_test": result["n_test"],
        "steps": result["step"], "train_seconds": train_s, "eval_seconds": round(eval_s, 1),
        "anchor_nll": 228.70, "target_nll": 232.0,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    if train_s is None:  # keep the training time of the run that made the weights
        try:
            record["train_seconds"] = json.loads(Path(args.out).read_text()).get("train_seconds")
        except (OSError, json.JSONDecodeError):
            pass
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
