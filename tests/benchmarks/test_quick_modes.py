"""Every benchmark entry point has a quick mode; the tests run it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.runner import load_runner
from tests.conftest import has_fmnist

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not has_fmnist, reason="needs Debian's dataset-fashion-mnist (make test installs it)")
def test_vae_fmnist_quick(tmp_path):
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/vae_fmnist/run.py"), "--quick", "--threads", "1",
                    "--run-dir", str(tmp_path / "run"), "--out", str(out)], check=True, capture_output=True)
    record = json.loads(out.read_text())
    assert record["quick"] and record["steps"] == 200 and record["k"] == 10 and record["seeds"] == [0]
    nll, elbo = record["nll"][0], record["elbo"][0]  # mean, std over seeds
    assert 150 < nll < 600 and nll <= -elbo + 1 and record["nll"][1] == 0
    assert record["commands"][0].startswith("genlab train vae --data fashion-mnist --binarize")
    assert record["runs"][0]["train_seconds"] > 0 and record["threads"] == 1


def test_fmnist_gans_quick(tmp_path):
    """Every loss trains, is scored with the shipped evaluator and gets a sample grid (on digits)."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/fmnist_gans/run.py"), "--quick", "--threads", "1",
                    "--run-dir", str(tmp_path / "runs"), "--out", str(out)], check=True, capture_output=True)
    record = json.loads(out.read_text())
    assert record["quick"] and record["data"] == "digits"
    assert [r["loss"] for r in record["tables"]] == ["ns", "minimax", "hinge", "ls", "wgan", "wgan-gp"]
    for r in record["runs"]:
        assert r["fid"] > 0 and 0 <= r["precision"] <= 1 and 0 <= r["coverage"] <= 1, r
        assert (tmp_path / r["grid"]).is_file()
        assert r["command"].startswith("genlab train ") and r["command"].endswith("genlab eval DIR --json")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # runs cleaned up


def test_conditional_quick(tmp_path):
    """Every conditional variant and the unconditional dcgan train, are scored (conditional accuracy
    beside the real images', class recall, CAS beside its real-trained twin) and get a grid (digits)."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/conditional/run.py"), "--quick", "--threads", "1",
                    "--run-dir", str(tmp_path / "runs"), "--out", str(out)], check=True, capture_output=True)
    record = json.loads(out.read_text())
    assert record["quick"] and record["data"] == "digits"
    assert [r["variant"] for r in record["tables"]] == ["cgan (projection)", "cgan (concatenation)", "acgan (fakes too)",
                                                        "acgan (reals only)", "cvae", "dcgan (unconditional)"]
    for r in record["runs"]:
        assert r["fid"] > 0 and (tmp_path / r["grid"]).is_file(), r
        if r["variant"].startswith("dcgan"):
            assert r["conditional_accuracy"] is None and r["cas"] is None
        else:
            assert 0 <= r["conditional_accuracy"] <= 1 and r["conditional_accuracy_real"] > 0.9
            assert 0 <= r["class_recall"] <= 1 and 0 <= r["cas"] <= 1 and 0 <= r["cas_real"] <= 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # runs cleaned up


def test_speed_quick(tmp_path):
    """Every row of the speed table, the estimators side by side and the thread rows (tiny sizes)."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/speed/run.py"), "--quick", "--threads", "1",
                    "--tmp", str(tmp_path / "runs"), "--out", str(out)],
                   check=True, capture_output=True)
    record = json.loads(out.read_text())
    rows = {(r["row"], r["setting"]) for r in record["training"]}
    assert ("vae", "bf16") in rows and ("dcgan 64 px", "bf16 + channels_last") in rows and len(rows) == 14
    assert all(r["genlab"] > 0 and r["bare"] > 0 for r in record["training"])
    nll = record["likelihood"]
    assert nll["k"] == 50 and nll["speedup"] > 0 and 0 < nll["fraction_of_peak_new"] < 1.5
    assert abs(nll["difference_nll"]) < 10 * nll["difference_se"] + 1  # the same quantity
    assert record["matmul_peak_gflops"]["fp32"] > 0
    assert [r["config"] for r in record["thread_rows"]] == ["1 thread"]
    assert all(r["alone"] > 0 and r["busy"] > 0 for r in record["thread_rows"])


