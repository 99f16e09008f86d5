"""How fast genlab trains and evaluates on this machine, side by side with bare PyTorch, in one run.

Protocol:
  - training step: genlab's trainer (`Trainer.fit`, its own logged images/s over the second half
    of the run) against a bare PyTorch loop written here with the same networks, optimiser
    (genlab's fused Adam), loss and batch, in each number format: fp32, fp32 + channels_last,
    bf16 (autocast), bf16 + channels_last. Rows: `vae` (the benchmark MLP, dynamically binarised
    Fashion-MNIST, batch 100), `dcgan` on 28 px (Fashion-MNIST, ngf = ndf = 32, batch 64), `dcgan`
    on 64 px (the course's 3 x 64 x 64 DCGAN, ngf = ndf = 64, batch 64, random pixels: speed does
    not depend on them), `wgan-gp` on 28 px (K = 5, the gradient penalty in fp32). Images/s
    counts real images consumed. Each cell is the median of --repeats runs, genlab and bare
    interleaved;
  - likelihood: the IWAE estimate (k = 5,000 on 200 test images of a VAE trained here for
    --vae-steps steps, or --vae-run) by genlab's estimator against the estimator of genlab 0.1
    (kept below as the baseline), same weights, alternated; FLOPs counted from the layer sizes,
    as a fraction of the measured fp32 matmul peak (2048 x 2048, the same threads);
  - threads: the vae and dcgan steps with 1 thread, 2 threads (OpenMP's default busy-waiting) and
    2 threads with OMP_WAIT_POLICY=PASSIVE, alone and beside one busy process (a 1-thread matmul
    loop), each in a fresh process.

    python benchmarks/speed/run.py              # everything (~10 min), writes results.json and the README tables
    python benchmarks/speed/run.py --quick      # the pipeline in seconds (for tests)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, splice, write_json  # noqa: E402

SETTINGS = {  # name -> (precision, memory format)
    "fp32": ("fp32", "contiguous"),
    "fp32 + channels_last": ("fp32", "channels_last"),
    "bf16": ("bf16", "contiguous"),
    "bf16 + channels_last": ("bf16", "channels_last"),
}


# -- workloads ---------------------------------------------------------------------------------

def workloads(quick: bool) -> list[dict]:
    """model, data, overrides, batch, steps of each row; --quick: the same rows at tiny widths."""
    s = 0.1 if quick else 1.0
    width = (lambda n: [f"ngf={4 if quick else n}", f"ndf={4 if quick else n}"])
    batch = 16 if quick else 64
    fmnist = "digits" if quick else "fashion-mnist"  # bundled with scikit-learn: loads at once
    return [
        dict(row="vae", model="vae", data=fmnist, binarize=True, overrides=[], batch=100,
             steps=int(800 * s), settings=["fp32", "bf16"]),
        dict(row="dcgan 28 px", model="dcgan", data=fmnist, overrides=width(32), batch=batch,
             steps=int(120 * s), settings=list(SETTINGS)),
        dict(row="dcgan 64 px", model="dcgan", data="random64", overrides=width(64), batch=batch,
             steps=max(4, int(16 * s)), settings=list(SETTINGS)),
        dict(row="wgan-gp 28 px", model="wgan-gp", data=fmnist, overrides=width(32), batch=batch,
             steps=max(4, int(30 * s)), settings=list(SETTINGS)),
    ]


def dataset(name: str, binarize: bool = False):
    import torch

    from genlab.api import load_data
    from genlab.config import DataConfig
    from genlab.data.dataset import Dataset

    if name == "random64":  # the course's anime-face shape; pixel values do not change the speed
        x = torch.rand(2048, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        return Dataset(name="random64", kind="image", train=x, test=x[:64])
    return load_data(DataConfig(name=name, binarize=binarize))


def genlab_rate(w: dict, setting: str, data, tmp: Path) -> float:
    """Images/s of genlab's trainer: its own logged rate over the second half of the run."""
    import shutil

    from genlab.api import build_model, build_config
    from genlab.training.device import resolve_device
    from genlab.training.trainer import Trainer

    prec, fmt = SETTINGS[setting]
    cfg = build_config(w["model"], overrides=[*w["overrides"], f"train.precision={prec}",
                                              f"train.memory_format={fmt}"],
                       batch_size=w["batch"], progress=False, tensorboard=False, sample_every=0,
                       checkpoint_every=0, log_every=max(1, w["steps"] // 2))
    net = build_model(cfg, data.spec())
    run_dir = tmp / "genlab-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    trainer = Trainer(net, data, cfg.train, run_dir, resolve_device("cpu"), {"model": w["model"]})
    trainer.save = lambda: None  # a step's speed, not the final checkpoint's
    trainer.write_previews = lambda log: []
    trainer.fit(w["steps"])
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return lines[-1]["images_per_s"]


def bare_rate(w: dict, setting: str, data) -> float:
    """Images/s of a bare PyTorch loop with the same networks, optimiser, loss and batch."""
    import torch
    import torch.nn.functional as F

    from genlab.api import build_model, build_config

    prec, fmt = SETTINGS[setting]
    cfg = build_config(w["model"], overrides=w["overrides"])
    net = build_model(cfg, data.spec())
    cl = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
    net = net.to(memory_format=cl)
    x_all, b = data.train, w["batch"]
    g = torch.Generator().manual_seed(0)
    perm, pos = torch.randperm(x_all.shape[0], generator=g), 0

    def batch():
        nonlocal perm, pos
        if pos + b > perm.numel():
            perm, pos = torch.randperm(x_all.shape[0], generator=g), 0
        x = x_all[perm[pos:pos + b]]
        pos += b
        return x.contiguous(memory_format=cl) if x.dim() == 4 else x

    ac = torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16")
    opts = net.configure_optimizers()  # genlab's optimisers: the comparison is of everything else
    if w["model"] == "vae":
        opt = opts["vae"]

        def step():
            x = torch.bernoulli(batch())
            with ac:
                h = net.encoder(x.flatten(1)).float()
                mu, logvar = h.chunk(2, -1)
                z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
                logits = net.decoder(z).float()
            rec = -F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(1)
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
            loss = -(rec - kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return 1
    else:
        G, D, k = net.generator, net.discriminator, net.config.d_steps
        gp = w["model"] == "wgan-gp"

        def step():
            for _ in range(k):
                real = batch() * 2 - 1
                with torch.no_grad(), ac:
                    fake = G(torch.randn(b, net.config.z_dim))
                with ac:
                    r, f = D(real).float(), D(fake).float()
                loss = (f.mean() - r.mean()) if gp else (F.softplus(-r).mean() + F.softplus(f).mean())
                if gp:
                    eps = torch.rand(b, 1, 1, 1)
                    xh = (eps * real + (1 - eps) * fake.float()).requires_grad_(True)
                    (grad,) = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
                    loss = loss + 10 * (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
                opts["d"].zero_grad(set_to_none=True)
                loss.backward()
                opts["d"].step()
            D.requires_grad_(False)
            with ac:
                f = D(G(torch.randn(b, net.config.z_dim))).float()
            loss = -f.mean() if gp else F.softplus(-f).mean()
            opts["g"].zero_grad(set_to_none=True)
            loss.backward()
            opts["g"].step()
            D.requires_grad_(True)
            return k

    net.train()
    half = max(1, w["steps"] // 2)
    for _ in range(w["steps"] - half):  # the same warm-up as the trainer's first log window
        step()
    t0, n = time.perf_counter(), 0
    for _ in range(half):
        n += step()
    return n * b / (time.perf_counter() - t0)


def training_rows(args, tmp: Path) -> list[dict]:
    """Every setting of a workload, genlab then bare, round after round: a ratio is the median of
    its per-round ratios, so the machine's drift over minutes (a shared host) cancels."""
    rows = []
    for w in workloads(args.quick):
        data = dataset(w["data"], w.get("binarize", False))
        ours = {s: [] for s in w["settings"]}
        bare = {s: [] for s in w["settings"]}
        for _ in range(args.repeats):
            for setting in w["settings"]:
                ours[setting].append(genlab_rate(w, setting, data, tmp))
                bare[setting].append(bare_rate(w, setting, data))
        first = w["settings"][0]
        for setting in w["settings"]:
            g, b = ours[setting], bare[setting]
            to_bare = statistics.median(x / y for x, y in zip(g, b))
            to_fp32 = statistics.median(x / y for x, y in zip(g, ours[first]))
            bare_to_fp32 = statistics.median(x / y for x, y in zip(b, bare[first]))
            rows.append({"row": w["row"], "setting": setting, "genlab": round(statistics.median(g), 1),
                         "bare": round(statistics.median(b), 1), "ratio_to_bare": round(to_bare, 3),
                         "ratio_to_fp32": round(to_fp32, 3), "bare_ratio_to_fp32": round(bare_to_fp32, 3),
                         "genlab_runs": [round(v, 1) for v in g], "bare_runs": [round(v, 1) for v in b],
                         "batch": w["batch"], "steps": w["steps"]})
            print(f"{w['row']:>14} {setting:>22}: genlab {statistics.median(g):8.1f} img/s, bare "
                  f"{statistics.median(b):8.1f}, {to_bare:.3f} of bare, {to_fp32:.2f}x fp32 "
                  f"(bare {bare_to_fp32:.2f}x)", file=sys.stderr, flush=True)
    return rows


# -- likelihood ----------------------------------------------------------------------------------

def matmul_peak(dtype_name: str, seconds: float = 2.0) -> float:
    """GFLOPS of a 2048 x 2048 matmul in ``dtype_name`` (the best of a few timed batches)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
    a @ b
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(3):
            a @ b
        best = max(best, 3 * 2 * 2048**3 / (time.perf_counter() - t0) / 1e9)
    return best


def estimator_of_genlab_0_1(x, mu, logvar, log_px_given_z, *, k, chunk=100):
    import torch

    with torch.no_grad():
        return _estimator_of_genlab_0_1(x, mu, logvar, log_px_given_z, k=k, chunk=chunk)


def _estimator_of_genlab_0_1(x, mu, logvar, log_px_given_z, *, k, chunk=100):
    """genlab 0.1's IWAE estimator, kept as the baseline: chunks of 100 samples, the cross-entropy
    on (n, B, D) logits, log q(z|x) from (z - mu)."""
    import torch

    from genlab.models.losses import log_normal_diag, log_normal_standard, reparameterize

    total = torch.full((x.shape[0],), -math.inf, dtype=mu.dtype)
    done = 0
    while done < k:
        n = min(chunk, k - done)
        z = reparameterize(mu, logvar, n)
        log_w = log_px_given_z(x, z) + log_normal_standard(z) - log_normal_diag(z, mu, logvar)
        total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
        done += n
    return total - math.log(k)


def likelihood_row(args, tmp: Path, peak: float) -> dict:
    import torch

    import genlab
    from genlab.api import load_data
    from genlab.metrics.likelihood import importance_log_likelihood

    run = args.vae_run
    if run is None:
        import shutil

        run = tmp / "vae"
        shutil.rmtree(run, ignore_errors=True)
        genlab.train("vae", "digits" if args.quick else "fashion-mnist", binarize=True, steps=args.vae_steps, out=run, progress=False,
                     tensorboard=False, sample_every=0, threads=torch.get_num_threads(), checkpoint_every=0)
    model = genlab.load(run)
    data = load_data(model.run_config.data)
    x = data.test[:args.nll_images]
    with torch.no_grad():
        mu, logvar = model.encode(x)
    k = args.k
    old_t, new_t, old_ll, new_ll = [], [], None, None
    for rep in range(args.repeats):
        torch.manual_seed(rep)
        t0 = time.perf_counter()
        old_ll = estimator_of_genlab_0_1(x, mu, logvar, model.log_px_given_z, k=k)
        old_t.append(time.perf_counter() - t0)
        torch.manual_seed(1000 + rep)
        t0 = time.perf_counter()
        new_ll = importance_log_likelihood(x, mu, logvar, model.log_px_given_z_samples, k=k)
        new_t.append(time.perf_counter() - t0)
    dims = [m.in_features * m.out_features for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)]
    flops = 2 * sum(dims) * k * x.shape[0]  # the decoder's matmuls; the rest is elementwise
    diff = (new_ll - old_ll).double()
    t_old, t_new = statistics.median(old_t), statistics.median(new_t)
    return {"images": x.shape[0], "k": k, "steps_trained": model.step,
            "old_seconds": round(t_old, 2), "new_seconds": round(t_new, 2), "speedup": round(t_old / t_new, 3),
            "old_runs": [round(v, 2) for v in old_t], "new_runs": [round(v, 2) for v in new_t],
            "old_nll": round(-float(old_ll.mean()), 3), "new_nll": round(-float(new_ll.mean()), 3),
            "difference_nll": round(-float(diff.mean()), 3),
            "difference_se": round(float(diff.std() / math.sqrt(diff.numel())), 3),
            "mflop_per_sample": round(2 * sum(dims) / 1e6, 3),
            "gflops_old": round(flops / t_old / 1e9, 1), "gflops_new": round(flops / t_new / 1e9, 1),
            "fraction_of_peak_old": round(flops / t_old / 1e9 / peak, 3),
            "fraction_of_peak_new": round(flops / t_new / 1e9 / peak, 3)}


# -- threads ---------------------------------------------------------------------------------------

_STEP_RATE = """
import sys, time, torch
from genlab.api import build_model, build_config, load_data
from genlab.data.loader import BatchStream
model, seconds, data = sys.argv[1], float(sys.argv[2]), sys.argv[3]
ov = ["ngf=32", "ndf=32"] if model == "dcgan" else []
cfg = build_config(model, data=data, overrides=ov)
data = load_data(cfg.data)
net = build_model(cfg, data.spec())
b = 64 if model == "dcgan" else 100
s, opts = BatchStream(data.train, None, b, seed=0), net.configure_optimizers()
for i in range(3):
    net.train_step(s, opts, i)
t, n = time.perf_counter(), 0
while time.perf_counter() - t < seconds:
    net.train_step(s, opts, n); n += 1
print(n * b / (time.perf_counter() - t))
"""

_BUSY = "import torch, time\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\nend = time.time() + {s}\n" \
        "while time.time() < end:\n    a @ a\n"


def thread_rows(args) -> list[dict]:
    configs = [("1 thread", 1, None), ("2 threads", 2, None), ("2 threads, PASSIVE", 2, "PASSIVE")]
    if args.quick:  # the pipeline: one configuration, alone and beside a busy process
        configs = configs[:1]
    seconds = 0.5 if args.quick else 6.0
    rows = []
    for model in ("vae",) if args.quick else ("vae", "dcgan"):
        for label, threads, policy in configs:
            row = {"model": model, "config": label}
            for busy in (False, True):
                env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
                env.pop("OMP_WAIT_POLICY", None)
                if policy:
                    env["OMP_WAIT_POLICY"] = policy
                other = subprocess.Popen([sys.executable, "-c", _BUSY.format(s=seconds + 30)]) if busy else None
                try:
                    if other:
                        time.sleep(0.5)
                    data = "digits" if args.quick else "fashion-mnist"
                    out = subprocess.run([sys.executable, "-c", _STEP_RATE, model, str(seconds), data], env=env,
                                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
                finally:
                    if other:
                        other.kill()
                        other.wait()
                row["busy" if busy else "alone"] = round(float(out.strip().splitlines()[-1]), 1)
            rows.append(row)
            print(f"{model:>6} {label:>20}: alone {row['alone']:8.1f} img/s, beside a busy process "
                  f"{row['busy']:8.1f}", file=sys.stderr, flush=True)
    return rows


# -- output --------------------------------------------------------------------------------------

def markdown_training(rows: list[dict]) -> str:
    lines = ["| step | setting | genlab images/s | bare PyTorch images/s | genlab / bare | × fp32 (genlab) "
             "| × fp32 (bare) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['row']} | {r['setting']} | {r['genlab']:,.0f} | {r['bare']:,.0f} | "
                     f"{r['ratio_to_bare']:.2f} | {r['ratio_to_fp32']:.2f} | {r['bare_ratio_to_fp32']:.2f} |")
    return "\n".join(lines)


def markdown_likelihood(r: dict, peak: dict) -> str:
    return "\n".join([
        "| estimator | seconds | NLL (nats) | GFLOPS in the decoder's matmuls | fraction of the fp32 matmul peak |",
        "|---|---|---|---|---|",
        f"| genlab 0.1 (100 samples a pass, cross-entropy) | {r['old_seconds']:.2f} | {r['old_nll']:.3f} | "
        f"{r['gflops_old']} | {r['fraction_of_peak_old']:.2f} |",
        f"| genlab now (cache-sized passes, one matmul for x·logits) | {r['new_seconds']:.2f} | {r['new_nll']:.3f} | "
        f"{r['gflops_new']} | {r['fraction_of_peak_new']:.2f} |",
        "",
        f"{r['images']} test images, k = {r['k']:,}, a VAE trained {r['steps_trained']:,} steps; "
        f"speed-up **{r['speedup']:.2f}x**; the estimates differ by {r['difference_nll']:+.3f} ± "
        f"{r['difference_se']:.3f} nats (mean ± standard error over images of the paired difference, "
        f"independent draws); {r['mflop_per_sample']} MFLOP a sample; matmul peak here: "
        f"{peak['fp32']:.0f} GFLOPS fp32, {peak['bf16']:.0f} GFLOPS bf16 (2048 × 2048)."])


def markdown_threads(rows: list[dict]) -> str:
    lines = ["| step | torch threads | alone (images/s) | beside one busy process (images/s) |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['config']} | {r['alone']:,.0f} | {r['busy']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="digits, tiny widths, a tenth of the steps, k=50, 1 repeat: seconds")
    p.add_argument("--only", nargs="+", choices=("training", "likelihood", "threads"),
                   default=["training", "likelihood", "threads"])
    p.add_argument("--threads", type=int, default=2, help="torch threads of the training and likelihood rows")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--nll-images", type=int, default=200)
    p.add_argument("--vae-steps", type=int, default=3000, help="training of the VAE the estimators score")
    p.add_argument("--vae-run", default=None, help="score this VAE run instead of training one")
    p.add_argument("--tmp", default="runs/bench-speed")
    p.add_argument("--out", default=str(HERE / "results.json"))
    args = p.parse_args()
    if args.quick:
        args.repeats, args.k, args.nll_images, args.vae_steps = 1, 50, 20, 50
    import torch

    torch.set_num_threads(args.threads)
    os.environ["GENLAB_THREADS"] = str(args.threads)
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    record = json.loads(out.read_text()) if out.is_file() and not args.quick else {}
    record.update({"benchmark": "speed", "quick": args.quick, "threads": args.threads, "machine": machine(),
                   "date": time.strftime("%Y-%m-%d"), "loadavg_at_start": os.getloadavg()[0],
                   "command": "python benchmarks/speed/run.py " + " ".join(sys.argv[1:])})
    peak = {"fp32": round(matmul_peak("fp32", 0.5 if args.quick else 2.0), 1),
            "bf16": round(matmul_peak("bf16", 0.5 if args.quick else 2.0), 1)}
    record["matmul_peak_gflops"] = peak
    if "training" in args.only:
        record["training"] = training_rows(args, tmp)
        write_json(out, record)
    if "likelihood" in args.only:
        record["likelihood"] = likelihood_row(args, tmp, peak["fp32"])
        write_json(out, record)
    if "threads" in args.only:
        record["thread_rows"] = thread_rows(args)
        write_json(out, record)
    readme = HERE / "README.md"
    if not args.quick and readme.is_file():
        text = readme.read_text()
        if record.get("training"):
            text = splice(text, "training", markdown_training(record["training"]))
        if record.get("likelihood"):
            text = splice(text, "likelihood", markdown_likelihood(record["likelihood"], peak))
        if record.get("thread_rows"):
            text = splice(text, "threads", markdown_threads(record["thread_rows"]))
        readme.write_text(text)
    print(json.dumps({k: v for k, v in record.items() if k in ("training", "likelihood", "thread_rows")}, indent=1))


if __name__ == "__main__":
    main()
