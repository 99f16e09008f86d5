"""benchmarks/toy2d --quick runs the whole pipeline (two losses, both sets, two robustness point
files with fitted modes, the ablation's first and last rows, the trajectory scored through
resumed segments) in seconds and writes its results."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOSSES = {"ns", "wgan-gp"}  # the quick mode's two


def test_toy2d_quick_writes_every_table(tmp_path):
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/toy2d/run.py"), "--quick", "--threads", "1",
                    "--run-dir", str(tmp_path / "runs"), "--out", str(out)], check=True, capture_output=True,
                   cwd=ROOT)
    record = json.loads(out.read_text())
    assert record["quick"] and record["published"][-1]["model"] == "PacGAN4"
    main = [r for r in record["tables"] if r["table"] == "main"]
    assert {(r["row"], r["data"]) for r in main} == {(l, d) for l in LOSSES for d in ("ring8", "grid25")}
    for r in record["tables"]:
        for col in ("modes", "hq", "reverse_kl", "train_seconds"):
            mean, std = r[col]
            assert mean == mean and std >= 0, (r["row"], col)
        assert r["seeds"] == [0]
    robust = [r for r in record["tables"] if r["table"] == "robustness"]
    assert len(robust) == 2 and all(r["n_modes"] in (5, 9, 12, 16) for r in robust)
    assert all(r["modes_source"] == "fitted" for r in record["runs"] if r["table"] == "robustness")
    assert {r["row"] for r in record["tables"] if r["table"] == "ablation"} >= {"recipe"}
    curves = [r for r in record["runs"] if r["table"] == "trajectory"]
    assert {r["data"] for r in curves} == {"ring8", "grid25"}
    for r in curves:  # scored every 30 steps of the 60: after the first segment and at the end
        assert [c["step"] for c in r["curve"]] == [30, 60]
        assert all(0 <= c["hq"] <= 1 and 0 <= c["modes"] <= r["n_modes"] for c in r["curve"])
    run = record["runs"][0]
    assert run["command"].startswith("genlab train gan --data") and "genlab eval DIR --json" in run["command"]
    assert not (ROOT / "benchmarks/toy2d/results.json").samefile(out) if (ROOT / "benchmarks/toy2d/results.json").exists() else True


def test_runs_of_one_point_file_under_two_run_dirs_are_one_row():
    sys.path.insert(0, str(ROOT))
    from benchmarks.toy2d.run import aggregate

    def run(folder, seed, hq):
        return {"variant": "recipe", "table": "robustness", "row": "recipe", "data": f"{folder}/points/grid9.npy", "seed": seed,
                "n_modes": 9, "steps": 10, "threads": 1, "modes": 9, "hq": hq, "reverse_kl": 0.0,
                "train_seconds": 1.0, "modes_jbop": 9, "hq_jbop": hq, "reverse_kl_jbop": 0.0}

    rows = aggregate([run("/tmp/a", 0, 0.9), run("runs/b", 1, 0.8)])
    assert len(rows) == 1 and rows[0]["seeds"] == [0, 1] and rows[0]["data"] == "grid9.npy"
    assert abs(rows[0]["hq"][0] - 85.0) < 1e-9


def test_the_no_clusters_variant_puts_clusters_0_before_every_rows_overrides(tmp_path):
    sys.path.insert(0, str(ROOT))
    from types import SimpleNamespace

    from benchmarks.toy2d.run import VARIANTS, plan

    def jobs(variant):
        args = SimpleNamespace(only=["main", "ablation"], seeds=1, steps=None, losses=["ns", "hinge"],
                               sets=["ring8"], rows=["no packing (pack=1)"], every=3000, keep_runs=False,
                               variant=variant)
        return plan(args, tmp_path)

    new, old = jobs("recipe"), jobs("no-clusters")
    assert [j["overrides"] for j in new] == [[], ["loss=hinge"], [], ["pack=1"]]
    assert "clusters=0" in VARIANTS["no-clusters"]
    assert [j["overrides"] for j in old] == [VARIANTS["no-clusters"] + j["overrides"] for j in new]
    assert {j["variant"] for j in old} == {"no-clusters"} and len({j["run_dir"] for j in new + old}) == 8


def test_a_later_override_of_the_same_key_wins_when_runs_are_matched():
    sys.path.insert(0, str(ROOT))
    from benchmarks.toy2d.run import same_command

    def run(*overrides):
        return {"data": "runs/x/ring8", "seed": 0, "overrides": list(overrides)}

    assert same_command(run("ema=0.999", "ema=0"), None) == same_command(run("ema=0"), None)
    assert same_command(run("ema=0", "ema=0.999"), None) != same_command(run("ema=0"), None)
    assert same_command(run("pack=1", "ema=0"), None) == same_command(run("ema=0", "pack=1"), None)
