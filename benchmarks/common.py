"""What every benchmark script shares: the machine record, mean +- std, an atomic results file and
a pool of single-purpose worker processes, and the loop that runs a sweep and saves after each run."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import platform
from pathlib import Path
from typing import Callable, Iterable, Iterator


def machine() -> dict:
    """CPU model, core count, torch and Python versions of this machine."""
    import torch

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, s


def write_json(path: Path, record: dict) -> None:
    """Write ``record`` to ``path`` atomically, so an interrupted write keeps the old one."""
    from genlab.files import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def _markers(marker: str) -> tuple[str, str]:
    return f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"


def splice(text: str, marker: str, body: str) -> str:
    """``text`` with what lies between ``<!-- marker:start -->`` and ``<!-- marker:end -->``
    replaced by ``body``; unchanged when either marker is missing."""
    start, end = _markers(marker)
    if start not in text or end not in text:
        return text
    return text.split(start)[0] + start + "\n" + body + "\n" + end + text.split(end, 1)[1]


def spliced(text: str, marker: str) -> str | None:
    """The body ``splice`` put between ``marker``'s start and end in ``text``; None when either is missing."""
    start, end = _markers(marker)
    if start not in text or end not in text:
        return None
    return text.split(start)[1].split(end)[0].removeprefix("\n").removesuffix("\n")


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["GENLAB_THREADS"] = str(threads)  # genlab.train picks its own threads otherwise (one per idle core)


def run_jobs(fn: Callable[[dict], dict], jobs: Iterable[dict], processes: int, threads: int) -> Iterator[dict]:
    """fn(job) for every job, ``processes`` at a time (fresh spawned processes, ``threads`` torch
    threads each), yielding the results as they finish; in this process when ``processes`` is 1."""
    if processes > 1:
        with mp.get_context("spawn").Pool(processes, initializer=_set_threads, initargs=(threads,)) as pool:
            yield from pool.imap_unordered(fn, jobs)
    else:
        _set_threads(threads)
        for job in jobs:
            yield fn(job)


def run_and_save(fn: Callable[[dict], dict], jobs: list[dict], processes: int, threads: int, runs: list[dict],
                 out: Path, header: Callable[[list[dict]], dict], report: Callable[[dict], None]) -> dict:
    """fn(job) for every job (``run_jobs``), each result appended to ``runs`` and the record
    (``header(runs)``, the runs, the parallelism, the machine, the date) rewritten to ``out`` after
    each, so an interrupted sweep keeps what finished. Returns the last record."""
    import time

    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def save() -> dict:
        record = {**header(runs), "runs": runs,
                  "conditions": {"jobs": processes, "threads_per_run": threads, "loadavg_at_start": load0},
                  "machine": machine(), "date": time.strftime("%Y-%m-%d")}
        write_json(out, record)
        return record

    for r in run_jobs(fn, jobs, processes, threads):
        runs.append(r)
        save()
        report(r)
    return save()
