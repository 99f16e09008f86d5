"""The runs under the explorer's folder: found on disk, addressed by id (their path under the folder,
never a path from the client), read only through genlab's safe readers (YAML, JSON, safetensors)."""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from genlab.errors import GenlabError

MAX_DEPTH = 4  # folders below the root searched for runs
CACHE = 4  # models kept loaded
CURVE_POINTS = 400  # points a loss curve is thinned to


class UnknownRun(GenlabError):
    """A run id that is not one of the folder's runs."""


class Runs:
    def __init__(self, root: str | Path, device: str = "cpu"):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise GenlabError(f"{root} is not a directory")
        self.device = device
        self.lock = threading.RLock()  # one model call at a time: torch uses every core anyway
        self._models: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._tests: dict[str, Any] = {}

    # -- finding -----------------------------------------------------------------------------
    def ids(self) -> list[str]:
        found: list[str] = []
        self._walk(self.root, 0, found)
        return sorted(found)

    def _walk(self, folder: Path, depth: int, found: list[str]) -> None:
        if _is_run(folder):
            found.append(folder.relative_to(self.root).as_posix() if folder != self.root else ".")
            return
        if depth >= MAX_DEPTH:
            return
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            if child.is_symlink() and not child.resolve().is_relative_to(self.root):
                continue  # a link out of the folder is not served
            self._walk(child, depth + 1, found)

    def path(self, run_id: str) -> Path:
        """The folder of run ``run_id``: only an id that ``ids()`` lists is accepted (checked
        without walking the tree: every request of a slider drag asks)."""
        parts = run_id.split("/") if isinstance(run_id, str) else [""]
        if run_id != "." and (len(parts) > MAX_DEPTH or any(p in ("", ".", "..") or p.startswith(".")
                                                               or "\\" in p for p in parts)):
            raise UnknownRun(f"no run {run_id!r} here")
        path = self.root / run_id
        inside = path.resolve().is_relative_to(self.root)
        above = [p for p in path.parents if p.is_relative_to(self.root)] if run_id != "." else []
        if not (inside and _is_run(path)) or any(_is_run(p) for p in above):  # the walk does not go into runs
            raise UnknownRun(f"no run {run_id!r} under {self.root}")
        return path

    # -- reading -----------------------------------------------------------------------------
    def model(self, run_id: str):
        """The run's model at its newest checkpoint (reloaded when the run has moved on)."""
        import genlab
        from genlab.training.checkpoint import find_checkpoint

        path = self.path(run_id)
        step = find_checkpoint(path).step
        with self.lock:
            cached = self._models.get(run_id)
            if cached is not None and cached[0] == step:
                self._models.move_to_end(run_id)
                return cached[1]
            model = genlab.load(path, device=self.device)
            self._models[run_id] = (model.step, model)
            while len(self._models) > CACHE:
                self._models.popitem(last=False)
            return model

    def test_set(self, run_id: str):
        """The run's test images (N, C, H, W), loaded once: what walks encode and test.png shows."""
        from genlab.api import load_data

        with self.lock:
            if run_id not in self._tests:
                self._tests[run_id] = load_data(self.model(run_id).run_config.data).test
            return self._tests[run_id]

    def summary(self, run_id: str) -> dict:
        from genlab.api import read_run_config
        from genlab.training.checkpoint import find_checkpoint

        path = self.path(run_id)
        cfg = read_run_config(path)
        ckpt = find_checkpoint(path)
        spec = ckpt.meta.get("data_spec", {})
        return {"id": run_id, "model": cfg.model, "data": cfg.data.name, "step": ckpt.step,
                "kind": spec.get("kind", "image"), "condition": _condition_kind(cfg, spec),
                "eval": last_eval(path)}

    def info(self, run_id: str) -> dict:
        from genlab import directions
        from genlab import sampling
        from genlab.api import read_run_config
        from genlab.explore import views

        path = self.path(run_id)
        model = self.model(run_id)
        cfg = read_run_config(path)
        cond = getattr(model, "condition", None)
        kind = getattr(cond, "kind", None)
        out = {**self.summary(run_id), "shape": list(model.spec.shape), "config": cfg.to_dict(),
               "curves": curves(path),
               "can": {"sample": hasattr(model, "prior"), "truncation": sampling.can_truncate(model),
                       "encode": views.encodes(model),
                       "class_grid": kind in ("class", "tags"), "plane": hasattr(model, "prior")},
               "classes": list(cond.names) if kind == "class" else None,
               "tags": _tags(cond.vocab) if kind == "tags" else None,
               "codes": ({"categorical": cond.categories, "continuous": cond.continuous, "range": [-2, 2]}
                         if kind == "code" else None),
               "directions": sorted(directions.read(path)) if hasattr(model, "prior") else [],
               "test_count": len(self.test_set(run_id)) if views.encodes(model) else None,
               "command": f"genlab train --config {(path / 'config.yaml').as_posix()}"}
        return out


def _is_run(folder: Path) -> bool:
    from genlab.training.checkpoint import has_checkpoint

    return (folder / "config.yaml").is_file() and has_checkpoint(folder)


def _condition_kind(cfg, spec: dict) -> str | None:
    """What the run is conditioned on, from its config alone (no model built): None, class, tags,
    clusters or codes."""
    from types import SimpleNamespace

    from genlab.data.dataset import DataSpec
    from genlab.models import get_model_class

    if cfg.model == "infogan":
        return "codes"
    kind = getattr(cfg.model_config, "condition", "none")
    cls = get_model_class(cfg.model)
    if kind == "auto" and hasattr(cls, "auto_condition"):
        try:
            kind = cls.auto_condition(SimpleNamespace(config=cfg.model_config), DataSpec.from_dict(spec))
        except GenlabError:
            return None
    return None if kind in (None, "none", "auto") else kind


def _tags(vocab) -> dict:
    grouped = {m for g in vocab.groups for m in g.members}
    return {"names": list(vocab.names),
            "groups": [{"name": g.name, "members": [vocab.names[i] for i in g.members]} for g in vocab.groups],
            "single": [n for i, n in enumerate(vocab.names) if i not in grouped]}


def last_eval(run_dir: Path) -> dict | None:
    """The run's last `genlab eval` results (RUN/eval.json), or None."""
    path = run_dir / "eval.json"
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def curves(run_dir: Path) -> dict[str, list[list[float]]]:
    """Each logged number of metrics.jsonl as [[step, value], ...], thinned to CURVE_POINTS."""
    out: dict[str, list[list[float]]] = {}
    try:
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line being written
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            continue
        for k, v in row.items():
            if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                out.setdefault(k, []).append([row["step"], v])
    for k, v in out.items():
        if len(v) > CURVE_POINTS:
            stride = math.ceil(len(v) / CURVE_POINTS)
            out[k] = v[::stride] + ([v[-1]] if (len(v) - 1) % stride else [])
    return out
