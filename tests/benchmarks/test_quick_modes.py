"""Every benchmark entry point has a quick mode; the tests run it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import has_fmnist

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not has_fmnist, reason="needs Debian's dataset-fashion-mnist (make test installs it)")
def test_vae_fmnist_quick(tmp_path):
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/vae_fmnist/run.py"), "--quick",
                    "--run-dir", str(tmp_path / "run"), "--out", str(out)], check=True, capture_output=True)
    record = json.loads(out.read_text())
    assert record["quick"] and record["steps"] == 200 and record["k"] == 10
    assert 150 < record["nll"] < 600 and record["nll"] <= -record["elbo"] + 1
    assert record["commands"][0].startswith("genlab train vae --data fashion-mnist --binarize")


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
