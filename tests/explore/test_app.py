"""The explorer's API through Starlette's test client: guards, every model type, determinism, errors."""

import io
import json
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from PIL import Image  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from genlab.explore import create_app  # noqa: E402

from .conftest import TINY_RUNS  # noqa: E402

TOKEN = "t0ken-for-tests"


@pytest.fixture(scope="module")
def client(runs_dir):
    app = create_app(runs_dir, TOKEN, lab=False)
    with TestClient(app, base_url="http://127.0.0.1:8765", headers={"X-Genlab-Token": TOKEN}) as c:
        yield c


def image(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


# -- guards --------------------------------------------------------------------------------------
def test_token_is_required_and_the_page_moves_it_to_a_cookie(runs_dir):
    app = create_app(runs_dir, TOKEN, lab=False)
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/v1/runs").status_code == 403
        assert c.get("/api/v1/runs", headers={"X-Genlab-Token": "wrong"}).status_code == 403
        assert c.get("/").status_code == 403
        first = c.get(f"/?token={TOKEN}", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/"
        assert "httponly" in first.headers["set-cookie"].lower() and "samesite=strict" in first.headers["set-cookie"].lower()
        assert c.get("/api/v1/runs").status_code == 200  # the cookie now
        page = c.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "192.168.1.5:8765"])
def test_a_foreign_host_header_is_refused(client, host):
    r = client.get("/api/v1/runs", headers={"Host": host})
    assert r.status_code == 400 and r.text.startswith("error:")


def test_security_headers_and_no_cors(client):
    r = client.get("/api/v1/runs", headers={"Origin": "http://evil.example"})
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert not any(k.lower().startswith("access-control-") for k in r.headers)
    assert client.get("/static/app.js").headers["content-security-policy"].startswith("default-src 'self'")


@pytest.mark.parametrize("run_id", ["../outside", "..%2Foutside", "/etc", "vae/%2E%2E/ae", "ae%2F..%2F..%2Fetc",
                                    "%2Fetc%2Fpasswd", "nope"])
def test_runs_are_addressed_by_id_only(client, run_id):
    r = client.get(f"/api/v1/runs/{run_id}/info")
    assert r.status_code in (404, 400) and "error" in r.json()


def test_the_page_loads_nothing_from_elsewhere(client):
    page = client.get("/").text
    assert "http://" not in page and "https://" not in page and "<script>" not in page.replace(" ", "")


# -- runs ----------------------------------------------------------------------------------------
def test_every_run_is_listed_with_its_model_and_condition(client):
    listed = {r["id"]: r for r in client.get("/api/v1/runs").json()["runs"]}
    assert set(listed) == set(TINY_RUNS)
    assert listed["cgan"]["condition"] == "class" and listed["faces/cgan-tags"]["condition"] == "tags"
    assert listed["infogan"]["condition"] == "codes" and listed["vae"]["condition"] is None
    assert listed["gan-ring8"]["kind"] == "points" and listed["vae"]["step"] == 4


@pytest.mark.parametrize("run_id", list(TINY_RUNS))
def test_every_model_type_is_served(client, run_id):
    info = client.get(f"/api/v1/runs/{run_id}/info").json()
    assert info["model"] == TINY_RUNS[run_id][0] and info["curves"]
    if info["can"]["sample"]:
        img = image(client.get(f"/api/v1/runs/{run_id}/samples.png", params={"seed": 1, "n": 9}))
        assert img.width > 8
        image(client.get(f"/api/v1/runs/{run_id}/plane.png", params={"x": 0.5, "y": 2.25, "n": 4}))
    if info["kind"] == "image":
        ends = {"from": "test:0", "to": "test:3"} if info["can"]["encode"] else {"from": "seed:0", "to": "seed:5"}
        strip = image(client.get(f"/api/v1/runs/{run_id}/walk.png", params={**ends, "steps": 5}))
        assert strip.width > strip.height * 4
        image(client.get(f"/api/v1/runs/{run_id}/test.png", params={"n": 4}))
    if info["can"]["class_grid"]:
        image(client.get(f"/api/v1/runs/{run_id}/classes.png", params={"n": 3}))


def test_the_same_request_gives_the_same_bytes_and_another_seed_others(client):
    get = lambda seed: client.get("/api/v1/runs/dcgan/samples.png", params={"seed": seed, "n": 16}).content  # noqa: E731
    assert get(3) == get(3) and get(3) != get(4)


def test_samples_match_the_command_line(client, runs_dir, tmp_path):
    from genlab.cli.main import main

    r = client.get("/api/v1/runs/faces/cgan-tags/samples.png",
                   params={"seed": 5, "n": 6, "truncation": 0.5, "tags": "red hair"})
    command = r.headers["x-genlab-command"]
    assert "--truncation 0.5" in command and "--tags 'red hair'" in command
    out = tmp_path / "same.png"
    assert main(["sample", str(runs_dir / "faces/cgan-tags"), "--seed", "5", "--n", "6", "--truncation", "0.5",
                 "--tags", "red hair", "--out", str(out), "--device", "cpu"]) == 0
    import numpy as np

    ours, cli = np.asarray(image(r)), np.asarray(Image.open(out))
    s = cli.shape[0] // ours.shape[0]  # the CLI scales small images up for display
    assert s >= 1 and np.array_equal(cli[::s, ::s], ours)


def test_infogan_codes_and_class_conditions(client):
    a = client.get("/api/v1/runs/infogan/samples.png", params={"code": "1,0.5,-1", "n": 4}).content
    b = client.get("/api/v1/runs/infogan/samples.png", params={"code": "1,1.5,-1", "n": 4}).content
    assert a != b
    r = client.get("/api/v1/runs/infogan/samples.png", params={"code": "12,0,0"})
    assert r.status_code == 400 and "category" in r.json()["error"]
    assert client.get("/api/v1/runs/cgan/samples.png", params={"class": "7", "n": 4}).status_code == 200
    r = client.get("/api/v1/runs/cgan/samples.png", params={"class": "giraffe"})
    assert r.status_code == 400 and "giraffe" in r.json()["error"]


