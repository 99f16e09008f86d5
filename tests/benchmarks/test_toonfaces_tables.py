"""The toonfaces benchmark's tables and bookkeeping: the every-tag target and the seeds that meet it,
the machines that timed the rows, and which runs still stand for their row."""

import pytest

from genlab.data.tags import build_vocab
from tests.benchmarks.runner import load_runner

run = load_runner("toonfaces")


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


def test_the_screen_table_merges_the_parts_of_one_run_most_flipped_first():
    def held(flip, kept):
        return {"weight": 1.0, "flip_rate": flip, "preservation": kept, "had_attribute": 90}

    parts = [{"seed": 0, "tags": {"red eyes": held(0.6, 0.95), "mute": {"error": "no codes"}}},
             {"seed": 0, "tags": {"yellow eyes": held(0.85, 0.93), "long hair": held(0.97, 0.81)}}]
    lines = run.screen_markdown(parts).splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| long hair", "| yellow eyes", "| red eyes", "| mute"]
    assert lines[3] == "| yellow eyes | 90 | 1 | 0.850 | 0.930 | **met** |"
    assert lines[2].endswith("| 0.970 | 0.810 | - |") and "no codes" in lines[5]


@pytest.mark.skipif(not (run.HERE / "screen-learned.json").is_file(), reason="no screen run yet")
def test_readme_screen_table_is_the_one_its_json_gives():
    import json

    from benchmarks.common import spliced

    runs = json.loads((run.HERE / "screen-learned.json").read_text())["runs"]
    assert spliced((run.HERE / "README.md").read_text(), "screen-learned") == run.screen_markdown(runs)


def test_the_disagree_table_gives_each_evaluators_flip_rate_and_the_commonest_partings():
    runs = [{"attribute": "yellow eyes", "seed": s, "method": "learned", "preserve_weight": 0.25, "edit_n": 1000,
             "flip_rate": 0.832, "judged_flip_rate": 0.762, "read_alike": 895,
             "pairs": [["yellow eyes", "orange eyes", 39], ["brown eyes", "orange eyes", 11], ["a", "b", 3],
                       ["c", "d", 2], ["e", "f", 1]]} for s in (1, 0)]
    lines = run.disagree_markdown(runs).splitlines()
    assert len(lines) == 4 and lines[2].startswith("| yellow eyes | 0 | learned, weight 0.25 | 0.832 / 0.762 | 895 of 1000 |")
    assert lines[2].endswith("| yellow eyes / orange eyes: 39, brown eyes / orange eyes: 11, a / b: 3, c / d: 2 |")


@pytest.mark.skipif(not (run.HERE / "disagree.json").is_file(), reason="no disagree run yet")
def test_readme_disagree_table_is_the_one_its_json_gives():
    import json

    from benchmarks.common import spliced

    runs = json.loads((run.HERE / "disagree.json").read_text())["runs"]
    assert spliced((run.HERE / "README.md").read_text(), "disagree") == run.disagree_markdown(runs)


def test_the_weights_table_has_a_column_a_weight_and_counts_the_seeds_in_each():
    def tag(found, at):
        return {**_tag(*found), "by_weight": {"10": at[0], "30": at[1]}}

    runs = [{"seed": 0, "tags": {"mute": {"error": "x"}, "glasses": tag((0.93, 0.82), ([0.87, 0.89], [0.82, 0.91]))}},
            {"seed": 1, "tags": {"mute": {"error": "x"}, "glasses": tag((0.85, 0.83), ([0.85, 0.89], [0.78, 0.91]))}}]
    lines = run.by_weight_markdown(runs).splitlines()
    assert lines[0] == "| attribute | as found | weight 10 | weight 30 |" and len(lines) == 3  # no row for an error
    assert lines[2] == "| glasses | 0.890 / 0.825 | 0.860 / 0.890 | 0.800 / 0.910 (**1 of 2**, mean: met) |"


def test_the_held_out_table_gives_each_method_its_chosen_weight_per_seed_and_the_seeds_that_meet_the_target():
    def held(weight, flip, kept, found=(0.9, 0.8)):
        return {"weight": weight, "flip_rate": flip, "preservation": kept, "found": list(found), "tried": []}

    runs = [{"seed": s, "tags": {"mute": {"error": "x"}, "glasses": {**_tag(0.9, 0.8), "held_out": {
        "svm": held(w1, 0.82, k1), "gradient": held(w2, 0.86, 0.92, (0.88, 0.84))}}}}
        for s, w1, k1, w2 in ((1, 30.0, 0.89, 500.0), (0, 20.0, 0.91, 70.0))]
    lines = run.held_out_markdown(runs).splitlines()
    assert lines[0].startswith("| attribute | method | as found") and "weight chosen (seed 0, 1)" in lines[0]
    assert len(lines) == 4  # a row a method, none for a tag that errored
    assert lines[2] == "| glasses | svm | 0.900 / 0.800 | 20, 30 | 0.820 ± 0.000 | 0.900 ± 0.014 | **1 of 2** (mean: met) |"
    assert lines[3] == ("| glasses | gradient | 0.880 / 0.840 | 70, 500 | 0.860 ± 0.000 | 0.920 ± 0.000 "
                        "| **2 of 2** (mean: met) |")


