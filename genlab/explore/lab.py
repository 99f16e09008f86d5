"""The live 2-D lab of ``genlab explore``: a real genlab GAN trained in the server, shown as frames.

GAN Lab (Kahng et al. 2018, https://poloclub.github.io/ganlab/) trains a JavaScript copy of a GAN in
the browser; here the model is genlab's own: the config comes from genlab's config path
(:func:`genlab.api.build_config`, the preset's defaults under the lab's choices), the model from
:func:`genlab.api.build_model`, the data from :func:`genlab.api.load_data` (drawn or uploaded points
become an N x 2 ``.npy`` point file that the loader reads), and the steps are
``model.train_step`` on the :class:`~genlab.training.trainer.Trainer`'s optimizers and batch
stream, so a session's step ``n`` is the step ``n`` of ``genlab train`` with the config that
:meth:`LabSession.config_yaml` writes, and :meth:`LabSession.export` writes a checkpoint in genlab's
format that ``genlab train --resume`` continues exactly.

A :class:`LabSession` trains in a background thread (torch releases the GIL in its kernels):
``steps_per_frame`` steps, then a frame (a JSON-safe dict, see :meth:`LabSession._make_frame`).
Every session draws its noise from a torch RNG state of its own, swapped into the global RNG
for each step under one process-wide lock, so sessions are reproducible side by side and the
process's own RNG state is left as it was. :class:`LabManager` keeps at most
:data:`MAX_SESSIONS` of them; :func:`lab_routes` serves them over HTTP (Starlette).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import random
import re
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import yaml

from genlab import __version__
from genlab.api import CONFIG_FILE, build_config, build_model, load_data, run_meta
from genlab.config import RunConfig, replace, write_yaml
from genlab.errors import ConfigError, GenlabError
from genlab.files import RunLock
from genlab.limits import MAX_SEED, real, whole
from genlab.metrics.modes import evaluate_points
from genlab.models import get_model_class
from genlab.models.gan_losses import LOSSES
from genlab.training.trainer import Trainer, load_state_dict_strict
from genlab.viz.lab2d import BCE_LOSSES, data_bounds, field_and_grad, grid

DATA_SETS = ("ring8", "grid25", "spiral", "points")
# GAN presets that train on 2-D points, and the overrides that make them do so (the image
# presets' dcgan networks replaced by the mlp ones); dcgan on mlp is the plain GAN at the papers' values
PRESETS: dict[str, tuple[str, ...]] = {"gan": (), "dcgan": ("net=mlp",), "lsgan": ("net=mlp",),
                                       "wgan": ("net=mlp",), "wgan-gp": ("net=mlp",)}
DEFAULTS: dict[str, Any] = {"data": "ring8", "preset": "gan", "loss": None, "d_steps": None, "lr_d": None,
                            "lr_g": None, "batch_size": None, "seed": 0, "steps_per_frame": 3}
SETTABLE = ("d_steps", "loss", "steps_per_frame", "lr_d", "lr_g", "lr")
MIN_POINTS, MAX_POINTS, MAX_COORD = 16, 100_000, 1e6
GRID = 40  # field values per side
N_REAL = N_FAKE = 512  # points a frame carries
N_ARROWS = 256
METRIC_SAMPLES, METRICS_EVERY = 2000, 50  # mode metrics on this many samples, every this many steps
SIG = 4  # significant digits of a frame's numbers
MAX_SESSIONS = 4
POINTS_FILE = "points.npy"
CPU = torch.device("cpu")

_RNG_LOCK = threading.Lock()  # the global torch RNG holds one session's state at a time
_LIVE: "weakref.WeakSet[LabSession]" = weakref.WeakSet()


@atexit.register
def _close_live() -> None:
    """Sessions still open when the process exits: their threads stopped between two steps (a
    daemon thread inside a torch kernel at exit aborts the process), their files removed."""
    for session in list(_LIVE):
        session.close()


class LabError(ConfigError):
    """A bad lab setting, action or export name (HTTP 400)."""


class UnknownSession(GenlabError):
    """No live lab session has this id (HTTP 404)."""


# -- settings -------------------------------------------------------------------------------------


def check_settings(settings: Any) -> dict[str, Any]:
    """The lab's settings completed with :data:`DEFAULTS` and checked; ``points`` becomes a
    float32 (N, 2) array. One LabError for the first problem found."""
    if not isinstance(settings, dict):
        raise LabError("lab settings must be a JSON object")
    unknown = sorted(set(settings) - set(DEFAULTS) - {"points"})
    if unknown:
        raise LabError(f"unknown lab setting {unknown[0]!r}; known: {', '.join([*DEFAULTS, 'points'])}")
    s = {**DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
    if s["data"] not in DATA_SETS:
        raise LabError(f"data must be one of {', '.join(DATA_SETS)}, got {_short(s['data'])}")
    if s["preset"] not in PRESETS:
        raise LabError(f"preset must be one of {', '.join(PRESETS)} (the GANs that train on points), "
                       f"got {_short(s['preset'])}")
    if (s["data"] == "points") != ("points" in s):
        raise LabError("data 'points' needs its points (a list of [x, y])" if s["data"] == "points" else
                       f"points go with data 'points', not with {s['data']!r}")
    if "points" in s:
        s["points"] = check_points(s["points"])
    return {**s, **_check_numbers(s)}


def _check_numbers(s: dict[str, Any]) -> dict[str, Any]:
    """The numeric settings (and the loss) that were given, checked and typed."""
    try:
        return _numbers(s)
    except LabError:
        raise
    except ConfigError as e:  # genlab.limits' message, as a lab error
        raise LabError(str(e)) from None


def _numbers(s: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"seed": whole(s["seed"], "seed", 0, MAX_SEED),
                           "steps_per_frame": whole(s["steps_per_frame"], "steps_per_frame", 1, 100)}
    if s["loss"] is not None and s["loss"] not in LOSSES:
        raise LabError(f"loss must be one of {', '.join(LOSSES)}, got {_short(s['loss'])}")
    if s["d_steps"] is not None:
        out["d_steps"] = whole(s["d_steps"], "d_steps", 1, 10)
    for name in ("lr_d", "lr_g"):
        if s[name] is not None:
            out[name] = real(s[name], name, above=0, hi=1)
    if s["batch_size"] is not None:
        out["batch_size"] = whole(s["batch_size"], "batch_size", 8, 4096)
    return out


def check_points(points: Any) -> np.ndarray:
    """Drawn or uploaded points: a list of [x, y] -> float32 (N, 2), MIN_POINTS <= N <= MAX_POINTS."""
    try:
        arr = np.array(points) if isinstance(points, (list, tuple)) else None
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim != 2 or arr.shape[1:] != (2,) or arr.dtype.kind not in "iuf":
        raise LabError("points must be a list of [x, y] pairs of numbers")
    if not MIN_POINTS <= len(arr) <= MAX_POINTS:
        raise LabError(f"give {MIN_POINTS:,} to {MAX_POINTS:,} points, got {len(arr):,}")
    arr = arr.astype(np.float64)
    if not (np.isfinite(arr).all() and np.abs(arr).max() <= MAX_COORD):
        raise LabError(f"points must be finite numbers within +-{MAX_COORD:g}")
    if np.ptp(arr, axis=0).max() <= 1e-6 * max(1.0, float(np.abs(arr).max())):
        raise LabError("the points are all in one place: give points that spread out")
    return arr.astype(np.float32)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def session_config(settings: dict[str, Any], data_name: str) -> RunConfig:
    """The genlab config of checked settings: the preset's (``genlab train PRESET``), with the
    lab's choices as ``key=value`` overrides, on the CPU; ``data_name`` a set or a point file."""
    overrides = list(PRESETS[settings["preset"]])
    overrides += [f"model.{k}={json.dumps(settings[k])}" for k in ("loss", "d_steps", "lr_d", "lr_g")
                  if settings.get(k) is not None]
    return build_config(settings["preset"], overrides=overrides, data=data_name,
                        batch_size=settings.get("batch_size"), seed=settings["seed"], device="cpu")


