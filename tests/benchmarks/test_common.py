"""What every benchmark script shares."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.common import run_jobs  # noqa: E402


def _threads_seen(job):
    import torch

    import genlab.training.device as device

    return {"torch": torch.get_num_threads(), "genlab": device.choose_threads(None)[0]}


def test_the_threads_a_sweep_asks_for_reach_genlab_train(monkeypatch):
    """--threads N must hold inside genlab.train too, which otherwise picks one thread per idle core."""
    import torch

    monkeypatch.setenv("GENLAB_THREADS", "")
    before = torch.get_num_threads()
    try:
        (seen,) = list(run_jobs(_threads_seen, [{}], 1, 1))
    finally:
        torch.set_num_threads(before)
    assert seen == {"torch": 1, "genlab": 1} and os.environ["GENLAB_THREADS"] == "1"


def test_spliced_reads_back_what_splice_wrote():
    from benchmarks.common import splice, spliced

    text = "a\n<!-- t:start -->\nold\n<!-- t:end -->\nb"
    assert spliced(splice(text, "t", "| x |\n| 1 |"), "t") == "| x |\n| 1 |"
    assert spliced(text, "missing") is None