def test_unlabelled_quick(tmp_path):
    """SGAN and its twin at both budgets, InfoGAN's clustering scores, the encoders' probe beside
    raw pixels, and the pictures of seed 0 (on digits)."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/unlabelled/run.py"), "--quick", "--threads", "1",
                    "--run-dir", str(tmp_path / "runs"), "--out", str(out)], check=True, capture_output=True)
    record = json.loads(out.read_text())
    assert record["quick"] and record["data"] == "digits"
    by = {r["row"]: r for r in record["runs"]}
    assert set(by) == {"sgan, 100 labels", "supervised only, 100 labels", "sgan, 1,000 labels",
                       "supervised only, 1,000 labels", "supervised only without noise, 100 labels",
                       "supervised only without noise, 1,000 labels", "infogan", "bigan", "ae", "vae", "gan, grid25", "bigan, grid25",
                       "ali, grid25", "gan, ring8", "bigan, ring8", "ali, ring8"}
    assert all(0 <= by[r]["modes"] <= 25 and 0 <= by[r]["hq"] <= 1 for r in by if "," in r and "labels" not in r)
    assert "--config configs/gan-plain.yaml" in by["ali, grid25"]["command"] and "stochastic" in by["ali, grid25"]["command"]
    assert all(0 <= by[r]["accuracy"] <= 1 and by[r]["labels"] in (100, 1000) for r in by if "labels" in r)
    assert "accuracy" not in by["gan, grid25"] or by["gan, grid25"].get("accuracy") is None
    assert 0 <= by["infogan"]["cluster_accuracy"] <= 1 and by["infogan"]["information"] <= by["infogan"]["information_bound"]
    for name in ("bigan", "ae", "vae"):
        assert 0 <= by[name]["linear_probe"] <= 1 and by[name]["linear_probe_pixels"] > 0.9
    assert 0 <= by["bigan"]["recon_class_accuracy"] <= 1
    assert (tmp_path / by["infogan"]["picture"]).is_file() and (tmp_path / by["bigan"]["picture"]).is_file()
    assert "--labels 100" in by["sgan, 100 labels"]["command"]


def _toonfaces_main(monkeypatch, capsys, *argv: str) -> str:
    """benchmarks/toonfaces/run.py with ``argv``, in this process (no second start-up); its stdout."""
    monkeypatch.setattr(sys, "argv", ["run.py", *argv])
    capsys.readouterr()
    load_runner("toonfaces").main()
    return capsys.readouterr().out


def test_toonfaces_quick(tmp_path, monkeypatch, capsys):
    """Every row trains on a small toonfaces folder; the tag rows get tag accuracy per group and a
    prompt grid, the unconditional row its directions with flip rate and preservation."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/toonfaces/run.py"), "--quick", "--threads", "1",
                    "--run-dir", str(tmp_path / "runs"), "--out", str(out), "--attributes", "smile", "blonde hair"],
                   check=True, capture_output=True)
    record = json.loads(out.read_text())
    by = {r["row"]: r for r in record["runs"]}
    assert set(by) == {"cgan (projection)", "cgan (projection, 16,000 steps)", "cgan (tiled)", "cgan (matching-aware)",
                       "cgan (tiled, matching-aware)", "acgan (multi-label)", "acgan (multi-label, 16,000 steps)",
                       "dcgan (unconditional)"}
    for name, r in by.items():  # --quick's steps win over the 16,000 some rows were measured at
        assert r["fid"] > 0 and r["steps"] == 4
        if name.startswith("dcgan"):
            assert set(r["directions"]) == {"smile", "blonde hair"} and "tag_accuracy" not in r
            assert all(0 <= d["flip_rate"] <= 1 and 0 <= d["preservation"] <= 1 for d in r["directions"].values())
            smile, blonde = r["directions"]["smile"], r["directions"]["blonde hair"]
            assert smile["orthogonal_to"] == ["hair", "eyes"] and blonde["orthogonal_to"] == ["eyes"]
            assert "hair" not in blonde["orthogonal_preserved"] and 0 <= smile["orthogonal_preservation"] <= 1
            assert smile["preserve_weight"] == 20 and 0 <= smile["preserving_flip_rate"] <= 1
            assert "hair" not in blonde["preserving_preserved"] and "smile" in blonde["preserving_preserved"]
            assert {"edit-smile.png", "edit-smile-preserving.png"} <= set(r["pictures"])
        else:
            assert {"hair", "eyes", "smile"} <= set(r["tag_accuracy"]) and r["tag_accuracy_real"]["hair"] > 0.2
        assert all((tmp_path / p).is_file() for p in r["pictures"])
    assert by["cgan (projection)"]["pictures"] and by["dcgan (unconditional)"]["pictures"]
    assert "d_condition=tile" in by["cgan (tiled)"]["command"]
    assert "d_condition=tile mismatch=true" in by["cgan (tiled, matching-aware)"]["command"]
    # a run trained outside the runner stands for its row when its config is the row's: the same scores
    import genlab

    faces = tmp_path / "runs" / "quick-faces"
    kept = genlab.train("dcgan", str(faces), out=tmp_path / "mine", seed=0, steps=4, batch_size=16, image_size=16,
                        min_tag_count=1, threads=1, progress=False, tensorboard=False, sample_every=0,
                        checkpoint_every=0, overrides=["ngf=4", "ndf=4", "z_dim=32"])
    base = ["--quick", "--threads", "1", "--fresh", "--run-dir", str(tmp_path / "runs"),
            "--attributes", "smile", "blonde hair"]
    again = tmp_path / "adopted.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/toonfaces/run.py"), *base, "--rows", "dcgan (unconditional)",
                    "--out", str(again), "--adopt", "dcgan (unconditional)", "0", str(kept.run_dir)],
                   check=True, capture_output=True)  # in a process of its own, as the runner scored the row
    adopted = json.loads(again.read_text())["runs"][0]
    assert adopted["adopted"] == str(kept.run_dir) and adopted["train_seconds"] is None
    assert adopted["fid"] == by["dcgan (unconditional)"]["fid"]
    with pytest.raises(SystemExit, match="^error: .* cannot stand for it"):
        _toonfaces_main(monkeypatch, capsys, *base, "--rows", "cgan (projection)", "--out", str(tmp_path / "no.json"),
                        "--adopt", "cgan (projection)", "0", str(kept.run_dir))
    # the directions of a run made orthogonal to more and more tags: four variants an attribute
    table = _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--orthogonal", str(kept.run_dir),
                            "--attributes", "smile", "blonde hair", "--weights", "0", "20").strip().splitlines()[2:]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table]
    assert [(r[0], r[1]) for r in rows[:6]] == [("smile", "nothing"), ("smile", "hair and eye colour"),
                                                ("smile", "every other tag but the colours"),
                                                ("smile", "every other tag"),
                                                ("smile", "none; every other tag kept by its Jacobian, weight 0"),
                                                ("smile", "none; every other tag kept by its Jacobian, weight 20")]
    assert len(rows) == 12 and rows[4][2:] == rows[0][2:]  # weight 0 is the direction as found
    assert all(0 <= float(r[2]) <= 1 and 0 <= float(r[3]) <= 1 for r in rows[:2] + rows[4:8] + rows[10:])
    assert rows[3][2] == "in their span"  # 32 latent values cannot leave room beyond 30-odd tag directions
    assert rows[6][5] == "nan"  # blonde hair's own group, hair, is not among the other tags kept
    # every tag as the attribute (here two), one row each with the seeds that meet the target; with the
    # hair styles read as one exclusive group, a style edit's other tags leave the other styles out
    census = tmp_path / "every-tag.json"
    table = _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--every-tag", str(kept.run_dir),
                            "--out", str(census), "--only", "long hair", "smile", "--as-group", "style", "long hair",
                            "short hair", "ponytail", "twintails").splitlines()
    run = json.loads(census.read_text())["runs"][0]
    assert run["seed"] == 0 and run["weight"] == 20 and run["as_group"][0] == "style"
    assert list(run["tags"]) == ["long hair", "smile"] and len(table) == 4
    assert all(line.startswith(f"| {t} |") and " of 1" in line for t, line in zip(run["tags"], table[2:]))
    long_hair, smile = (run["tags"][t] for t in ("long hair", "smile"))
    assert 0 <= smile["flip_rate"] <= 1 and 0 <= smile["preserving_preservation"] <= 1 and smile["had_attribute"] <= 40
    assert not {"style", "ponytail"} & set(long_hair["preserving_preserved"])
    assert "style" in smile["preserving_preserved"] and "ponytail" not in smile["preserving_preserved"]
    # the kept direction at more weights: weight 0 is the direction as found, weight 20 the table's
    table = _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--every-tag", str(kept.run_dir),
                            "--out", str(tmp_path / "weights.json"), "--only", "smile", "--weights", "0", "20")
    record = json.loads((tmp_path / "weights.json").read_text())["runs"][0]
    smile = record["tags"]["smile"]
    assert record["weights"] == [0.0, 20.0]
    assert smile["by_weight"]["0"] == [smile["flip_rate"], smile["preservation"]]
    assert smile["by_weight"]["20"] == [smile["preserving_flip_rate"], smile["preserving_preservation"]]
    assert table.splitlines()[0] == "| attribute | as found | weight 0 | weight 20 |"
    # each method's kept direction at the weight held-out edits choose (genlab directions --keep), its
    # edits also read by a judge: here the protocol's own evaluator, so it reads them alike
    from genlab.directions import LEARN_WEIGHTS, tagged_evaluator

    judge = str(tagged_evaluator(kept).path)
    table = _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--every-tag", str(kept.run_dir),
                            "--out", str(tmp_path / "keep.json"), "--only", "smile", "--keep", "0.5", "--judge", judge)
    record = json.loads((tmp_path / "keep.json").read_text())["runs"][0]
    held = record["tags"]["smile"]["held_out"]
    assert record["judge"] == judge and all(h["judged"] == [h["flip_rate"], h["preservation"]] for h in held.values())
    assert "read by another evaluator" in table.splitlines()[0]
    _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--every-tag", str(kept.run_dir), "--out",
                    str(tmp_path / "learned.json"), "--only", "smile", "--keep", "0.5", "--methods", "learned")
    alone = json.loads((tmp_path / "learned.json").read_text())["runs"][0]
    assert alone["methods"] == ["learned"] and list(alone["tags"]["smile"]["held_out"]) == ["learned"]
    assert held["svm"]["found"] == [record["tags"]["smile"]["flip_rate"], record["tags"]["smile"]["preservation"]]
    assert record["held_out_keep"] == 0.5  # what a later call with other runs keeps this one by
    other = shutil.copytree(kept.run_dir, tmp_path / "another-run")
    _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--every-tag", str(other),
                    "--out", str(tmp_path / "keep.json"), "--only", "smile", "--keep", "0.5", "--judge", judge)
    assert [r["run"] for r in json.loads((tmp_path / "keep.json").read_text())["runs"]] == [
        record["run"], str(other.resolve())]
    held_out_table, by_before = table.split("\n\n")
    assert list(held) == ["svm", "gradient", "learned"] and len(held_out_table.splitlines()) == 5
    states = list(held["gradient"]["flip_by_before"])  # the table's rows: what the edited draws had
    assert set(states) <= {"smile", "no smile"} and [r.split(" | ")[1] for r in by_before.splitlines()[2:]] == states
    assert sum(b["n"] for b in held["svm"]["flip_by_before"].values()) == record["edit_n"]
    for method, h in held.items():
        weights = [t[0] for t in h["tried"]]
        every = LEARN_WEIGHTS if method == "learned" else (0.0, 5.0, 10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0,
                                                           300.0, 500.0, 700.0, 1000.0, 2000.0, 5000.0)
        assert weights[-1] == h["weight"] and weights == list(every[:len(weights)])
        assert (h["tried"][-1][2] >= 0.5 or len(weights) == len(every)) and all(t[2] < 0.5 for t in h["tried"][:-1])
        assert 0 <= h["flip_rate"] <= 1 and 0 <= h["preservation"] <= 1 and "smile" not in h["preserved"]
    # the screen: each tag's learned direction at its default weight, scored on the held-out edits only,
    # so which tags get the protocol is chosen without its edits
    import torch

    from genlab import directions

    table = _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--screen", str(kept.run_dir),
                            "--out", str(tmp_path / "screen.json"), "--only", "smile", "long hair")
    record = json.loads((tmp_path / "screen.json").read_text())["runs"][0]
    assert record["held_out_seed"] == directions.HELD_OUT and list(record["tags"]) == ["smile", "long hair"]
    smile = record["tags"]["smile"]
    model = genlab.load(kept.run_dir)
    net = tagged_evaluator(model)
    rec = directions.compute(model, net, "smile", method="learned", preserve=("all",),
                             scored=(directions.prior_codes(model, 200, seed=0), None))
    s = directions.edit_scores(model, net, "smile", torch.tensor(rec["vector"]), n=40, seed=directions.HELD_OUT,
                               baseline=False)
    assert smile["weight"] == directions.LEARN_WEIGHT and rec["preserve_weight"] == directions.LEARN_WEIGHT
    assert [smile["flip_rate"], smile["preservation"]] == [s["flip_rate"], s["preservation"]]
    assert len(table.splitlines()) == 4 and table.splitlines()[0].startswith("| attribute | had it")
    # one saved direction's protocol edits read by two evaluators: here the same one twice, so alike
    directions.write(kept.run_dir, {**directions.read(kept.run_dir), "smile": rec})
    table = _toonfaces_main(monkeypatch, capsys, "--quick", "--threads", "1", "--disagree", str(kept.run_dir),
                            "--attributes", "smile", "--judge", judge, "--out", str(tmp_path / "disagree.json"))
    (parted,) = json.loads((tmp_path / "disagree.json").read_text())["runs"]
    assert parted["read_alike"] == parted["edit_n"] == 40 and parted["pairs"] == [] and parted["method"] == "learned"
    saved = directions.vector(directions.read(kept.run_dir), "smile", model)
    assert parted["flip_rate"] == parted["judged_flip_rate"] == directions.edit_scores(
        model, net, "smile", saved, n=40, seed=0, baseline=False)["flip_rate"]
    assert "| smile | 0 | learned, weight 1 |" in table and "40 of 40 | - |" in table
    for bad, message in ((["--attributes", "smile"], "--disagree reads .* give --judge"),
                         (["--attributes", "blonde hair", "--judge", judge], "--disagree: this run has no direction")):
        with pytest.raises(SystemExit, match=f"^error: {message}"):
            _toonfaces_main(monkeypatch, capsys, "--quick", "--disagree", str(kept.run_dir), *bad)
    with pytest.raises(SystemExit, match="^error: --screen --only: not tags of this run: curly hair"):
        _toonfaces_main(monkeypatch, capsys, "--quick", "--screen", str(kept.run_dir), "--only", "smile", "curly hair")
    with pytest.raises(SystemExit, match="^error: --screen: "):
        _toonfaces_main(monkeypatch, capsys, "--quick", "--screen", str(tmp_path / "no-run"))
    for bad in (["--keep", "0.5"], ["--only", "smile", "--keep", "0"], ["--only", "smile", "--keep", "0.5",
                                                                         "--weights", "10"]):
        with pytest.raises(SystemExit, match="^error: --every-tag --keep"):
            _toonfaces_main(monkeypatch, capsys, "--quick", "--every-tag", str(kept.run_dir), *bad)
    for bad, message in ((["--judge", judge], "--judge reads the directions --keep chooses"),
                         (["--methods", "learned"], "--methods names the methods of --keep's directions"),
                         (["--keep", "0.5", "--judge", str(tmp_path / "none.safetensors")], "--judge: ")):
        with pytest.raises(SystemExit, match=f"^error: {message}"):
            _toonfaces_main(monkeypatch, capsys, "--quick", "--every-tag", str(kept.run_dir), "--only", "smile", *bad)


@pytest.mark.skipif(not has_fmnist, reason="needs Debian's dataset-fashion-mnist (make test installs it)")
def test_explorer_quick(tmp_path):
    """The grid's round trip and the lab's frame rate are measured through the real HTTP server."""
    pytest.importorskip("uvicorn")
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/explorer/run.py"), "--quick", "--threads", "1",
                    "--out", str(out)], check=True, capture_output=True, timeout=240)
    record = json.loads(out.read_text())
    assert record["quick"] and record["grid"]["requests"] == 3 and record["grid"]["median_ms"] > 0
    assert record["lab"]["frames_per_s"] > 0 and record["lab"]["steps_per_s"] > 0
