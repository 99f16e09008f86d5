"""Mode coverage of the `gan` recipe on 2-D mixtures, every loss, beside the published table.

Protocol (VEEGAN, Srivastava et al. 2017, arXiv:1705.07761; PacGAN, Lin et al. 2018,
arXiv:1712.04086; see ../../../shared/docs/anchors.md):
  - data: ring8 (8 Gaussians on the unit circle, std 0.01) and grid25 ({-4..4}^2, std 0.05),
    50,000 training points;
  - model: `genlab train gan` with no option but the loss (and the seed): the `gan` recipe;
  - metric: 2,500 samples of the (EMA) generator; a sample is high quality (HQ) if it lies within
    3 std of its nearest mode, a mode is captured if it is the nearest mode of an HQ sample;
    reverse KL between the mode histograms of generated and real points;
  - 5 seeds per row (train.seed = 0..4, evaluation seed 0): mean +- std (sample std, ddof 1).

Each run is what a user types:
    genlab train gan --data ring8 --out DIR loss=LOSS train.seed=S
    genlab eval DIR --json
(here called in-process through the Python API, timed from model build to the last checkpoint).

The robustness table trains the same recipe on point files this script writes (.npy, other
scales, offsets and numbers of modes) and scores them with fitted modes, as a user would:
    genlab eval DIR --json --modes M          (Python: model.evaluate(data, modes=M))

    python benchmarks/toy2d/run.py                    # every table (about 1 min a run)
    python benchmarks/toy2d/run.py --variant no-clusters --only main   # the recipe before clusters
    python benchmarks/toy2d/run.py --only main --losses ns --jobs 2
    python benchmarks/toy2d/run.py --only ablation --seeds 3
    python benchmarks/toy2d/run.py --only trajectory  # HQ every 3,000 steps (resumed segments)
    python benchmarks/toy2d/run.py --quick            # the whole pipeline in seconds (for tests)

Runs already in --out are kept and skipped (delete the file or pass --fresh to redo them), so
an interrupted sweep continues where it stopped. Writes results.json (every run plus the
aggregated tables) and, unless --quick, the tables into README.md between the markers.
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

LOSSES = ("ns", "minimax", "ls", "wgan", "wgan-gp", "hinge")
SETS = ("ring8", "grid25")
PLAIN_CONFIG = ROOT / "configs" / "gan-plain.yaml"
QUICK_LOSSES = ("ns", "wgan-gp")
JBOP = 0.05  # jacobian_reject of the second evaluation of every run
# Variants of the recipe a table can be measured with (overrides put before a row's own, except
# the plain config's), whose tables stay beside the recipe's: "ema-0.999" is the recipe before its
# EMA of G was shortened; "no-clusters" the unconditional recipe (condition=none takes the same path
# as clusters=0) at 36,000 steps, the recipe before cluster conditioning.
VARIANTS = {"recipe": [], "ema-0.999": ["ema=0.999"],
            "no-clusters": ["ema=0.999", "clusters=0", "steps=36000", "lr_decay_start=7200", "lr_decay_end=36000"]}

# Published numbers, from ../../../shared/docs/anchors.md (VEEGAN Table 1, PacGAN Table 1).
PUBLISHED = [
    ("GAN", 1, 99.3, 3.3, 0.5, "VEEGAN Table 1"),
    ("ALI", 2.8, 0.13, 15.8, 1.6, "VEEGAN Table 1"),
    ("Unrolled GAN", 7.6, 35.6, 23.6, 16, "VEEGAN Table 1"),
    ("VEEGAN", 8, 52.9, 24.6, 40, "VEEGAN Table 1"),
    ("GAN (bigger nets)", 6.3, 98.2, 17.3, 94.8, "PacGAN Table 1"),
    ("PacGAN2", 7.9, 95.6, 23.8, 91.3, "PacGAN Table 1"),
    ("PacGAN4", 7.8, 95.9, 24.8, 93.6, "PacGAN Table 1"),
]

# Point files of other scales, offsets and numbers of modes: (name, kind, modes, size, centre,
# component std); size is the radius of a ring or the spacing of a grid. The std is about the
# same fraction of the distance between neighbouring modes as in ring8 and grid25.
ROBUST = [
    ("ring12-r50-at-100,-20", "ring", 12, 50.0, (100.0, -20.0), 0.5),
    ("grid9-spacing0.01", "grid", 9, 0.01, (0.0, 0.0), 0.00025),
    ("ring5-r1000-at--5000,3000", "ring", 5, 1000.0, (-5000.0, 3000.0), 10.0),
    ("grid16-spacing10-at-7,7", "grid", 16, 10.0, (7.0, 7.0), 0.25),
]
ROBUST_POINTS = 20_000

# Ablation of the recipe: each row removes one fix (key=value overrides on the recipe), and the
# plain course GAN (configs/gan-plain.yaml).
ABLATION = [
    ("recipe", []),
    ("no clusters (clusters=0)", ["clusters=0"]),
    ("36,000 steps (3x)", ["steps=36000", "lr_decay_start=7200", "lr_decay_end=36000"]),
    ("no packing (pack=1)", ["pack=1"]),
    ("packed D only (d_single=[])", ["d_single=[]"]),
    ("no lr decay", ["lr_decay_end=0"]),
    ("no EMA (ema=0)", ["ema=0"]),
    ("G 3x256 (same steps)", ["g_hidden=256,256,256"]),
    ("plain (configs/gan-plain.yaml)", ["@plain"]),
]


# -- one run ----------------------------------------------------------------------------------

def run_one(job: dict) -> dict:
    """Train and evaluate one configuration; returns the record of the run."""
    import torch

    import genlab
    from genlab.api import load_data
    from genlab.config import DataConfig

    if job["table"] == "trajectory":
        return run_trajectory(job)
    run_dir = Path(job["run_dir"])
    if run_dir.exists():
        shutil.rmtree(run_dir)
    overrides = [o for o in job["overrides"] if o != "@plain"]
    config = str(PLAIN_CONFIG) if "@plain" in job["overrides"] else None
    kwargs = dict(steps=job["steps"]) if job.get("steps") else {}
    t0 = time.perf_counter()
    model = genlab.train("gan", job["data"], out=run_dir, seed=job["seed"], config=config,
                         overrides=overrides, progress=False, tensorboard=False, sample_every=0,
                         checkpoint_every=0, log_every=1000, **kwargs)
    train_s = time.perf_counter() - t0
    model.eval()
    data = load_data(DataConfig(name=job["data"]))
    t0 = time.perf_counter()
    r = model.evaluate(data, n_samples=2500, seed=0, modes=job.get("modes"))
    eval_s = time.perf_counter() - t0
    # the same generator sampled with JBOP (jacobian_reject=0.05): the 5 % steepest latent draws dropped
    model.config.jacobian_reject = JBOP
    rj = model.evaluate(data, n_samples=2500, seed=0, modes=job.get("modes"))
    steps = genlab.load(run_dir).step
    if not job.get("keep"):
        shutil.rmtree(run_dir, ignore_errors=True)
    return {**{k: job[k] for k in ("table", "row", "data", "seed", "variant")}, "overrides": job["overrides"],
            "modes": r["modes"], "n_modes": r["n_modes"], "hq": r["hq"], "reverse_kl": r["reverse_kl"],
            "modes_source": r["modes_source"], "modes_jbop": rj["modes"], "hq_jbop": rj["hq"],
            "reverse_kl_jbop": rj["reverse_kl"], "spread": r.get("spread"), "steps": steps, "train_seconds": round(train_s, 1),
            "eval_seconds": round(eval_s, 1), "threads": torch.get_num_threads(),
            "command": command(job)}


def run_trajectory(job: dict) -> dict:
    """Train the recipe in segments of job["every"] steps, each a resume of the last (bit-exact,
    so the curve is the one of an uninterrupted run), scoring the EMA generator after each."""
    import genlab
    from genlab.api import build_config, load_data
    from genlab.config import DataConfig

    run_dir = Path(job["run_dir"])
    shutil.rmtree(run_dir, ignore_errors=True)
    data = load_data(DataConfig(name=job["data"]))
    total = job["steps"] or build_config("gan", overrides=job["overrides"]).train.steps
    curve, model, t0 = [], None, time.perf_counter()
    for end in [*range(job["every"], total, job["every"]), total]:
        model = (genlab.train("gan", job["data"], out=run_dir, seed=job["seed"], steps=end, progress=False,
                              tensorboard=False, sample_every=0, checkpoint_every=0, log_every=1000,
                              overrides=job["overrides"])
                 if model is None else genlab.train(resume=run_dir, steps=end, progress=False))
        model.eval()
        r = model.evaluate(data, n_samples=2500, seed=0)
        curve.append({"step": end, "modes": r["modes"], "hq": r["hq"], "reverse_kl": r["reverse_kl"]})
    shutil.rmtree(run_dir, ignore_errors=True)
    return {**{k: job[k] for k in ("table", "row", "data", "seed", "variant")}, "overrides": job["overrides"],
            "curve": curve,
            "n_modes": r["n_modes"], "every": job["every"], "seconds": round(time.perf_counter() - t0, 1),
            "command": command(job) + f" (scored every {job['every']} steps)"}


def command(job: dict) -> str:
    cfg = " --config configs/gan-plain.yaml" if "@plain" in job["overrides"] else ""
    steps = f" --steps {job['steps']}" if job.get("steps") else ""
    ov = "".join(f" {o}" for o in job["overrides"] if o != "@plain")
    data = job["data"] if not job["data"].endswith(".npy") else Path(job["data"]).name
    ev = f"genlab eval DIR --json{' --modes ' + str(job['modes']) if job.get('modes') else ''}"
    return f"genlab train gan --data {data} --out DIR{cfg}{steps}{ov} train.seed={job['seed']} && {ev}"


# -- point files for the robustness table ----------------------------------------------------

def write_point_files(folder: Path, n: int = ROBUST_POINTS) -> list[tuple[str, Path, int]]:
    import numpy as np

    from genlab.data.points import grid_modes, ring_modes

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (name, kind, m, size, centre, std) in enumerate(ROBUST):
        base = ring_modes(m) if kind == "ring" else grid_modes(m) / 2  # unit radius / unit spacing
        centres = base * size + np.asarray(centre)
        rng = np.random.default_rng(100 + i)
        pts = centres[rng.integers(m, size=n)] + std * rng.standard_normal((n, 2))
        path = folder / f"{name}.npy"
        np.save(path, pts.astype(np.float32))
        out.append((name, path, m))
    return out


# -- tables ---------------------------------------------------------------------------------

def aggregate(runs: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in (r for r in runs if r["table"] != "trajectory"):  # point files by name: run.py writes the same file wherever --run-dir puts it
        groups.setdefault((r["variant"], r["table"], r["row"], Path(r["data"]).name), []).append(r)
    rows = []
    for (variant, table, row, data), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        entry = {"variant": variant, "table": table, "row": row, "data": data, "seeds": [r["seed"] for r in rs],
                 "n_modes": rs[0]["n_modes"], "steps": rs[0]["steps"], "threads": rs[0]["threads"]}
        for key, scale in (("modes", 1), ("hq", 100), ("reverse_kl", 1), ("train_seconds", 1),
                           ("modes_jbop", 1), ("hq_jbop", 100), ("reverse_kl_jbop", 1)):
            m, s = mean_std([r[key] * scale for r in rs])
            entry[key] = [round(m, 3), round(s, 3)]
        spreads = [r.get("spread") for r in rs]  # runs from before spread was recorded have none
        entry["spread"] = None if None in spreads or any(v != v for v in spreads) else \
            [round(v, 3) for v in mean_std(spreads)] + [round(min(spreads), 3), round(max(spreads), 3)]
        rows.append(entry)
    return rows


def _pm(v: list[float], digits: int) -> str:
    return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"


def _spread(row: dict, jbop: bool) -> str:
    """mean ± std (min-max over seeds) of the plain evaluation's spread; "—" where not recorded."""
    v = row.get("spread")
    if jbop or v is None:
        return "—"
    return f"{v[0]:.2f} ± {v[1]:.2f} ({v[2]:.2f}-{v[3]:.2f})"


