"""A benchmark's run.py as a module (the scripts are not a package)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_runner(name: str):
    """benchmarks/<name>/run.py, imported afresh."""
    spec = importlib.util.spec_from_file_location(f"{name}_run", ROOT / "benchmarks" / name / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