def test_seed_plane_is_the_seed_at_whole_points_and_moves_smoothly(runs_dir):
    import torch

    import genlab
    from genlab.explore.views import PLANE_STRIDE, plane_codes

    model = genlab.load(runs_dir / "vae")
    at = plane_codes(model, 3.0, 2.0, 4, None)
    assert torch.equal(at, model.prior(4, torch.Generator().manual_seed(2 * PLANE_STRIDE + 3)))
    near = plane_codes(model, 3.05, 2.0, 4, None)
    far = plane_codes(model, 3.5, 2.0, 4, None)
    assert (near - at).norm() < (far - at).norm()
    mid = plane_codes(model, 3.5, 2.5, 20000 // 4, None)  # a blend keeps N(0, I)
    assert abs(float(mid.std()) - 1) < 0.05


@pytest.mark.parametrize("query, words", [
    ({"n": "0"}, "n must be"), ({"n": "x"}, "whole number"), ({"seed": "-1"}, "seed must be"),
    ({"truncation": "1.5"}, "truncation"), ({"tags": "red hair"}, "tag-conditioned"),
    ({"bogus": "1"}, "unknown parameter"), ({"class": "1", "code": "1,0,0"}, "one of"),
    ({"edit": "smile"}, "ATTRIBUTE:STRENGTH"), ({"edit": "smile:1"}, "no direction"),
])
def test_bad_parameters_are_one_clear_error(client, query, words):
    r = client.get("/api/v1/runs/dcgan/samples.png", params=query)
    assert r.status_code == 400 and words in r.json()["error"] and "\n" not in r.json()["error"]


def test_walk_errors(client):
    assert "does not encode" in client.get("/api/v1/runs/dcgan/walk.png", params={"from": "test:0"}).json()["error"]
    assert "past its end" in client.get("/api/v1/runs/vae/walk.png", params={"from": "test:999999"}).json()["error"]
    assert client.get("/api/v1/runs/ae/samples.png").status_code == 400  # an AE has no prior
    animated = client.get("/api/v1/runs/vae/walk.png", params={"from": "test:0", "to": "test:1", "animate": 1})
    assert getattr(image(animated), "n_frames", 1) > 2


@pytest.mark.timing
def test_a_64_image_grid_of_a_28px_model_is_fast(tmp_path):
    """The issue's target: a 64-image grid of a 28 x 28 model in under 100 ms on this machine."""
    import genlab

    genlab.train("dcgan", "fashion-mnist", steps=1, batch_size=8, out=tmp_path / "r28", progress=False,
                 tensorboard=False, sample_every=0, threads=1)
    app = create_app(tmp_path, TOKEN, lab=False)
    with TestClient(app, base_url="http://127.0.0.1", headers={"X-Genlab-Token": TOKEN}) as c:
        c.get("/api/v1/runs/r28/samples.png", params={"n": 64})  # loads the model
        times = []
        for seed in range(10):
            t0 = time.perf_counter()
            assert c.get("/api/v1/runs/r28/samples.png", params={"n": 64, "seed": seed}).status_code == 200
            times.append(time.perf_counter() - t0)
    times.sort()
    assert times[len(times) // 2] < 0.100, times


# -- the command -----------------------------------------------------------------------------------
def test_genlab_explore_refuses_bad_input(capsys, runs_dir, tmp_path):
    import socket

    from genlab.cli.main import main

    assert main(["explore", str(tmp_path / "missing"), "--no-browser"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["explore", str(runs_dir), "--no-browser", "--port", str(busy.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot listen") and err.count("\n") == 1
    assert main(["explore", str(runs_dir), "--port", "70000"]) == 2


def test_genlab_explore_prints_a_url_that_opens_the_page(runs_dir):
    import re
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "genlab", "explore", str(runs_dir), "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", "".join(lines)).group(0)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(url, timeout=30) as page:  # the token becomes a cookie, then the page
            assert page.status == 200 and b"app.js" in page.read()
        with opener.open(url.split("?")[0] + "api/v1/runs", timeout=30) as listed:
            assert len(json.loads(listed.read())["runs"]) == len(TINY_RUNS)
        with pytest.raises(urllib.error.HTTPError) as refused:  # no token, no cookie
            urllib.request.urlopen(url.split("?")[0] + "api/v1/runs", timeout=30)
        assert refused.value.code == 403
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0 and proc.stderr.read().strip().endswith("genlab explore: stopped")


def test_an_id_is_accepted_exactly_when_the_walk_lists_it(runs_dir, tmp_path):
    import shutil

    from genlab.explore.runs import Runs, UnknownRun

    root = tmp_path / "root"
    shutil.copytree(runs_dir / "vae", root / "a" / "vae")
    shutil.copytree(runs_dir / "ae", root / "a" / "vae" / "inner")  # inside a run: not listed
    shutil.copytree(runs_dir / "ae", root / ".hidden" / "ae")
    shutil.copytree(runs_dir / "ae", root / "1" / "2" / "3" / "4" / "5")  # deeper than the walk goes
    (root / "out").symlink_to(runs_dir)  # a link out of the folder
    runs = Runs(root)
    assert runs.ids() == ["a/vae"]
    for run_id in ["a/vae/inner", ".hidden/ae", "1/2/3/4/5", "out/vae", "a", "a//vae", "a/./vae", "."]:
        with pytest.raises(UnknownRun):
            runs.path(run_id)
    assert runs.path("a/vae") == root / "a" / "vae"