def markdown(rows: list[dict], table: str, row_order: list[str], jbop: bool = False, variant: str = "recipe") -> str:
    """A markdown table of the aggregated rows of ``table`` measured with ``variant``; with
    ``jbop`` the metrics of the second evaluation (jacobian_reject=JBOP) of the same runs."""
    x = "_jbop" if jbop else ""
    rows = [r for r in rows if r["variant"] == variant]
    sets = sorted({r["data"] for r in rows if r["table"] == table},
                  key=lambda d: (SETS.index(d) if d in SETS else 99, d))
    by = {(r["row"], r["data"]): r for r in rows if r["table"] == table}
    if not by:
        return "(not run yet)"
    lines = []
    if table == "robustness":
        lines += ["| point file | modes | HQ % | spread | reverse KL | s / run | seeds |", "|---|---|---|---|---|---|---|"]
        for d in sets:
            r = by.get(("recipe", d))
            if r:
                lines.append(f"| {Path(d).stem} | {_pm(r['modes' + x], 1)} / {r['n_modes']} | {_pm(r['hq' + x], 1)} | "
                             f"{_spread(r, jbop)} | {_pm(r['reverse_kl' + x], 3)} | {r['train_seconds'][0]:.0f} | "
                             f"{len(r['seeds'])} |")
        return "\n".join(lines)
    head = "| " + ("loss" if table == "main" else "variant") + " | " + " | ".join(
        f"{d} modes | {d} HQ % | {d} spread | {d} rev. KL | {d} s/run" for d in sets) + " | seeds |"
    lines += [head, "|" + "---|" * (1 + 5 * len(sets) + 1)]
    for name in row_order:
        cells, seeds = [], set()
        if not any((name, d) in by for d in sets):
            continue
        for d in sets:
            r = by.get((name, d))
            if r is None:
                cells += ["missing"] * 5
                continue
            seeds.add(len(r["seeds"]))
            cells += [f"{_pm(r['modes' + x], 1)} / {r['n_modes']}", _pm(r["hq" + x], 1), _spread(r, jbop),
                      _pm(r["reverse_kl" + x], 3), f"{r['train_seconds'][0]:.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'/'.join(map(str, sorted(seeds)))} |")
    return "\n".join(lines)