# -- numbers for JSON -----------------------------------------------------------------------------


def rounded(values: Any, digits: int = SIG) -> list:
    """An array (or tensor) as nested lists of floats to ``digits`` significant digits (their
    shortest repr is then short); NaN and infinities become None (JSON null)."""
    a = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float64)
    finite = np.isfinite(a)
    mag = np.where(finite & (a != 0), np.abs(a), 1.0)
    places = (digits - 1 - np.floor(np.log10(mag))).astype(np.int64)
    up = np.where(places >= 0, 10.0 ** np.clip(places, 0, 300), 1.0)  # k / 10^p: the double nearest to it
    down = np.where(places < 0, 10.0 ** np.clip(-places, 0, 300), 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.round(np.where(finite, a, 0.0) * up / down) * down / up
    if finite.all():
        return out.tolist()
    out = out.astype(object)
    out[~finite] = None
    return out.tolist()


def _number(x: float) -> float | None:
    return rounded(np.array([x]))[0]


# -- the session ----------------------------------------------------------------------------------


class LabSession:
    """One live lab: a genlab GAN on 2-D points, trained by a background thread between frames.

    ``settings``: see :data:`DEFAULTS` (None or absent: the preset's value) and ``points``
    (for data "points"). ``run``: start training at once (else paused at step 0).
    """

    def __init__(self, settings: dict[str, Any], *, run: bool = True):
        s = check_settings(settings)
        self.id = secrets.token_hex(8)
        self._dir = Path(tempfile.mkdtemp(prefix="genlab-lab-"))  # the point file; the trainer's run_dir
        try:
            self._points = s.pop("points", None)
            if self._points is not None:
                np.save(self._dir / POINTS_FILE, self._points)
            self.cfg = session_config(s, str(self._dir / POINTS_FILE) if self._points is not None else s["data"])
            self.data = load_data(self.cfg.data)
            self.settings = self._resolved(s)
            self._view_setup()
            self._state = threading.Condition(threading.RLock())  # the model: one writer at a time
            self._frames = threading.Condition()
            self._frame: dict[str, Any] = {}
            self._seq, self._pending, self._running, self.closed = 0, 0, run, False
            self._threads = torch.get_num_threads()  # the training thread's too (a new thread inherits it)
            self._fresh()
            self._publish(self._make_frame())
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        _LIVE.add(self)  # closed at exit if not before
        self._thread = threading.Thread(target=self._loop, name=f"genlab-lab-{self.id}", daemon=True)
        self._thread.start()

    def _resolved(self, s: dict[str, Any]) -> dict[str, Any]:
        """The settings with the preset's values filled in (what the session really runs)."""
        c = self.cfg.model_config
        out = {**s, "loss": c.loss, "d_steps": c.d_steps, "lr_d": c.lr_d, "lr_g": c.lr_g,
               "batch_size": self.cfg.train.batch_size}
        if self._points is not None:
            out["n_points"] = len(self._points)
        return out

    def _view_setup(self) -> None:
        """What every frame shares: fixed real points (<= N_REAL of train and test), the square
        bounds around all of them (genlab.viz.lab2d.data_bounds) and the field's GRID x GRID points."""
        everything = torch.cat([self.data.train, self.data.test])
        g = torch.Generator().manual_seed(self.settings["seed"])
        self._real = everything[torch.randperm(len(everything), generator=g)[:N_REAL]]
        self._bounds = data_bounds(everything)
        self._grid = grid(self._bounds, GRID)[2]  # (GRID * GRID, 2), row-major, row 0 at y min

    # -- model, optimizers, data stream and RNG --------------------------------------------------
    def _fresh(self) -> None:
        """Step 0: the model, its optimizers, the batch stream and the RNG that `genlab train`
        makes for this config (the seed's initial weights), and the fixed noise of the frames."""
        self._rng = None
        with self._own_rng():
            net = build_model(self.cfg, self.data.spec())  # seeds the RNG (inside _own_rng: the session's)
            net.prepare(self.data)
            self.trainer = Trainer(net, self.data, self.cfg.train, self._dir, CPU, self._meta())
        self._after_rebuild()
        self._out: dict[str, torch.Tensor] = {}
        self._metrics: dict[str, Any] = {}
        self._metrics_step: int | None = None
        self._error: str | None = None
        self._replayable = True  # only whole train steps with unchanged settings so far

    def _after_rebuild(self) -> None:
        self.model = self.trainer.model.train()
        g = torch.Generator().manual_seed(self.settings["seed"])
        self._z = self.model.prior(N_FAKE, generator=g)  # the frames' fixed latent codes (N_FAKE, latent_dim)

    def _meta(self) -> dict:
        return run_meta(self.cfg, self.data.spec(), "the lab's process")

    @contextlib.contextmanager
    def _own_rng(self) -> Iterator[None]:
        """The global torch RNG holds this session's state inside; numpy's, Python's and torch's
        global states are as before afterwards (genlab's seeding touches all three)."""
        with _RNG_LOCK:
            saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
            if self._rng is not None:
                torch.set_rng_state(self._rng)
            try:
                yield
            finally:
                self._rng = torch.get_rng_state()
                torch.set_rng_state(saved[0])
                np.random.set_state(saved[1])
                random.setstate(saved[2])

    @property
    def step(self) -> int:
        """Generator updates so far: genlab's step (a train step is K D updates, then one G update)."""
        return self.trainer.step

    def _train_step(self) -> None:
        """One genlab train step, exactly as Trainer.fit takes it."""
        t = self.trainer
        with self._own_rng(), t.precision.autocast():
            self._out = self.model.train_step(t.stream, t.optimizers, t.step)
        t.step += 1

    def _d_step(self) -> None:
        """One discriminator update on a fresh batch (the first half of Algorithm 13.1's step)."""
        t, net = self.trainer, self.model
        with self._own_rng(), t.precision.autocast():
            net.set_lr(t.optimizers, t.step)
            batch = next(t.stream)
            self._out = {**self._out, **net.discriminator_step(net.to_model(batch.x), batch.y, t.optimizers["d"],
                                                              t.step)}
        self._replayable = False

    def _g_step(self) -> None:
        """One generator update on a batch of noise; it counts as a step (a G update)."""
        t, net = self.trainer, self.model
        with self._own_rng(), t.precision.autocast():
            net.set_lr(t.optimizers, t.step)
            self._out = {**self._out, **net.generator_step(t.stream.batch_size, t.optimizers["g"], t.step)}
        t.step += 1
        self._replayable = False

    def _rebuild(self, settings: dict[str, Any]) -> str:
        """New settings on the same weights: the model is built again from the new config (its
        networks do not depend on the loss, K or the learning rates), the weights, optimizer
        moments, batch stream position and step carried over. Returns what was done."""
        cfg = session_config(settings, self.cfg.data.name)
        old = self.trainer
        with _RNG_LOCK, torch.random.fork_rng(devices=[]):  # the throw-away initial weights draw no session noise
            net = get_model_class(cfg.model)(cfg.model_config, self.data.spec())
        load_state_dict_strict(net, old.model.state_dict(), "the lab session")
        self.cfg = cfg
        trainer = Trainer(net, self.data, cfg.train, self._dir, CPU, self._meta())
        for name, opt in trainer.optimizers.items():
            opt.load_state_dict(old.optimizers[name].state_dict())  # the lr is set again at each step
        trainer.stream.load_state_dict(old.stream.state_dict())
        trainer.step = old.step
        self.trainer = trainer
        self._after_rebuild()
        self._replayable = self._replayable and self.step == 0
        self._metrics_step = None
        return ("kept G's and D's weights, the optimizers' moments and the data position; "
                "the next step uses the new settings")

    # -- the training thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._state:
                while (not self._running or self._pending) and not self.closed:
                    self._state.wait()
                if self.closed:
                    return
                try:
                    for _ in range(self.settings["steps_per_frame"]):
                        self._train_step()
                        if self._pending or self.closed:  # a control waits: let it in
                            break
                    frame = self._make_frame()
                except Exception as e:  # a bug or a broken setting: stop, say so, keep serving
                    self._running = False
                    self._error = f"training stopped: {type(e).__name__}: {e}"
                    frame = {**self._frame, "running": False, "error": self._error}
                self._publish(frame)  # in order with the frames of controls

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """The model to this caller, the training thread held off after its current step."""
        with self._frames:
            self._pending += 1
        try:
            with self._state:
                yield
                self._state.notify_all()
        finally:
            with self._frames:
                self._pending -= 1
            with self._state:
                self._state.notify_all()

    # -- frames ----------------------------------------------------------------------------------
    def _make_frame(self) -> dict[str, Any]:
        """The frame of the current state (caller holds the model). Real and fake points (<= 512
        each, data coordinates; fake = G (or its EMA, what genlab samples) on fixed noise), D's
        field on a GRID x GRID grid (sigmoid of the score for ns/minimax, the raw score else),
        arrows [x, y, dx, dy] at <= 256 fake points with (dx, dy) = grad_x of D's score (where G
        moves them, as in GAN Lab), mode metrics (ring8, grid25), the last step's losses."""
        net, loss = self.model, self.cfg.model_config.loss
        net.eval()
        try:
            score = net.field(self._grid)
            fake = net.decode(self._z)
            _, grad = field_and_grad(net, fake[:N_ARROWS])
            metrics = self._mode_metrics()
        finally:
            net.train()
        values = torch.sigmoid(score) if loss in BCE_LOSSES else score
        losses = dict(zip(self._out, torch.stack([v.float() for v in self._out.values()]).tolist())) \
            if self._out else {}
        bad = [k for k, v in losses.items() if not np.isfinite(v)]
        if bad and self._error is None:
            self._running = False
            self._error = (f"{bad[0]} became {losses[bad[0]]} by step {self.step}: reset, or set a smaller "
                           "learning rate")
        return {"step": self.step, "running": self._running, "settings": dict(self.settings),
                "real": rounded(self._real), "fake": rounded(fake),
                "field": {"bounds": rounded(self._bounds), "n": GRID, "values": rounded(values),
                          "label": "D(x)" if loss in BCE_LOSSES else "critic score"},
                "arrows": rounded(torch.cat([fake[:N_ARROWS], grad], 1)), "metrics": dict(self._metrics),
                "losses": {k: _number(v) for k, v in losses.items()}, "error": self._error}

    def _mode_metrics(self) -> dict[str, Any]:
        """genlab's mode metrics (modes, hq, reverse_kl: genlab.metrics.modes) of METRIC_SAMPLES
        samples against the set's known modes, again every METRICS_EVERY steps while running and
        at every new step while paused; {} for sets without known modes."""
        if self.data.modes is None:
            return {}
        due = self._metrics_step is None or (self.step != self._metrics_step and (
            not self._running or self.step - self._metrics_step >= METRICS_EVERY))
        if due:
            g = torch.Generator().manual_seed(self.settings["seed"])
            r = evaluate_points(self.model.sample(METRIC_SAMPLES, generator=g).cpu(), self.data)
            self._metrics = {"modes": r["modes"], "n_modes": r["n_modes"], "hq": _number(r["hq"]),
                             "reverse_kl": _number(r["reverse_kl"]), "step": self.step}
            self._metrics_step = self.step
        return self._metrics

    def _publish(self, frame: dict[str, Any]) -> None:
        with self._frames:
            self._seq += 1
            self._frame = {"seq": self._seq, **frame}
            self._frames.notify_all()

    def frame(self) -> dict[str, Any]:
        """The latest frame (a dict shared with other readers: do not change it)."""
        with self._frames:
            return self._frame

    def wait_frame(self, after_seq: int, timeout: float) -> dict[str, Any] | None:
        """The latest frame once its ``seq`` is past ``after_seq``; None after ``timeout`` seconds
        without one, or when the session is closed."""
        deadline = time.monotonic() + timeout
        with self._frames:
            while self._frame["seq"] <= after_seq and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._frames.wait(left)
            return None if self.closed else self._frame

    @property
    def running(self) -> bool:
        return self._running

    # -- control ---------------------------------------------------------------------------------
    def control(self, action: str, **kw: Any) -> dict[str, Any]:
        """pause, resume, step (one train step: K D updates, one G update), step_d (one D update),
        step_g (one G update), reset (the seed's initial weights, step 0, same settings), set
        (``d_steps``, ``loss``, ``steps_per_frame``, ``lr_d``, ``lr_g``, ``lr`` for both). The single
        steps pause the session. Returns the new frame; ``set`` adds what it did under "note"."""
        if action not in ("pause", "resume", "step", "step_d", "step_g", "reset", "set"):
            raise LabError(f"unknown action {_short(action)}; use pause, resume, step, step_d, step_g, reset or set")
        if kw and action != "set":
            raise LabError(f"action {action} takes no settings (got {', '.join(sorted(kw))})")
        if self.closed:
            raise UnknownSession(f"lab session {self.id} is closed")
        note = None
        with self._exclusive():
            if action in ("step", "step_d", "step_g", "pause"):
                self._running = False
            if action == "step":
                self._train_step()
            elif action == "step_d":
                self._d_step()
            elif action == "step_g":
                self._g_step()
            elif action == "reset":
                self._fresh()
            elif action == "resume":
                self._running, self._error = True, None
            elif action == "set":
                note = self._set(kw)
            frame = self._make_frame()
            self._publish(frame)
        return {**self.frame(), **({"note": note} if note else {})}

    def _set(self, kw: dict[str, Any]) -> str:
        unknown = sorted(set(kw) - set(SETTABLE))
        if not kw or unknown:
            raise LabError(f"set takes {', '.join(SETTABLE)}" + (f"; not {unknown[0]!r}" if unknown else ""))
        lr = kw.pop("lr", None)
        kw = {**({"lr_d": lr, "lr_g": lr} if lr is not None else {}), **kw}
        merged = {**self.settings, **kw}
        checked = _check_numbers({**DEFAULTS, **{k: merged[k] for k in DEFAULTS}})
        new = {**merged, **checked}
        if set(kw) <= {"steps_per_frame"}:
            self.settings = new
            return f"steps_per_frame is now {new['steps_per_frame']}"
        note = self._rebuild(new)
        self.settings = self._resolved(new)
        return note

    # -- reproducing and exporting -----------------------------------------------------------------
    def _config_at(self, data_name: str, steps: int) -> dict[str, Any]:
        cfg = self.cfg
        run = RunConfig(cfg.model, cfg.model_config, replace(cfg.data, name=data_name), replace(cfg.train, steps=steps))
        return {"genlab_version": __version__, **run.to_dict()}

    def config_yaml(self) -> str:
        """A genlab config (YAML) that trains this session's model from scratch to its current
        step (the preset's steps at step 0) with ``genlab train PRESET --config FILE``."""
        with self._exclusive():
            step, model, replayable, s = self.step, self.cfg.model, self._replayable, dict(self.settings)
            custom = self._points is not None
            body = self._config_at(POINTS_FILE if custom else self.cfg.data.name, step or self.cfg.train.steps)
        lines = [f"genlab explore lab: {model} (loss {s['loss']}, K = {s['d_steps']}) on "
                 f"{'drawn points' if custom else s['data']}, seed {s['seed']}, written at step {step}.",
                 f"Train the same model from scratch (on this machine with {self._threads} thread(s), the "
                 "session's weights at this step, bit for bit):",
                 f"  genlab train {model} --config FILE --threads {self._threads} --out runs/lab-{s['data']}",
                 "(--steps N trains further; every other key can be overridden too, e.g. d_steps=2)."]
        if not replayable:
            lines.append("The session also took single D or G steps, or changed settings on the way: this file "
                         "holds the settings it has now, and a run from it takes whole steps only.")
        if custom:
            lines += [f"data.name is a file of the {len(self._points):,} N x 2 points drawn or uploaded in the lab: "
                      f"Export writes it into the run directory ({POINTS_FILE}); give its path here or with "
                      "--data FILE."]
        return "".join(f"# {line}\n" for line in lines) + yaml.safe_dump(body, sort_keys=False)

    def export(self, runs_dir: str | Path, name: str | None = None) -> Path:
        """Write the session as a run directory ``runs_dir/name`` (default lab-DATA-LOSS-stepN):
        config.yaml, a checkpoint in genlab's format (weights, optimizers, data position, RNG),
        a field picture, and for drawn points the point file the config names. ``genlab.load``
        loads it and ``genlab train --resume DIR --steps N`` continues it."""
        runs_dir = Path(runs_dir)
        with self._exclusive():
            path = runs_dir / (check_run_name(name) if name is not None else self._free_name(runs_dir))
            runs_dir.mkdir(parents=True, exist_ok=True)
            try:
                path.mkdir()
            except FileExistsError:
                raise LabError(f"{path.name!r} already exists in {runs_dir}: choose another name") from None
            try:
                with RunLock(path):
                    self._write_run(path)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
        return path

    def _write_run(self, path: Path) -> None:
        t = self.trainer
        data_name = self.cfg.data.name
        if self._points is not None:
            data_name = str((path / POINTS_FILE).resolve())
            np.save(path / POINTS_FILE, self._points)
        write_yaml(path / CONFIG_FILE, self._config_at(data_name, self.step))
        meta = t.meta
        t.run_dir, t.meta = path, {**meta, "data": data_name}
        try:
            with self._own_rng():  # the checkpoint's RNG is the session's
                t.save()
            t.write_previews(None)
        finally:
            t.run_dir, t.meta = self._dir, meta
            self.model.train()

    def _free_name(self, runs_dir: Path) -> str:
        base = f"lab-{self.settings['data']}-{self.settings['loss']}-step{self.step}"
        name, i = base, 1
        while (runs_dir / name).exists():
            i += 1
            name = f"{base}-{i}"
        return name

    def close(self) -> None:
        """Stop the training thread and remove the session's temporary files."""
        with self._frames:
            self.closed = True
            self._frames.notify_all()
        with self._state:
            self._state.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        shutil.rmtree(self._dir, ignore_errors=True)


NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


def check_run_name(name: Any) -> str:
    """A run name for export: one folder name of letters, digits, '.', '_' and '-'."""
    if not isinstance(name, str) or "/" in name or "\\" in name or ".." in name:
        raise LabError(f"a run name is one folder name, without '/', '\\' or '..': got {_short(name)}")
    if not NAME.fullmatch(name):
        raise LabError(f"a run name has up to 100 letters, digits, '.', '_' and '-', not starting with '.' "
                       f"or '-': got {_short(name)}")
    return name


# -- sessions -------------------------------------------------------------------------------------


class LabManager:
    """The live sessions of a server, at most MAX_SESSIONS (the oldest is closed beyond that);
    exports go under ``runs_dir``."""

    def __init__(self, runs_dir: str | Path, max_sessions: int = MAX_SESSIONS):
        self.runs_dir = Path(runs_dir)
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, LabSession] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, settings: dict[str, Any]) -> LabSession:
        session = LabSession(settings)
        with self._lock:
            self._sessions[session.id] = session
            old = [self._sessions.popitem(last=False)[1] for _ in range(len(self._sessions) - self.max_sessions)]
        for s in old:
            s.close()
        return session

    def get(self, sid: str) -> LabSession:
        with self._lock:
            session = self._sessions.get(sid)
        if session is None or session.closed:
            raise UnknownSession(f"no lab session {_short(sid)} (closed, or more than {self.max_sessions} were opened)")
        return session

    def delete(self, sid: str) -> None:
        session = self.get(sid)
        with self._lock:
            self._sessions.pop(sid, None)
        session.close()

    def close_all(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for s in sessions:
            s.close()

    def __len__(self) -> int:
        return len(self._sessions)


# -- HTTP -----------------------------------------------------------------------------------------

MAX_BODY = 8 * 2**20  # 100,000 points as JSON take about 4 MB
WAIT, HEARTBEAT, RETRY_MS = 0.5, 5.0, 2000  # event stream: wait for a frame, comment line, reconnect delay


def lab_routes(manager: LabManager) -> list:
    """Starlette routes of the lab under /api/v1/lab (docs: genlab/explore design, "Lab"). Errors
    are ``{"error": "..."}``: 400 for bad JSON, settings or actions, 404 for an unknown session,
    413 for a body over MAX_BODY. Authentication, Host and CSP are the app's middleware."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    def errors(handler):
        async def wrapped(request):
            try:
                return await handler(request)
            except UnknownSession as e:
                return JSONResponse({"error": str(e)}, status_code=404)
            except _TooLarge as e:
                return JSONResponse({"error": str(e)}, status_code=413)
            except GenlabError as e:
                return JSONResponse({"error": str(e)}, status_code=400)
        return wrapped

    def session_of(request) -> LabSession:
        return manager.get(request.path_params["sid"])

    async def create(request):
        session = await run_in_threadpool(manager.create, await _json_body(request))
        return JSONResponse({"id": session.id, "settings": session.settings})

    async def frame(request):
        return JSONResponse(session_of(request).frame())

    async def control(request):
        session, body = session_of(request), await _json_body(request)
        action = body.pop("action", None)
        return JSONResponse(await run_in_threadpool(lambda: session.control(action, **body)))

    async def config(request):
        session = session_of(request)
        return Response(await run_in_threadpool(session.config_yaml), media_type="text/yaml; charset=utf-8")

    async def export(request):
        session, body = session_of(request), await _json_body(request, empty_ok=True)
        unknown = sorted(set(body) - {"name"})
        if unknown:
            raise LabError(f"export takes a name only, not {unknown[0]!r}")
        path = await run_in_threadpool(session.export, manager.runs_dir, body.get("name"))
        return JSONResponse({"run": path.relative_to(manager.runs_dir).as_posix()})

    async def delete(request):
        sid = request.path_params["sid"]
        await run_in_threadpool(manager.delete, sid)
        return JSONResponse({"id": sid, "deleted": True})

    async def events(request):
        session = session_of(request)
        return StreamingResponse(_event_stream(request, session, run_in_threadpool), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    base = "/api/v1/lab"
    return [Route(base, errors(create), methods=["POST"]),
            Route(base + "/{sid}/events", errors(events), methods=["GET"]),
            Route(base + "/{sid}/frame", errors(frame), methods=["GET"]),
            Route(base + "/{sid}/control", errors(control), methods=["POST"]),
            Route(base + "/{sid}/config.yaml", errors(config), methods=["GET"]),
            Route(base + "/{sid}/export", errors(export), methods=["POST"]),
            Route(base + "/{sid}", errors(delete), methods=["DELETE"])]


class _TooLarge(GenlabError):
    pass


async def _json_body(request, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object (at most MAX_BODY bytes)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge(f"the request body is over {MAX_BODY // 2**20} MB")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip() and empty_ok:
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise LabError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise LabError("the request body must be a JSON object")
    return body


async def _event_stream(request, session: LabSession, in_thread) -> Any:
    """Server-sent events: ``retry:``, then ``data: <frame JSON>`` for every new frame (the
    latest one when frames come faster than they are read), a comment line every HEARTBEAT
    seconds without one; ends when the client goes or the session closes."""
    yield f"retry: {RETRY_MS}\n\n"
    seq, quiet_since = -1, time.monotonic()

    def next_event(after: int) -> tuple[int, str] | None:
        f = session.wait_frame(after, WAIT)
        return None if f is None else (f["seq"], json.dumps(f, separators=(",", ":")))

    while not session.closed and not await request.is_disconnected():
        got = await in_thread(next_event, seq)
        if got is not None:
            seq, quiet_since = got[0], time.monotonic()
            yield f"data: {got[1]}\n\n"
        elif time.monotonic() - quiet_since >= HEARTBEAT:
            quiet_since = time.monotonic()
            yield ": ping\n\n"
