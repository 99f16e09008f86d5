"""The toonfaces benchmark's every-tag table: the target and the seeds that meet it."""

import importlib.util
from pathlib import Path

import pytest

from genlab.data.tags import build_vocab

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("toonfaces_run", ROOT / "benchmarks/toonfaces/run.py")
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)


def _tag(flip, kept, had=100):
    return {"svm_accuracy": 0.9, "had_attribute": had, "flip_rate": flip, "preservation": kept,
            "random_flip_rate": 0.1, "random_preservation": 0.85, "preserving_flip_rate": flip,
            "preserving_preservation": kept, "preserving_preserved": {}}


def test_the_target_is_both_bars_at_once():
    assert run.met(0.80, 0.90) and run.met(0.95, 0.99)
    assert not run.met(0.799, 0.95) and not run.met(0.95, 0.899)


def test_every_tag_table_counts_the_seeds_that_meet_the_target_and_says_when_the_mean_does():
    runs = [{"seed": s, "tags": {"smile": _tag(f, k), "glasses": _tag(0.85, k2), "mute": {"error": "no codes"}}}
            for s, f, k, k2 in ((1, 0.82, 0.93, 0.89), (0, 0.84, 0.95, 0.91))]
    lines = run.every_tag_markdown(runs).splitlines()
    assert len(lines) == 5 and lines[0].startswith("| attribute | had it")
    smile, glasses, mute = lines[2:]
    assert smile.startswith("| smile | 100 | 0.830 ± 0.014 | 0.940 ± 0.014 | 0.830 ± 0.014 |")
    assert "| 2 of 2 (mean: met) |" in smile
    assert "| 1 of 2 (mean: met) |" in glasses  # seed 1 keeps 0.89; the mean, 0.90, meets it
    assert "no codes" in mute


def test_binary_tags_read_as_one_exclusive_group():
    vocab = build_vocab([["red hair", "smile", "long hair"], ["blue hair", "twintails"]] * 5, min_count=1)
    styled = run.read_as_group(vocab, "style", ["twintails", "long hair"])
    group = styled.groups[-1]
    assert group.name == "style" and group.always and [styled.names[i] for i in group.members] == ["long hair", "twintails"]
    assert [styled.names[i] for i in styled.binary] == ["smile"] and styled.groups[:-1] == vocab.groups
    for bad in (["twintails"], ["red hair", "smile"], ["twintail", "smile"]):  # one tag, a grouped one, unknown
        with pytest.raises(SystemExit, match="^error: --as-group"):
            run.read_as_group(vocab, "style", bad)
