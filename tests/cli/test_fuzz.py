"""Bad input, generated: every sub-command, one broken argument at a time, must end in one
``error:`` line with exit status 2, no traceback, nothing left behind and nothing existing changed.

The sub-commands are read from the parser, each with the working example it declares
(``genlab.cli.argtypes.example``), so a new sub-command is fuzzed without editing this file. An
argument is broken by what it is: a number is pushed past its declared bounds or made non-numeric,
a choice is given a word outside it, a run directory is missing or damaged, an output path lies
inside a regular file, a flag gets a value it cannot take, ``train`` gets overrides of every config
key that are past their type; any sub-command gets an unknown flag.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genlab.cli.argtypes import Float, Int
from genlab.cli.main import build_parser, main

EXAMPLES = int(os.environ.get("GENLAB_FUZZ_EXAMPLES", "4"))  # per way of breaking an argument; more by hand


def leaf_parsers(parser: argparse.ArgumentParser, prefix=()) -> dict[str, argparse.ArgumentParser]:
    """Every runnable sub-command ("train", "evaluator train", ...) and its parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(leaf_parsers(sub, (*prefix, name)) or {" ".join((*prefix, name)): sub})
    return found


COMMANDS = leaf_parsers(build_parser())


def test_every_sub_command_declares_a_working_example():
    for name, parser in COMMANDS.items():
        lines = parser.get_default("examples")
        assert lines, f"sub-command {name!r} declares no example (genlab.cli.argtypes.example)"
        for line in lines:
            assert line.startswith(name)
            parser.parse_known_args(shlex.split(line)[len(name.split()):])  # parses: exits on a usage error


# -- the workspace: a trained run, damaged copies of it, and bad files ------------------------------

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("fuzz") / "run"
    assert main(["train", "vae", "--data", "digits", "--steps", "4", "--out", str(run), "--no-progress",
                 "hidden=16", "latent_dim=2", "train.tensorboard=false", "train.sample_every=0"]) == 0
    return run


def _meta(run: Path) -> Path:
    return next(run.glob("checkpoints/step-*/meta.json"))


