"""Where a step's structured output goes: metrics.jsonl, TensorBoard, and the progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from genlab.errors import CheckpointError
from genlab.files import atomic_write_text


def read_metrics(path: str | Path, *, warn: bool = True) -> tuple[list[dict], list[str]]:
    """The records of a metrics.jsonl and their lines. A torn last line (a write cut short by a
    kill, power loss or a full disk) is dropped with a warning; a bad line elsewhere is an error."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return [], []
    lines = text.split("\n")  # a complete file ends with "\n": its last piece is ""
    records, kept = [], []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = _record(line)
        if record is None and i == len(lines):
            if warn:
                print(f"genlab: warning: {path} ends in a torn line (a write was cut short); dropped it",
                      file=sys.stderr)
            continue
        if record is None:
            raise CheckpointError(f"{path} line {i} is not a metrics record (a JSON object with a whole step); "
                                  "repair or delete that line")
        records.append(record)
        kept.append(line)
    return records, kept


def _record(line: str) -> dict | None:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    ok = isinstance(record, dict) and type(record.get("step")) is int
    return record if ok else None


class MetricsLog:
    """Appends one JSON object per logged step to ``metrics.jsonl`` and mirrors the scalars to
    TensorBoard (``tb/``). On resume, lines past the checkpoint's step are dropped first, so the
    file reads as if the run had never stopped (the open logging window is in the checkpoint)."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, resume_step: int | None = None):
        self.path = Path(run_dir) / "metrics.jsonl"
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_step)

    def _truncate_after(self, step: int) -> None:
        """Atomically (a kill in the middle leaves the old file): only lines up to ``step``."""
        records, lines = read_metrics(self.path)
        kept = "".join(line + "\n" for r, line in zip(records, lines) if r["step"] <= step)
        if kept.encode() != self.path.read_bytes():
            atomic_write_text(self.path, kept)

    def log(self, step: int, values: dict[str, Any]) -> None:
        record = {"step": step, **values}
        with open(self.path, "a") as f:  # one write of one whole line: a crash tears at most this line
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.writer.add_scalar(k, v, step)

    def image(self, tag: str, grid_hwc, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, grid_hwc, step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
