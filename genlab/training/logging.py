"""Where a step's structured output goes: metrics.jsonl, TensorBoard, and the progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends one JSON object per logged step to ``metrics.jsonl`` and mirrors the scalars to
    TensorBoard (``tb/``). On resume, lines past the checkpoint's step are dropped first, so the
    file reads as if the run had never stopped."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, resume_step: int | None = None):
        self.path = Path(run_dir) / "metrics.jsonl"
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_step)

    def _truncate_after(self, step: int) -> None:
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, step: int, values: dict[str, Any]) -> None:
        record = {"step": step, **values}
        with open(self.path, "a") as f:
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