def test_the_held_out_table_reads_the_same_edits_by_the_judge_beside_the_protocols_evaluator():
    def held(flip, kept, judged):
        return {"weight": 1.0, "flip_rate": flip, "preservation": kept, "found": [0.9, 0.8], "tried": [],
                "judged": judged}

    runs = [{"seed": s, "judge": "other.safetensors", "tags": {"twintails": {**_tag(0.9, 0.8), "held_out": {
        "learned": held(0.85, 0.91, judged)}}}} for s, judged in ((0, [0.84, 0.90]), (1, [0.70, 0.93]))]
    lines = run.held_out_markdown(runs).splitlines()
    assert lines[0].endswith("| read by another evaluator: flip rate / other tags kept (met) |")
    assert lines[1].count("---") == 8
    assert lines[2].endswith("| **2 of 2** (mean: met) | 0.770 / 0.915 (1 of 2) |")
    del runs[1]["judge"]  # a run read by no judge: no such column
    assert "another evaluator" not in run.held_out_markdown(runs)


def test_the_by_before_table_splits_each_methods_flip_rate_by_what_the_draws_had():
    def held(flip_yellow, n_yellow, missed):
        return {"flip_by_before": {"yellow eyes": {"n": n_yellow, "flip_rate": flip_yellow, "missed_as": missed},
                                   "aqua eyes": {"n": 80, "flip_rate": 1.0, "missed_as": {}}}}

    runs = [{"seed": s, "tags": {"mute": {"error": "x"}, "aqua eyes": {"held_out": {
        "svm": held(f1, n, {}), "gradient": held(f2, n, {"green eyes": g, "yellow eyes": 1})}}}}
        for s, f1, f2, n, g in ((1, 0.3, 0.5, 110, 50), (0, 0.5, 0.5, 120, 60))]
    lines = run.by_before_markdown(runs).splitlines()
    assert lines[0] == ("| attribute | the draw had | draws (of 1,000) | svm: flip rate | gradient: flip rate "
                        "| missed edits left as (gradient, 2 runs) |")
    assert lines[1].count("|") == 7 and len(lines) == 4  # a row a state, none for a tag that errored
    assert lines[2] == "| aqua eyes | yellow eyes | 115 | 0.40 ± 0.14 | 0.50 ± 0.00 | green eyes 110, yellow eyes 2 |"
    assert lines[3] == "| aqua eyes | aqua eyes | 80 | 1.00 ± 0.00 | 1.00 ± 0.00 | - |"


def test_binary_tags_read_as_one_exclusive_group():
    vocab = build_vocab([["red hair", "smile", "long hair"], ["blue hair", "twintails"]] * 5, min_count=1)
    styled = run.read_as_group(vocab, "style", ["twintails", "long hair"])
    group = styled.groups[-1]
    assert group.name == "style" and group.always and [styled.names[i] for i in group.members] == ["long hair", "twintails"]
    assert [styled.names[i] for i in styled.binary] == ["smile"] and styled.groups[:-1] == vocab.groups
    for bad in (["twintails"], ["red hair", "smile"], ["twintail", "smile"]):  # one tag, a grouped one, unknown
        with pytest.raises(SystemExit, match="^error: --as-group"):
            run.read_as_group(vocab, "style", bad)


def test_toonfaces_table_says_which_machine_timed_which_row():
    """Minutes from two machines side by side name their machine per row; one machine, once."""
    base = {"fid": 1.0, "kid": 0.1, "precision": 0.9, "recall": 0.5, "steps": 10, "train_seconds": 60.0}
    runs = [{**base, "row": "cgan (projection)", "seed": 0, "machine": "2 cores, CPU flags avx512_bf16"},
            {**base, "row": "dcgan (unconditional)", "seed": 0, "machine": "2 cores, CPU flags amx_bf16"},
            {**base, "row": "dcgan (unconditional)", "seed": 1, "machine": "2 cores, CPU flags amx_bf16",
             "train_seconds": None}]  # adopted: untimed, so its machine says nothing about the minutes
    text = run.markdown(run.aggregate(runs))
    assert ("The timed runs trained on: 2 cores, CPU flags avx512_bf16 (cgan (projection)); "
            "2 cores, CPU flags amx_bf16 (dcgan (unconditional)).") in text
    acgan = {**runs[0], "row": "acgan (multi-label)"}
    assert ("The timed runs trained on: 2 cores, CPU flags avx512_bf16 (cgan (projection), acgan (multi-label)); "
            "2 cores, CPU flags amx_bf16 (dcgan (unconditional)).") in run.markdown(run.aggregate([*runs, acgan]))
    same = run.markdown(run.aggregate([runs[1], {**runs[1], "seed": 1}]))
    assert "The timed runs trained on: 2 cores, CPU flags amx_bf16." in same


