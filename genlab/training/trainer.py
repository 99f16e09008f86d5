"""The one trainer every model uses. It knows nothing about any model: it calls
``model.train_step`` with a batch stream and the model's own optimizers, and owns the loop,
device, seeds, progress bar, logging, sample grids, checkpoints and resume."""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch

from genlab.config import TrainConfig
from genlab.data.dataset import Dataset
from genlab.data.loader import BatchStream
from genlab.errors import CheckpointError, ConfigError, Stopped, TrainingDiverged
from genlab.images import save_grid, save_points, upscale_for_display, make_grid
from genlab.models.base import GenerativeModel
from genlab.training import checkpoint as ckpt
from genlab.training import distributed
from genlab.training.device import is_main_process, rank_and_world_size, rng_state, set_rng_state
from genlab.training import precision as amp
from genlab.training.logging import MetricsLog

PREVIEW_SEED = 1234  # fixed noise for the sample grids, the same in every run
PREVIEW_COUNT = 64
LABELLED_SEED = 7_919  # the labelled stream's seed is the run's plus this


def steps_for_epochs(epochs: float, data: Dataset, batch_size: int, batches_per_step: int) -> int:
    batches_per_epoch = max(1, data.train.shape[0] // min(batch_size, data.train.shape[0]))
    return max(1, math.ceil(epochs * batches_per_epoch / batches_per_step))


class Trainer:
    def __init__(self, model: GenerativeModel, data: Dataset, cfg: TrainConfig, run_dir: Path,
                 device: torch.device, meta: dict):
        self.memory_format = memory_format(cfg.memory_format, model, device)
        self.model = model.to(device, memory_format=self.memory_format)
        self.data = data
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.device = device
        chosen, why = amp.resolve(cfg.precision, device)
        self.precision = amp.Precision(chosen, device)
        # what this process chose, in every checkpoint's meta.json (and on stderr at the start)
        self.meta = {**meta, "precision": chosen, "precision_reason": why, "threads": torch.get_num_threads(),
                     "memory_format": str(self.memory_format).removeprefix("torch.")}
        self.optimizers = model.configure_optimizers()
        self.precision.attach(self.optimizers)
        rank, world = rank_and_world_size()
        if world > 1 and self.precision.name == "fp16":  # ranks could disagree on skipping a step
            raise ConfigError("precision fp16 is not supported under torchrun; use bf16 or fp32")
        if world > 1:  # data parallel (genlab.training.distributed): equal weights, averaged gradients
            distributed.broadcast_module(self.model)
            distributed.attach(self.optimizers)
            if rank > 0:  # each rank its own noise; rank 0 draws what a single process would
                torch.manual_seed(cfg.seed + 1_000_003 * rank)
        self.stream = BatchStream(data.train, data.train_targets, cfg.batch_size, seed=cfg.seed,
                                  device=device, binarize=data.binarize, rank=rank, world_size=world,
                                  memory_format=self.memory_format)
        if data.labelled is not None and model.labelled_stream:  # its own seed: the same batches whatever the main stream does
            kept = data.labelled
            self.stream.labelled = BatchStream(data.train[kept], data.train_labels[kept], cfg.batch_size,
                                               seed=cfg.seed + LABELLED_SEED, device=device, binarize=data.binarize,
                                               rank=rank, world_size=world, memory_format=self.memory_format)
        if self.stream.batch_size < cfg.batch_size and is_main_process():
            print(f"genlab: note: batch_size {cfg.batch_size:,} is more than the {data.train.shape[0]:,} training "
                  f"examples{' per process' if world > 1 else ''}; every batch is {self.stream.batch_size:,} examples",
                  file=sys.stderr)
        self.step = 0
        # the open logging window: sums of the named losses over the n steps since the last line
        self.window: dict[str, Any] = {"sums": {}, "n": 0}
        self.saved_steps: list[int] = []  # checkpoints written by this process
        self.preview_x = data.test[:PREVIEW_COUNT // 2 if data.kind == "image" else 2000].to(device)

    # -- resume -----------------------------------------------------------------------------
    def restore(self, checkpoint: ckpt.Checkpoint) -> None:
        """Weights, optimizers, data position and RNG of a checkpoint: the next step is exactly
        the one the uninterrupted run would have taken."""
        weights = ckpt.load_weights(checkpoint)
        load_state_dict_strict(self.model, weights, checkpoint.path)
        state = ckpt.load_state(checkpoint)
        try:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            self.stream.load_state_dict(state["data"])
            self.precision.load_state_dict(state.get("precision", {}))
            set_rng_state(state["rng"], self.device)
            window = state.get("log_window", {"sums": {}, "n": 0})
            self.window = {"sums": {k: v.to(self.device) for k, v in window["sums"].items()}, "n": int(window["n"])}
        except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as e:
            raise CheckpointError(f"checkpoint {checkpoint.path} does not match this model or data ({e})") from None
        rank, world = rank_and_world_size()
        saved_world = len(state.get("ranks", [None]))
        if saved_world != world:
            raise CheckpointError(f"checkpoint {checkpoint.path} was written by {saved_world} process(es); "
                                  f"resume it with {saved_world}, not {world} (the batches would differ)")
        if world > 1:  # this rank's own noise and binarisation draws
            own = state["ranks"][rank]
            set_rng_state(own["rng"], self.device)
            self.stream.noise.set_state(own["noise"])
            window = own.get("log_window", {"sums": {}, "n": 0})  # a line is the mean of every rank's window
            self.window = {"sums": {k: v.to(self.device) for k, v in window["sums"].items()}, "n": int(window["n"])}
        self.step = checkpoint.step

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, target_steps: int) -> None:
        cfg = self.cfg
        main = is_main_process()
        stop, log, bar = GracefulStop(), None, None
        world = rank_and_world_size()[1]
        sums, n = self.window["sums"], self.window["n"]
        try:
            log = MetricsLog(self.run_dir, cfg.tensorboard and main, resume_step=self.step) if main else None
            if cfg.progress and main:
                m = self.meta
                print(f"genlab: {m['precision']} ({m['precision_reason']}), {m['threads']} thread(s)"
                      f"{' (' + m['threads_reason'] + ')' if m.get('threads_reason') else ''}, "
                      f"{m['memory_format']}", file=sys.stderr, flush=True)
            bar = _progress(self.step, target_steps, cfg.progress and main)
            t0, drawn0 = time.perf_counter(), self.stream.batches_drawn
            self.model.train()
            while self.step < target_steps:
                with self.precision.autocast():
                    out = self.model.train_step(self.stream, self.optimizers, self.step)
                self.step += 1
                for k, v in out.items():  # device tensors: no host sync here
                    sums[k] = sums[k] + v if k in sums else v.detach().clone()
                n += 1
                bar.update(1)
                last = self.step == target_steps
                stopping = stop.requested if world == 1 else (  # ranks agree, at log steps
                    self.step % cfg.log_every == 0 and distributed.any_rank(stop.requested, self.device))
                checkpoint_now = last or stopping or (
                    cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0)
                # lines at multiples of log_every (and the last step) only: a window still open at a
                # checkpoint is saved with it, so a resumed run logs the lines of an unstopped one
                if self.step % cfg.log_every == 0 or last:
                    dt = time.perf_counter() - t0
                    rate = (self.stream.batches_drawn - drawn0) * self.stream.global_batch / max(dt, 1e-9)
                    values = self._mean_checked(sums, n)
                    values["images_per_s"] = round(rate, 1)
                    if log:
                        log.log(self.step, values)
                    bar.set_postfix({k: _fmt(v) for k, v in values.items()}, refresh=False)
                    if self.step % cfg.log_every == 0:  # a last line off the grid leaves its window open
                        sums, n = {}, 0
                        t0, drawn0 = time.perf_counter(), self.stream.batches_drawn
                if main and (last or (cfg.sample_every and self.step % cfg.sample_every == 0)):
                    self.write_previews(log)
                if checkpoint_now:
                    self.window = {"sums": sums, "n": n}
                    path = self.save()
                if stopping:  # Ctrl-C or a kill: stopped between two steps, state saved
                    raise Stopped(stop.signal_name, self.step, target_steps, self.run_dir, path)
            if main:
                self.write_gif()
        finally:
            stop.restore()
            if bar is not None:
                bar.close()
            if log is not None:
                log.close()

    def _mean_checked(self, sums: dict[str, torch.Tensor], n: int) -> dict[str, float]:
        """One host sync for all named losses; a NaN or inf stops the run."""
        if not sums:
            return {}
        names = list(sums)
        means = distributed.mean_over_ranks(torch.stack([sums[k].float() for k in names]) / n).tolist()
        values = dict(zip(names, means))
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"loss '{bad[0]}' became {values[bad[0]]} between steps {self.step - n + 1} and {self.step}"
                + self._last_good_note())
        return values

    def _last_good_note(self) -> str:
        try:
            found = ckpt.find_checkpoint(self.run_dir)
            return f"; the last good checkpoint (step {found.step}) is kept in {found.path.parent}"
        except CheckpointError:
            return "; no checkpoint had been written (try a smaller learning rate)"

    # -- outputs ----------------------------------------------------------------------------
    def save(self) -> Path | None:
        """A checkpoint of this step, written by rank 0; every rank must call it (under torchrun
        it gathers each rank's random state). Returns the checkpoint's path on rank 0."""
        params = [p for p in self.model.state_dict().values() if p.is_floating_point()]
        if params and not bool(torch.stack([p.isfinite().all() for p in params]).all()):
            raise TrainingDiverged(f"weights became NaN or inf by step {self.step}" + self._last_good_note())
        state = {
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "data": self.stream.state_dict(),
            "rng": rng_state(self.device),
            "log_window": {"sums": {k: v.detach().cpu() for k, v in self.window["sums"].items()},
                           "n": self.window["n"]},
        }
        if self.precision.scalers:
            state["precision"] = self.precision.state_dict()
        if distributed.active():
            distributed.broadcast_module(self.model)  # rank 0's batch-norm statistics everywhere
            state["ranks"] = distributed.gather_objects({"rng": rng_state(self.device),
                                                         "noise": self.stream.noise.get_state(),
                                                         "log_window": state["log_window"]})
            if not is_main_process():
                return None
        path = ckpt.save_checkpoint(self.run_dir, self.step, self.model.state_dict(), state, self.meta,
                                    keep=self.cfg.keep_checkpoints)
        self.saved_steps.append(self.step)
        return path

    def write_field(self, samples: torch.Tensor) -> Path | None:
        """D's field under real and generated points (2-D data, models with a ``field``)."""
        if self.data.kind != "points" or self.data.shape != (2,) or not hasattr(self.model, "field"):
            return None
        from genlab.viz import draw_model_field

        return draw_model_field(self.run_dir / "samples" / f"field-step{self.step:08d}.png", self.model,
                                self.data.test[:2000], samples[:2000],
                                title=f"{self.model.name} ({self.model.config.loss}), step {self.step}")

    def write_gif(self) -> Path | None:
        """An animated GIF of the run's field pictures, up to the current step."""
        frames = [p for p in sorted((self.run_dir / "samples").glob("field-step*.png"))
                  if int(p.stem[len("field-step"):]) <= self.step]
        if not frames:
            return None
        from genlab.viz import make_gif

        return make_gif(frames, self.run_dir / "samples" / "training.gif")

    def write_previews(self, log: MetricsLog | None) -> list[Path]:
        was_training = self.model.training
        self.model.eval()
        try:
            previews = self.model.preview(self.preview_x, PREVIEW_SEED)
            field = self.write_field(previews["samples"]) if "samples" in previews else None
        finally:
            self.model.train(was_training)
        paths = [field] if field else []
        folder = self.run_dir / "samples"
        for name, images in previews.items():
            path = folder / f"{name}-step{self.step:08d}.png"
            if self.data.kind == "image":
                paths.append(save_grid(images, path, nrow=8, scale=upscale_for_display(images)))
                if log:
                    log.image(name, make_grid(images, 8), self.step)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                paths.append(save_points(images, path, reference=self.data.test[:2000],
                                         title=f"{name}, step {self.step}"))
        return paths


