"""The explorer's live 2-D lab: settings, frames, controls, reproduction, export and its HTTP routes."""

import json
import math
import os
import threading
import time

import numpy as np
import pytest
import torch
from starlette.applications import Starlette
from starlette.testclient import TestClient

import genlab
from genlab.api import build_config
from genlab.config import to_dict
from genlab.errors import GenlabError
from genlab.explore import lab as lab_module
from genlab.explore.lab import (GRID, N_ARROWS, LabError, LabManager, LabSession, UnknownSession, check_settings,
                                lab_routes, rounded)

# the plain GAN on mlp networks at a small batch: a session in a fraction of a second (the `gan`
# preset fits clusters to the data first, a few seconds)
FAST = {"preset": "dcgan", "batch_size": 32}
FRAME_KEYS = {"seq", "step", "running", "settings", "real", "fake", "field", "arrows", "metrics", "losses", "error"}


@pytest.fixture
def lab():
    """open(settings, run=False) -> a LabSession closed after the test."""
    sessions = []

    def open_session(settings=None, run=False):
        sessions.append(LabSession({**FAST, **(settings or {})}, run=run))
        return sessions[-1]

    yield open_session
    for s in sessions:
        s.close()


def part(session, prefix: str) -> dict:
    """Copies of the session model's tensors whose names start with ``prefix``."""
    return {k: v.clone() for k, v in session.model.state_dict().items() if k.startswith(prefix)}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def circle(n: int = 64) -> list:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([3 + 2 * np.cos(a), -1 + 2 * np.sin(a)], 1).round(4).tolist()