def test_a_row_measured_at_other_steps_pins_them_unless_the_job_sets_them():
    job = {"data": "toonfaces", "extra": ["ngf=4"], "train": {}}
    assert run.row_overrides("acgan (multi-label, 16,000 steps)", job) == ("acgan", ["train.steps=16000", "ngf=4"])
    assert run.command("cgan (tiled)", {**job, "seed": 1}) == (
        "genlab train cgan --data toonfaces --out DIR d_condition=tile train.steps=16000 ngf=4 train.seed=1")
    assert run.row_config({**job, "row": "acgan (multi-label, 16,000 steps)"})["steps"] == 16_000
    assert run.row_config({**job, "row": "acgan (multi-label)"})["steps"] == 24_000
    assert run.row_config({**job, "row": "cgan (projection)"})["steps"] == 24_000  # the recipe's
    quick = {**job, "train": {"steps": 4}}
    assert run.row_overrides("cgan (tiled)", quick) == ("cgan", ["d_condition=tile", "ngf=4"])
    assert run.row_config({**quick, "row": "acgan (multi-label)"})["steps"] == 4


def test_toonfaces_runs_stand_for_their_row_while_what_they_learn_is_the_same(monkeypatch):
    """A recipe that takes in a row's override keeps that row's runs (under today's command) and
    the other rows' runs (now the override's opposite); a run that learned something else is redone."""
    from genlab.models import MODELS

    setting = {"data": "toonfaces", "extra": [], "train": {}}
    rows = {"plain": ("cgan", []), "mismatch": ("cgan", ["mismatch=true"])}
    monkeypatch.setattr(run, "ROWS", rows)
    runs = [{"row": row, "seed": 1, "config": run.row_config({**setting, "row": row})} for row in rows]
    runs.append({"row": "plain", "seed": 2, "config": run.row_config({**setting, "row": "plain", "extra": ["ema=0.9"]})})
    assert [(r["row"], r["seed"]) for r in run.still_valid(runs, setting)] == [("plain", 1), ("mismatch", 1)]
    # a setting genlab gained after the run was saved stands at its default, the behaviour the run had
    older = [{**r, "config": {**r["config"], "model_config": {k: v for k, v in r["config"]["model_config"].items()
                                                             if k not in ("r1_every", "pl_weight")}}} for r in runs]
    assert [(r["row"], r["seed"]) for r in run.still_valid(older, setting)] == [("plain", 1), ("mismatch", 1)]
    changed = {**older[0], "config": {**older[0]["config"], "model_config": {**older[0]["config"]["model_config"],
                                                                             "r1_every": 4}}}
    assert run.still_valid([changed], setting) == []
    gone = {**older[0], "config": {**older[0]["config"], "model_config": {**older[0]["config"]["model_config"],
                                                                          "a_removed_setting": 1}}}
    assert run.still_valid([gone], setting) == []  # redone, not a crash
    recipe = MODELS["cgan"].data_recipes["toonfaces"]
    monkeypatch.setitem(MODELS["cgan"].data_recipes, "toonfaces",
                        {**recipe, "model_config": {**recipe["model_config"], "mismatch": True}})
    monkeypatch.setattr(run, "ROWS", {"plain": ("cgan", ["mismatch=false"]), "mismatch": ("cgan", [])})
    kept = run.still_valid(runs, setting)
    assert [(r["row"], r["seed"]) for r in kept] == [("plain", 1), ("mismatch", 1)]
    assert [r["command"] for r in kept] == [
        "genlab train cgan --data toonfaces --out DIR mismatch=false train.seed=1",
        "genlab train cgan --data toonfaces --out DIR train.seed=1"]
    monkeypatch.setattr(run, "ROWS", {"plain": ("cgan", []), "mismatch": ("cgan", [])})  # plain now mismatches
    assert [r["row"] for r in run.still_valid(runs, setting)] == ["mismatch"]


@pytest.mark.parametrize("path", sorted(run.HERE.glob("every-tag*.json")), ids=lambda p: p.stem)
def test_readme_tables_are_the_ones_their_json_gives(path):
    """Every every-tag table in the benchmark's README is what run.py makes of the results file beside
    it, so no number there was typed or left behind by an older run."""
    import json

    from benchmarks.common import spliced

    readme = (run.HERE / "README.md").read_text()
    for marker, body in run.every_tag_tables(path.stem, json.loads(path.read_text())["runs"]).items():
        assert spliced(readme, marker) == body, f"README's {marker} table is not {path.name}'s"