def _edit_meta(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        meta = json.loads(_meta(run).read_text())
        _meta(run).write_text(json.dumps(change(meta)))
    return damage


def _without(key):
    return lambda m: {k: v for k, v in m.items() if k != key}


DAMAGE: dict[str, Callable[[Path], None]] = {  # what a hand edit or a broken disk does to a run
    "meta.json without a step": _edit_meta(_without("step")),
    "meta.json with a text step": _edit_meta(lambda m: {**m, "step": "four"}),
    "meta.json with another step": _edit_meta(lambda m: {**m, "step": 99}),
    "meta.json not an object": _edit_meta(lambda m: [m]),
    "meta.json not JSON": lambda run: _meta(run).write_bytes(b"\x89PNG\x00\xff"),
    "data spec malformed": _edit_meta(lambda m: {**m, "data_spec": {"kind": "image", "shape": ["a", 8]}}),
    "data spec negative": _edit_meta(lambda m: {**m, "data_spec": {**m["data_spec"], "shape": [1, -8, 8]}}),
    "data spec missing": _edit_meta(_without("data_spec")),
    "config model a list": lambda run: (run / "config.yaml").write_text(
        (run / "config.yaml").read_text().replace("model: vae", "model: [vae]")),
    "config model unknown": lambda run: (run / "config.yaml").write_text(
        (run / "config.yaml").read_text().replace("model: vae", "model: nosuch")),
    "config not YAML": lambda run: (run / "config.yaml").write_bytes(b"model: [\x00\xff"),
    "config not a mapping": lambda run: (run / "config.yaml").write_text("- 1\n- 2\n"),
    "config section a list": lambda run: (run / "config.yaml").write_text(
        (run / "config.yaml").read_text() + "train: [1, 2]\n"),
    "weights truncated": lambda run: next(run.glob("checkpoints/step-*/model.safetensors")).write_bytes(b"\x08"),
    "weights of another shape": lambda run: _swap_weights(run),
    "no checkpoint, no config": lambda run: [shutil.rmtree(run / "checkpoints"), (run / "config.yaml").unlink()],
}


def _swap_weights(run: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = next(run.glob("checkpoints/step-*/model.safetensors"))
    weights = load_file(str(path))
    key = next(iter(weights))
    weights[key] = weights[key].flatten()[:1].clone()
    save_file(weights, str(path))


def bad_files(ws: Path) -> dict[str, Path]:
    """Data and config files no command can use."""
    import numpy as np

    texts = {"text.npy": "not numpy", "inf.csv": "x,y\n1,2\ninf,3\n4,5\n", "one-point.csv": "1,2\n",
             "bad.yaml": "train: [unclosed\n", "list.yaml": "- 1\n", "other.yaml": "model: gan\n",
             "unknown.yaml": "train: {no_such_key: 1}\n", "a-file": "x"}
    for name, text in texts.items():
        (ws / name).write_text(text)
    np.save(ws / "complex.npy", np.ones((10, 2), dtype=np.complex64) * 1j)
    np.save(ws / "huge.npy", np.full((10, 2), 1e300))  # finite in float64, not in float32
    (ws / "images").mkdir()
    (ws / "images" / "broken.png").write_bytes(b"\x89PNG broken")
    files = {name: ws / name for name in [*texts, "complex.npy", "huge.npy", "images"]}
    return files


# -- how an argument is broken -----------------------------------------------------------------------

@dataclass
class Mutation:
    name: str
    values: st.SearchStrategy  # of argument lists appended to (or put into) the example
    replaces: str | None = None  # a placeholder of the example (RUN) the values stand in for


def out_of_range(kind) -> st.SearchStrategy:
    lo = kind.lo if isinstance(kind, Int) else kind.above
    below = (st.integers(max_value=lo - 1) if isinstance(kind, Int)
             else st.floats(max_value=lo, allow_nan=False, allow_infinity=False))
    above = (st.integers(min_value=kind.hi + 1) if isinstance(kind, Int)
             else st.floats(min_value=kind.hi, exclude_min=True, allow_nan=False, allow_infinity=True))
    words = st.sampled_from(["", "abc", "nan", "inf", "-inf", "1e999", "0x10", "1,5", "[1", "*x", "½", "1e308",
                             "18446744073709551616", "99999999999999999999999"])
    fractions = st.floats(min_value=0.01, max_value=1e6).filter(lambda x: not x.is_integer())
    parts = [below.map(str), above.map(str), words]
    if isinstance(kind, Int):
        parts.append(fractions.map(repr))
    return st.one_of(*parts).filter(lambda text: not _valid(kind, text))


def _valid(kind, text: str) -> bool:
    try:
        kind(text)
        return True
    except argparse.ArgumentTypeError:
        return False


def not_in(choices) -> st.SearchStrategy:
    return st.text(min_size=0, max_size=12).filter(lambda t: t not in [str(c) for c in choices])


def option_mutations(parser: argparse.ArgumentParser, files: dict[str, Path], ws: Path) -> list[Mutation]:
    found = []
    for action in parser._actions:
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if flag is None:  # positional: the run directory, or train's model name
            if action.dest == "run_dir":
                found += run_mutations(files, ws)
            elif action.dest == "model":
                found.append(Mutation("unknown model", not_in(_models()).filter(lambda t: "=" not in t and t
                                                                              and not t.startswith("-"))
                                      .map(lambda t: ["--model-name-slot", t]), replaces="MODEL"))
            continue
        if action.nargs == 0:  # a switch: it takes no value
            found.append(Mutation(f"{flag}=value", st.sampled_from([[f"{flag}=yes"], [f"{flag}=1"]])))
        elif isinstance(action.type, (Int, Float)):
            found.append(Mutation(f"{flag} out of range", out_of_range(action.type).map(lambda v, f=flag: [f, v])))
        elif action.choices is not None:
            found.append(Mutation(f"{flag} outside its choices", not_in(action.choices).map(lambda v, f=flag: [f, v])))
        elif action.dest == "device":
            found.append(Mutation("bad device", st.sampled_from(["cuda:abc", "gpu", "cpu:", "cuda:-1", "CPU0", "",
                                                                 "cuda:99999", "mps:0:1"]).map(lambda v: ["--device", v])))
        elif action.dest in ("run_dir", "resume"):
            found += run_mutations(files, ws)
        elif action.dest == "out":
            inside_file = str(files["a-file"] / "x.png")
            found.append(Mutation("--out inside a file", st.just([flag, inside_file])))
        elif action.dest == "data":
            bad = [str(p) for k, p in files.items() if k.endswith((".npy", ".csv")) or k == "images"]
            found.append(Mutation("bad data", st.sampled_from(bad + [str(ws / "missing.npy"), "nosuchset"])
                                  .map(lambda v: ["--data", v])))
        elif action.dest == "config":
            bad = [str(files[k]) for k in ("bad.yaml", "list.yaml", "other.yaml", "unknown.yaml", "a-file")]
            found.append(Mutation("bad config", st.sampled_from(bad + [str(ws / "missing.yaml")])
                                  .map(lambda v: ["--config", v])))
    found.append(Mutation("unknown flag", st.from_regex(r"--zz[a-z]{1,8}", fullmatch=True).map(lambda f: [f, "1"])))
    return found


def _models():
    from genlab.models import MODELS

    return sorted(MODELS)


def run_mutations(files: dict[str, Path], ws: Path) -> list[Mutation]:
    """A run directory that is missing, not a directory, not a run, or a run damaged one way."""
    plain = st.sampled_from([str(ws / "missing-run"), str(files["a-file"]), str(files["images"])]).map(lambda p: [p])
    return [Mutation("not a run", plain, replaces="RUN")] + [
        Mutation(f"damaged run: {name}", st.just(["DAMAGED:" + name]), replaces="RUN") for name in sorted(DAMAGE)]


def override_mutations() -> list[Mutation]:
    """train: key=value of every config key, past its type (the model of the example: vae)."""
    from genlab.config import DataConfig, TrainConfig
    from genlab.models import get_model_class

    bad = {int: ["1.5", "1e30", "99999999999999999999", "abc", "[1", "true", "nan"],
           float: ["nan", "inf", "-inf", "1e999", "abc", "*x", "[1"],
           bool: ["maybe", "2", "[1"]}
    keys = {kind: [] for kind in bad}
    for section, cls in (("model", get_model_class("vae").Config), ("train", TrainConfig), ("data", DataConfig)):
        for f in fields(cls):
            kind = {"int": int, "float": float, "bool": bool}.get(str(f.type).replace(" | None", ""))
            if kind is not None:
                keys[kind].append(f"{section}.{f.name}")
    # one way of breaking at a time (each is tried), over keys of its type (drawn)
    found = [Mutation(f"{kind.__name__} key = {word}", st.sampled_from(keys[kind]).map(lambda k, w=word: [f"{k}={w}"]))
             for kind, words in bad.items() for word in words]
    return found + [Mutation("unknown key", st.from_regex(r"zz[a-z_]{1,8}=1", fullmatch=True).map(lambda o: [o]))]


# -- the contract -----------------------------------------------------------------------------------

def snapshot(root: Path) -> dict[str, str]:
    """Every file under root and a hash of its bytes (the lock file is the lock's own state)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*")) if p.name != ".lock"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_input_is_one_error_line_and_changes_nothing(command, trained_run, tmp_path, capsys):
    parser = COMMANDS[command]
    ws = tmp_path / "ws"
    ws.mkdir()
    files = bad_files(ws)
    good_run = ws / "run"
    shutil.copytree(trained_run, good_run)
    mutations = option_mutations(parser, files, ws) + (override_mutations() if command == "train" else [])
    counter = iter(range(10**9))
    for mutation in mutations:
        _fuzz(mutation, parser, ws, good_run, counter, capsys)


def _fuzz(mutation: Mutation, parser, ws: Path, good_run: Path, counter, capsys) -> None:
    examples = [shlex.split(line) for line in parser.get_default("examples")]
    if mutation.replaces == "RUN":  # the examples that take a run
        examples = [e for e in examples if "RUN" in e]
    elif mutation.replaces == "MODEL":  # the first example names the model
        examples = examples[:1]
    if not examples:
        return

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(value=mutation.values, argv=st.sampled_from(examples))
    def check(value, argv):
        case = ws / f"case-{next(counter)}"
        case.mkdir()
        argv = list(argv)
        if value and value[0].startswith("DAMAGED:"):  # a damaged copy of the trained run
            damaged = case / "damaged"
            shutil.copytree(good_run, damaged)
            DAMAGE[value[0].removeprefix("DAMAGED:")](damaged)
            value = [str(damaged)]
        if mutation.replaces == "RUN":
            argv = [value[0] if a == "RUN" else a for a in argv]
        elif mutation.replaces == "MODEL":
            argv[1] = value[1]
        else:
            argv += value
        argv = [a.replace("RUN", str(good_run)).replace("OUT", str(case / "out")) for a in argv]
        before = snapshot(ws)
        capsys.readouterr()
        if os.environ.get("GENLAB_FUZZ_SHOW"):
            print("FUZZ", mutation.name, argv, file=sys.__stdout__)
        code = main(argv)  # a traceback here fails the test
        err = capsys.readouterr().err
        lines = [line for line in err.strip().splitlines() if not line.startswith("genlab: ")]
        assert code == 2, f"{mutation.name}: {argv}: exit {code}\n{err}"
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{mutation.name}: {argv}:\n{err}"
        assert snapshot(ws) == before, f"{mutation.name}: {argv} left or changed files"

    check()