def memory_format(name: str, model: torch.nn.Module, device: torch.device) -> torch.memory_format:
    """channels_last for models with 2-D convolutions on CPU and CUDA under ``auto`` (the same
    maths; oneDNN and cuDNN run it faster), else contiguous."""
    convs = any(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in model.modules())
    if name == "channels_last" and not convs:
        raise ConfigError("memory_format=channels_last applies to convolutional networks; this model has none")
    if name == "channels_last" or (name == "auto" and convs and device.type in ("cpu", "cuda")):
        return torch.channels_last
    return torch.contiguous_format


class GracefulStop:
    """While training, SIGINT and SIGTERM only ask the loop to stop after the current step (so the
    checkpoint it then writes is consistent); a second signal interrupts at once."""

    def __init__(self):
        self.requested = False
        self.signal_name = ""
        self._previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: keep the default behaviour
                pass

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def load_state_dict_strict(model: torch.nn.Module, weights: dict[str, torch.Tensor], where: Any) -> None:
    # runs saved before genlab.models.ema carry torch AveragedModel's counter, which EMA does not need;
    # runs saved before genlab.models.conditions kept the clusters on the GAN itself
    renamed = {"centroids": "condition.centroids", "cluster_p": "condition.p"}
    weights = {renamed.get(k, k): v for k, v in weights.items() if not k.endswith("ema_generator.n_averaged")}
    for prefix, module in model.named_modules():  # buffers whose size the data decides (a tag condition's table)
        for name in getattr(module, "resizable_buffers", ()):
            key = f"{prefix}.{name}" if prefix else name
            if key in weights:
                setattr(module, name, torch.empty_like(weights[key], device=getattr(module, name).device))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights) if expected[k].shape != weights[k].shape)
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else
                  f"unexpected {unexpected[:3]}" if unexpected else f"shape mismatch in {wrong[:3]}")
        raise CheckpointError(f"checkpoint {where} does not fit this model ({detail}); is it a run of another model or config?")
    model.load_state_dict(weights)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _progress(initial: int, total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                unit="step", mininterval=0.5)