@pytest.mark.parametrize("settings, message", [
    ({"colour": "red"}, "unknown lab setting 'colour'"),
    ({"data": "mnist"}, "data must be one of"),
    ({"preset": "vae"}, "preset must be one of"),
    ({"loss": "kl"}, "loss must be one of"),
    ({"d_steps": 11}, "d_steps must be a whole number from 1 to 10"),
    ({"d_steps": True}, "d_steps must be a whole number"),
    ({"lr_d": 0}, "lr_d must be a finite number > 0"),
    ({"lr_g": "fast"}, "lr_g must be a finite number"),
    ({"steps_per_frame": 0}, "steps_per_frame must be a whole number from 1 to 100"),
    ({"seed": -1}, "seed must be a whole number"),
    ({"data": "points"}, "needs its points"),
    ({"data": "ring8", "points": circle()}, "points go with data 'points'"),
    ({"data": "points", "points": circle(15)}, "give 16 to 100,000 points, got 15"),
    ({"data": "points", "points": circle(16) + [[1.0, float("nan")]]}, "finite"),
    ({"data": "points", "points": [[1, 2, 3]] * 20}, "list of [x, y] pairs"),
    ({"data": "points", "points": [["a", "b"]] * 20}, "list of [x, y] pairs"),
    ({"data": "points", "points": [[1.0, 1.0]] * 20}, "all in one place"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_settings_are_one_clear_error(settings, message):
    with pytest.raises(LabError) as e:
        check_settings(settings)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, GenlabError)


def test_a_session_refuses_bad_settings_before_building_anything():
    with pytest.raises(LabError, match="unknown lab setting"):
        LabSession({"data": "ring8", "k": 2})


def test_frames_have_the_schema_and_serialise(lab):
    s = lab()
    frame = s.control("step")
    assert set(frame) == FRAME_KEYS and frame["step"] == 1 and frame["running"] is False
    assert frame["settings"] == {"data": "ring8", "preset": "dcgan", "loss": "ns", "d_steps": 1, "lr_d": 2e-4,
                                 "lr_g": 2e-4, "batch_size": 32, "seed": 0, "steps_per_frame": 3}
    assert len(frame["real"]) == len(frame["fake"]) == 512 and all(len(p) == 2 for p in frame["fake"])
    field = frame["field"]
    assert field["n"] == GRID and len(field["values"]) == GRID * GRID and field["label"] == "D(x)"
    x0, x1, y0, y1 = field["bounds"]
    assert x0 < -1 < 1 < x1 and y0 < -1 < 1 < y1  # around the ring
    assert all(0 <= v <= 1 for v in field["values"])  # sigmoid of D's score for ns
    assert len(frame["arrows"]) == N_ARROWS and all(len(a) == 4 for a in frame["arrows"])
    assert set(frame["metrics"]) >= {"modes", "hq", "reverse_kl"} and frame["metrics"]["n_modes"] == 8
    assert set(frame["losses"]) == {"loss_d", "d_real", "d_fake", "loss_g"}
    text = json.dumps(frame, allow_nan=False)
    assert len(text) < 60_000
    assert all(len(repr(v)) <= 12 for v in field["values"])  # 4 significant digits


def test_rounding_keeps_four_significant_digits_and_nulls_non_finite_values():
    assert rounded([123456.0, 0.000123456, -2.71828, 0.0, float("nan"), float("inf")]) == \
        [123500.0, 0.0001235, -2.718, 0.0, None, None]


def test_a_seeded_session_is_deterministic(lab):
    a, b, c = lab(), lab(), lab({"seed": 1})
    for _ in range(3):
        fa, fb, fc = a.control("step"), b.control("step"), c.control("step")
        assert fa["losses"] == fb["losses"] and fa["fake"] == fb["fake"] and fa["step"] == fb["step"]
    assert fa["losses"] != fc["losses"]
    assert same(part(a, ""), part(b, ""))


def test_sessions_leave_the_process_rng_alone(lab):
    def reseed(seed):
        torch.manual_seed(seed)
        np.random.seed(seed)

    reseed(123)
    expected = torch.rand(3), np.random.rand(3)
    reseed(123)
    s = lab()  # genlab seeds torch and numpy to build the model
    s.control("step")
    s.control("reset")
    got = torch.rand(3), np.random.rand(3)
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


@pytest.mark.parametrize("preset, data", [("lsgan", "grid25"), ("wgan", "ring8"), ("wgan-gp", "spiral")])
def test_every_preset_trains_on_points(lab, preset, data):
    s = lab({"preset": preset, "data": data})
    assert s.cfg.model_config.net == "mlp"
    frame = s.control("step")
    assert frame["settings"]["loss"] == s.cfg.model_config.loss == {"lsgan": "ls"}.get(preset, preset)
    assert frame["losses"] and all(math.isfinite(v) for v in frame["losses"].values())
    assert (frame["metrics"] == {}) == (data == "spiral")  # mode metrics where the modes are known
    assert frame["field"]["label"] == "critic score"


def test_a_diverged_session_stops_and_says_so(lab, tmp_path):
    s = lab()
    with torch.no_grad():
        for p in s.model.discriminator.parameters():
            p.fill_(float("nan"))
    frame = s.control("step")
    assert frame["running"] is False and "became nan by step 1" in frame["error"]
    assert frame["field"]["values"][0] is None and json.dumps(frame, allow_nan=False)
    with pytest.raises(GenlabError, match="NaN"):
        s.export(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    assert s.control("reset")["error"] is None


def test_single_steps_update_only_their_network(lab):
    s = lab()
    d0, g0 = part(s, "discriminator."), part(s, "generator.")
    frame = s.control("step_d")
    assert frame["step"] == 0 and "loss_d" in frame["losses"]  # a D update is not a step: G did not move
    d1, g1 = part(s, "discriminator."), part(s, "generator.")
    assert not same(d0, d1) and same(g0, g1)
    frame = s.control("step_g")
    assert frame["step"] == 1 and "loss_g" in frame["losses"]
    assert same(d1, part(s, "discriminator.")) and not same(g1, part(s, "generator."))


def test_pause_stops_the_steps_and_resume_goes_on(lab):
    s = lab(run=True)
    f = s.wait_frame(1, 10)
    assert f is not None and f["step"] > 0 and f["running"]
    paused = s.control("pause")
    assert paused["running"] is False
    assert s.wait_frame(paused["seq"], 0.3) is None  # no new frame while paused
    assert s.frame()["step"] == paused["step"] == s.step
    seq = s.control("resume")["seq"]
    later = s.wait_frame(seq, 10)
    assert later["running"] and later["step"] > paused["step"]


def test_reset_goes_back_to_the_seeds_initial_weights(lab):
    s = lab()
    initial = part(s, "")
    for _ in range(3):
        s.control("step")
    assert not same(initial, part(s, ""))
    frame = s.control("reset")
    assert frame["step"] == 0 and frame["losses"] == {} and same(initial, part(s, ""))
    again = lab()  # and the same steps as a new session's
    assert s.control("step")["losses"] == again.control("step")["losses"]


def test_set_changes_the_loss_on_the_same_weights(lab):
    s = lab()
    s.control("step")
    before = part(s, "")
    frame = s.control("set", loss="wgan-gp", d_steps=2, lr=1e-3)
    assert "kept G's and D's weights" in frame["note"]
    assert same(before, part(s, ""))
    assert frame["settings"]["loss"] == "wgan-gp" and frame["field"]["label"] == "critic score"
    assert s.cfg.model_config.d_steps == 2 and s.cfg.model_config.lr_d == s.cfg.model_config.lr_g == 1e-3
    frame = s.control("step")
    assert frame["step"] == 2 and "gp" in frame["losses"]
    assert s.trainer.stream.batches_drawn == 1 + 2  # K = 1, then K = 2: the stream went on
    assert s.control("set", steps_per_frame=7)["settings"]["steps_per_frame"] == 7
    for kw, message in [({"loss": "kl"}, "loss must be"), ({"d_steps": 0}, "d_steps"),
                        ({"batch_size": 64}, "set takes"), ({}, "set takes")]:
        with pytest.raises(LabError, match=message):
            s.control("set", **kw)
    with pytest.raises(LabError, match="unknown action"):
        s.control("jump")
    with pytest.raises(LabError, match="takes no settings"):
        s.control("pause", loss="ns")
    assert s.settings["loss"] == "wgan-gp" and s.step == 2  # the refused changes changed nothing


@pytest.mark.slow
@pytest.mark.timing
def test_the_default_session_streams_at_least_10_frames_a_second():
    """Measured in wall-clock time when the machine has a core to spare, and always per second of
    the process's CPU time (what the rate is on a core of its own: the machine may be shared)."""
    s = LabSession({})  # the `gan` preset on ring8, running
    try:
        first = s.wait_frame(1, 30)  # a frame after training started
        start, cpu, seq, frames = time.perf_counter(), time.process_time(), first["seq"], 0
        while time.perf_counter() - start < 3.0:  # long enough that the frame under way at the end weighs little
            f = s.wait_frame(seq, 2)
            if f is not None:
                seq, frames = f["seq"], frames + 1
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"lab: {frames / wall:.1f} frames/s ({frames / cpu:.1f} a CPU second), {f['step'] - first['step']} "
              f"steps, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        assert frames / cpu >= 10
        if os.getloadavg()[0] <= (os.cpu_count() or 1) - 1:
            assert frames / wall >= 10
        assert f["step"] - first["step"] >= frames * s.settings["steps_per_frame"]
    finally:
        s.close()


def test_a_session_on_drawn_points(lab, tmp_path):
    s = lab({"data": "points", "points": circle()})
    frame = s.control("step")
    assert frame["settings"]["n_points"] == 64 and len(frame["real"]) == 64 and frame["metrics"] == {}
    x0, x1, y0, y1 = frame["field"]["bounds"]
    assert x0 < 1 < 5 < x1 and y0 < -3 < 1 < y1
    text = s.config_yaml()
    assert "a file of the 64 N x 2 points" in text and "name: points.npy" in text
    run = s.export(tmp_path, "drawn")
    saved = np.load(run / "points.npy")
    assert saved.shape == (64, 2) and np.allclose(saved, circle(), atol=1e-6)
    assert genlab.api.read_run_config(run).data.name == str((run / "points.npy").resolve())
    loaded = genlab.load(run)
    assert loaded.step == 1 and same(part(s, ""), dict(loaded.state_dict()))
    s.close()  # its temporary point file goes: the run reads its own
    assert genlab.train(resume=run, steps=3, progress=False).step == 3


def test_config_yaml_builds_the_same_model_and_trains_the_same_weights(lab, tmp_path):
    s = lab({"loss": "hinge", "d_steps": 2, "lr_g": 1e-3, "seed": 5})
    for _ in range(3):
        s.control("step")
    text = s.config_yaml()
    assert text.startswith("# genlab explore lab: dcgan (loss hinge, K = 2) on ring8, seed 5, written at step 3")
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    cfg = build_config("dcgan", config=path)
    assert to_dict(cfg.model_config) == to_dict(s.cfg.model_config)
    assert (cfg.data.name, cfg.train.batch_size, cfg.train.seed, cfg.train.steps) == ("ring8", 32, 5, 3)
    net = genlab.train("dcgan", config=path, out=tmp_path / "run", progress=False,
                       overrides=["train.tensorboard=false"])
    assert same(part(s, ""), dict(net.state_dict()))  # `genlab train` with it: the session's weights, bit for bit
    s.control("step_d")
    assert "single D or G steps" in s.config_yaml()


def test_export_loads_and_resumes_where_the_session_is(lab, tmp_path):
    s = lab({"loss": "ls"})
    for _ in range(2):
        s.control("step")
    run = s.export(tmp_path)
    assert run == tmp_path / "lab-ring8-ls-step2"
    assert same(part(s, ""), dict(genlab.load(run).state_dict()))
    for _ in range(3):
        s.control("step")
    resumed = genlab.train(resume=run, steps=5, progress=False)
    assert resumed.step == 5 and same(part(s, ""), dict(resumed.state_dict()))  # exactly the session's steps
    assert s.export(tmp_path).name == "lab-ring8-ls-step5"
    for name, message in [("../up", "one folder name"), ("a/b", "one folder name"), (".hidden", "letters, digits"),
                          ("lab-ring8-ls-step2", "already exists")]:
        with pytest.raises(LabError, match=message):
            s.export(tmp_path, name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab-ring8-ls-step2", "lab-ring8-ls-step5"]


def test_the_manager_keeps_four_sessions(tmp_path):
    manager = LabManager(tmp_path)
    try:
        sessions = [manager.create({**FAST, "seed": i}) for i in range(5)]
        assert len(manager) == 4 and sessions[0].closed
        with pytest.raises(UnknownSession):
            manager.get(sessions[0].id)
        assert manager.get(sessions[4].id) is sessions[4]
        manager.delete(sessions[4].id)
        assert sessions[4].closed and len(manager) == 3
        with pytest.raises(UnknownSession):
            manager.delete(sessions[4].id)
    finally:
        manager.close_all()
    assert all(s.closed for s in sessions) and len(manager) == 0
    alive = {t.name for t in threading.enumerate()}
    assert not alive & {f"genlab-lab-{s.id}" for s in sessions}  # their training threads ended


def read_events(client, url: str, n: int) -> list:
    """The first ``n`` frames of the event stream (and the lines before them)."""
    frames, lines = [], []
    with client.stream("GET", url) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            lines.append(line)
            if line.startswith("data: "):
                frames.append(json.loads(line[len("data: "):]))
                if len(frames) == n:
                    break
    return frames, lines


def test_the_routes(tmp_path):
    manager = LabManager(tmp_path)
    client = TestClient(Starlette(routes=lab_routes(manager)))
    try:
        r = client.post("/api/v1/lab", json={**FAST, "steps_per_frame": 2})
        assert r.status_code == 200 and r.json()["settings"]["preset"] == "dcgan"
        sid = r.json()["id"]
        base = f"/api/v1/lab/{sid}"
        frames, lines = read_events(client, base + "/events", 3)
        assert lines[0].startswith("retry: ")
        assert [f["seq"] for f in frames] == sorted({f["seq"] for f in frames}) and frames[-1]["step"] > 0
        r = client.post(base + "/control", json={"action": "pause"})
        assert r.status_code == 200 and r.json()["running"] is False
        step = r.json()["step"]
        assert client.get(base + "/frame").json()["step"] == step
        assert client.post(base + "/control", json={"action": "step_g"}).json()["step"] == step + 1
        r = client.get(base + "/config.yaml")
        assert r.status_code == 200 and "model: dcgan" in r.text and r.headers["content-type"].startswith("text/yaml")
        r = client.post(base + "/export", json={"name": "mine"})
        assert r.status_code == 200 and r.json() == {"run": "mine"} and (tmp_path / "mine" / "config.yaml").is_file()
        assert client.post(base + "/export", content=b"").json()["run"] == f"lab-ring8-ns-step{step + 1}"
        for url, body, status, message in [
            ("/api/v1/lab", b"{not json", 400, "not valid JSON"),
            ("/api/v1/lab", b"[1]", 400, "JSON object"),
            ("/api/v1/lab", json.dumps({"loss": "kl"}).encode(), 400, "loss must be one of"),
            (base + "/control", json.dumps({"action": "fly"}).encode(), 400, "unknown action"),
            (base + "/control", json.dumps({"action": "set", "d_steps": 99}).encode(), 400, "d_steps"),
            (base + "/export", json.dumps({"name": "../x"}).encode(), 400, "one folder name"),
            (base + "/export", json.dumps({"name": "mine"}).encode(), 400, "already exists"),
            ("/api/v1/lab/nope/control", json.dumps({"action": "pause"}).encode(), 404, "no lab session"),
        ]:
            r = client.post(url, content=body)
            assert (r.status_code, message in r.json()["error"]) == (status, True), (url, r.text)
        assert client.get("/api/v1/lab/nope/frame").status_code == 404
        assert client.get("/api/v1/lab/nope/events").status_code == 404
        assert client.delete(base).json() == {"id": sid, "deleted": True}
        assert client.get(base + "/frame").status_code == 404
        assert client.delete(base).status_code == 404
    finally:
        client.close()
        manager.close_all()


def test_the_event_stream_beats_while_paused_and_ends_with_the_session(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_module, "HEARTBEAT", 0.2)
    manager = LabManager(tmp_path)
    client = TestClient(Starlette(routes=lab_routes(manager)))
    try:
        session = manager.create({**FAST})
        seq = session.control("pause")["seq"]
        lines = []
        with client.stream("GET", f"/api/v1/lab/{session.id}/events") as r:
            for line in r.iter_lines():
                lines.append(line)
                if line.startswith(": ping"):
                    manager.delete(session.id)  # the stream's end follows
        assert lines[0].startswith("retry: ") and lines[-2] == ": ping"
        sent = [json.loads(line[6:])["seq"] for line in lines if line.startswith("data: ")]
        assert sent == [seq]  # the latest frame, then none while paused
    finally:
        client.close()
        manager.close_all()