def trajectory_markdown(runs: list[dict], variant: str = "recipe") -> str:
    """HQ % (modes) of every seed at every scored step: one column a set and seed."""
    runs = sorted((r for r in runs if r["table"] == "trajectory" and r["variant"] == variant),
                  key=lambda r: (r["data"], r["seed"]))
    if not runs:
        return "(not run yet)"
    lines = ["| step | " + " | ".join(f"{r['data']} seed {r['seed']}" for r in runs) + " |",
             "|---|" + "---|" * len(runs)]
    for i, point in enumerate(runs[0]["curve"]):
        cells = [f"{100 * r['curve'][i]['hq']:.1f} ({r['curve'][i]['modes']})" if i < len(r["curve"]) else ""
                 for r in runs]
        lines.append(f"| {point['step']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def published_markdown() -> str:
    lines = ["| model | ring modes /8 | ring HQ % | grid modes /25 | grid HQ % | source |", "|---|---|---|---|---|---|"]
    lines += [f"| {m} | {a} | {b} | {c} | {d} | {s} |" for m, a, b, c, d, s in PUBLISHED]
    return "\n".join(lines)


def update_readme(record: dict) -> None:
    readme = HERE / "README.md"
    if not readme.is_file():
        return
    text = readme.read_text()
    for variant in VARIANTS:
        tag = "" if variant == "recipe" else "-" + variant
        for table, order in (("main", list(LOSSES)), ("ablation", [n for n, _ in ABLATION]),
                             ("robustness", None)):
            for jbop in (False, True):
                marker = table + tag + ("-jbop" if jbop else "")
                if f"<!-- {marker}:start -->" in text:
                    text = splice(text, marker, markdown(record["tables"], table, order or [], jbop, variant))
        if f"<!-- trajectory{tag}:start -->" in text:
            text = splice(text, "trajectory" + tag, trajectory_markdown(record["runs"], variant))
    readme.write_text(text)


# -- main -----------------------------------------------------------------------------------

def plan(args: argparse.Namespace, run_root: Path) -> list[dict]:
    seeds = range(args.seeds)
    steps = args.steps
    jobs: list[dict] = []

    def add(table, row, data, overrides, seed, modes=None):
        tag = f"{args.variant}-{table}-{row}-{Path(data).stem}-s{seed}".replace(" ", "_").replace("/", "_")
        jobs.append({"table": table, "row": row, "data": str(data), "seed": seed, "variant": args.variant,
                     "overrides": (VARIANTS[args.variant] if "@plain" not in overrides else []) + overrides,
                     "steps": steps, "modes": modes,
                     "run_dir": str(run_root / tag), "keep": args.keep_runs})

    if "main" in args.only:
        for loss in args.losses:
            for data in args.sets:
                for s in seeds:
                    add("main", loss, data, [f"loss={loss}"] if loss != "ns" else [], s)
    if "ablation" in args.only:
        for name, ov in ABLATION:
            if args.rows and name not in args.rows and name != "recipe":
                continue
            if ov and set(ov) <= set(VARIANTS[args.variant]):  # the variant's own recipe row
                continue
            for data in args.sets:
                for s in seeds:
                    add("ablation", name, data, ov, s)
    if "trajectory" in args.only:
        for data in args.sets:
            for s in seeds:
                add("trajectory", "recipe", data, [], s)
                jobs[-1]["every"] = args.every
    if "robustness" in args.only:
        for name, path, m in write_point_files(run_root / "points")[:2 if args.quick else None]:
            for s in seeds:
                add("robustness", "recipe", path, [], s, modes=m)
    return jobs


def key(r: dict, steps_override: int | None) -> tuple:
    return (r["variant"], r["table"], r["row"], Path(r["data"]).name, r["seed"], steps_override)


def same_command(r: dict, steps_override: int | None) -> tuple:
    """What determines a run's result: data, seed, the settings the overrides leave (a later
    key=value wins, as on the command line), steps."""
    settings = dict(o.split("=", 1) if "=" in o else (o, None) for o in r["overrides"])
    return (Path(r["data"]).name, r["seed"], tuple(sorted(settings.items(), key=str)), steps_override)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="60 steps, 1 seed, every table (losses ns and wgan-gp, "
                   "2 point files): seconds")
    p.add_argument("--only", nargs="+", default=["main", "robustness", "ablation", "trajectory"],
                   choices=("main", "robustness", "ablation", "trajectory"))
    p.add_argument("--every", type=int, default=3000, help="trajectory: score the run every N steps")
    p.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    p.add_argument("--rows", nargs="+", default=None, choices=[n for n, _ in ABLATION], metavar="ROW",
                   help="ablation rows to run (default: all)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--variant", default="recipe", choices=list(VARIANTS),
                   help="measure the recipe (default), the recipe with ema=0.999, or the unconditional recipe at 36,000 steps")
    p.add_argument("--steps", type=int, default=None, help="override the recipe's steps (not for the table)")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--threads", type=int, default=None, help="torch threads a run (default: cores / jobs)")
    p.add_argument("--run-dir", default="runs/bench-toy2d")
    p.add_argument("--out", default=None, help="results file (default: results.json beside this script)")
    p.add_argument("--fresh", action="store_true", help="ignore runs already in --out")
    p.add_argument("--keep-runs", action="store_true", help="keep the run directories")
    args = p.parse_args()
    if args.quick:  # two losses (a cross-entropy and a critic with its penalty), two point files: seconds
        args.seeds, args.steps, args.every = 1, args.steps or 60, 30
        args.losses = [loss for loss in args.losses if loss in QUICK_LOSSES] or args.losses[:1]
    out = Path(args.out) if args.out else (HERE / "results.json" if not args.quick else
                                          Path(args.run_dir) / "results-quick.json")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    run_root = Path(args.run_dir)
    jobs = plan(args, run_root)
    if args.quick:  # the first two ablation rows are enough to exercise the code path
        keep_rows = {n for n, _ in ABLATION[:1]} | {ABLATION[-1][0]}
        jobs = [j for j in jobs if j["table"] != "ablation" or j["row"] in keep_rows]
    old = []
    if out.is_file() and not args.fresh:
        old = json.loads(out.read_text()).get("runs", [])
    # a run is a pure function of its command (data, seed, overrides, steps): a job whose command
    # was already run under another table or variant (the ablation's "recipe" row is the main
    # table's ns row; "no clusters" is the no-clusters variant's ns row) reuses that run
    done = {key(r, r.get("steps_override")) for r in old}
    by_command = {same_command(r, r.get("steps_override")): r for r in old if r["table"] != "trajectory"}
    for j in jobs:
        twin = by_command.get(same_command(j, args.steps))
        if twin is not None and j["table"] != "trajectory" and key(j, args.steps) not in done:
            old.append({**twin, **{k: j[k] for k in ("table", "row", "variant", "overrides")}})
    done = {key(r, r.get("steps_override")) for r in old}
    todo = [j for j in jobs if key(j, args.steps) not in done]
    print(f"{len(jobs)} runs planned, {len(jobs) - len(todo)} already in {out}, {len(todo)} to do "
          f"({args.jobs} at a time, {threads} thread(s) each)", file=sys.stderr, flush=True)
    runs = list(old)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def save() -> dict:
        record = {"benchmark": "toy2d", "quick": args.quick, "protocol": "VEEGAN/PacGAN: 2,500 samples, "
                  "HQ within 3 std of the nearest mode, captured = nearest mode of an HQ sample; "
                  "mean ± sample std over seeds", "published": [dict(zip(
                      ("model", "ring_modes", "ring_hq", "grid_modes", "grid_hq", "source"), row)) for row in PUBLISHED],
                  "tables": aggregate(runs), "runs": runs,
                  "conditions": {"jobs": args.jobs, "threads_per_run": threads, "loadavg_at_start": load0},
                  "machine": machine(), "date": time.strftime("%Y-%m-%d")}
        write_json(out, record)
        return record

    # and a command planned twice in this sweep (the ablation's "recipe" row and the main table's
    # ns row) is run once, its record copied to every twin
    twins: dict[tuple, list[dict]] = {}
    for job in todo:
        twins.setdefault(same_command(job, args.steps) if job["table"] != "trajectory" else (id(job),), []).append(job)
    for r in run_jobs(run_one, [group[0] for group in twins.values()], args.jobs, threads):
        group = twins[same_command(r, args.steps)] if r["table"] != "trajectory" else [r]
        for job in group:
            runs.append({**r, **{k: job[k] for k in ("table", "row", "variant", "overrides")},
                         "steps_override": args.steps})
        _report(r)
        save()
    record = save()
    if not args.quick and args.out is None:
        update_readme(record)
    v = args.variant
    for table, order in (("main", list(LOSSES)), ("ablation", [n for n, _ in ABLATION]), ("robustness", None)):
        if any(r["table"] == table and r["variant"] == v for r in record["tables"]):
            print(f"\n## {table} ({v})\n" + markdown(record["tables"], table, order or [], variant=v))
    if any(r["table"] == "trajectory" and r["variant"] == v for r in record["runs"]):
        print(f"\n## trajectory ({v}; HQ % (modes))\n" + trajectory_markdown(record["runs"], v))


def _report(r: dict) -> None:
    if r["table"] == "trajectory":
        last = r["curve"][-1]
        print(f"{r['variant']} trajectory {r['data']} seed {r['seed']}: " + ", ".join(
            f"{c['step']}: {100 * c['hq']:.1f}" for c in r["curve"]) + f" ({last['modes']}/{r['n_modes']} modes at the end, "
            f"{r['seconds']:.0f} s)", file=sys.stderr, flush=True)
        return
    print(f"{r['variant']:>11} {r['table']:>10} {r['row']:<28} {Path(r['data']).name:<28} seed {r['seed']}: "
          f"{r['modes']}/{r['n_modes']} modes, HQ {100 * r['hq']:.1f} %, rKL {r['reverse_kl']:.3f}, "
          f"{r['train_seconds']:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
