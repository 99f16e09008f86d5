"""The explorer's page in a real browser: Playwright's Python package driving Debian's Chromium
against the app served in-process (uvicorn in a thread) over a copy of the tiny runs of conftest.

Every test opens its view, works a control (slider, seed, drag, chip, lab button) and checks what
changed on screen and in the permalink. A route guard aborts and records any request that is not
to 127.0.0.1 (the page must work offline), and errors on the console fail the test.
GENLAB_SCREENSHOTS=DIR saves a screenshot of each view there (the README's pictures).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright's Python package (pip install playwright)")
pytest.importorskip("uvicorn", reason="needs the explore extra (pip install 'genlab[explore]')")
expect = sync_api.expect

TOKEN = "browser-test-token"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
RUNS = ("vae", "ae", "gan-ring8", "cgan", "infogan", "faces/cgan-tags")  # of conftest's TINY_RUNS
SCREENSHOTS = os.environ.get("GENLAB_SCREENSHOTS")
# a bad request answered 4xx is logged by Chromium itself; the tests that ask for one allow it
RESOURCE_ERROR = "Failed to load resource"


@pytest.fixture(scope="module")
def browser_runs(runs_dir, tmp_path_factory):
    """A copy of the tiny runs (the lab exports into it), the tag run with an attribute direction."""
    import genlab
    from genlab import directions
    from genlab.latent import noise_dim

    root = tmp_path_factory.mktemp("browser-runs")
    for run in RUNS:
        shutil.copytree(runs_dir / run, root / run)
    tags = root / "faces/cgan-tags"
    k = noise_dim(genlab.load(tags))
    directions.write(tags, {"smile": {"vector": [1.0] + [0.0] * (k - 1)}})
    return root


@pytest.fixture(scope="module")
def server(browser_runs):
    """The explorer on a free port of 127.0.0.1, in a thread of this process."""
    import uvicorn

    from genlab.explore import create_app

    app = create_app(browser_runs, TOKEN)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the explorer did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(15)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watch:
    """What a page did that a test must not let pass: requests off this machine, console errors."""

    def __init__(self):
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.allowed: tuple[str, ...] = ()

    def guard(self, route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def console(self, message):
        if message.type == "error" and not (self.allowed and message.text.startswith(self.allowed)):
            self.errors.append(message.text)

    def check(self):
        assert not self.outside, f"the page asked for something off this machine: {self.outside}"
        assert not self.errors, f"errors on the console: {self.errors}"


@pytest.fixture
def page(browser, server):
    """A fresh page holding the token's cookie; fails the test on outside requests and console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    watch = Watch()
    context.route("**/*", watch.guard)
    pg = context.new_page()
    pg.on("console", watch.console)
    pg.on("pageerror", lambda e: watch.errors.append(f"uncaught: {e}"))
    pg.goto(f"{server}/?token={TOKEN}")
    assert "token" not in pg.url  # moved into the cookie
    pg.watch, pg.base = watch, server
    yield pg
    context.close()
    watch.check()


def go(page, fragment: str):
    page.goto(f"{page.base}/#/{fragment}")


def shot(page, name: str):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def loaded(page, testid: str, before: str | None = None, timeout: float = 20_000) -> str:
    """The blob: src of image ``testid`` once it has one (other than ``before``) and it has decoded."""
    img = page.get_by_test_id(testid)
    expect(img).to_have_attribute("src", _blob_other_than(before), timeout=timeout)
    deadline = time.monotonic() + timeout / 1000
    while not img.evaluate("i => i.complete && i.naturalWidth > 0"):
        assert time.monotonic() < deadline, f"{testid} did not decode"
        time.sleep(0.02)
    return img.get_attribute("src")


def _blob_other_than(before):
    import re

    return re.compile(r"^blob:" if before is None else rf"^blob:(?!{re.escape(before[5:])}$)")


def pixels(page, testid: str) -> str:
    """What image ``testid`` shows, as the page's canvas encodes its pixels (a data: URL)."""
    return page.get_by_test_id(testid).evaluate(
        "i => { const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;"
        " c.getContext('2d').drawImage(i, 0, 0); return c.toDataURL(); }")


def served(page, testid: str) -> bytes:
    """The PNG bytes the server gives for the parameters image ``testid`` was drawn with."""
    url = page.base + page.get_by_test_id(testid).get_attribute("data-query")
    with urllib.request.urlopen(urllib.request.Request(url, headers={"X-Genlab-Token": TOKEN}), timeout=30) as r:
        return r.read()


def image_query(page, testid: str) -> dict[str, str]:
    """The API parameters the image was drawn with."""
    url = page.get_by_test_id(testid).get_attribute("data-query")
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def hash_params(page) -> dict[str, str]:
    fragment = unquote(urlsplit(page.url).fragment)
    return {k: v[0] for k, v in parse_qs(fragment.partition("?")[2]).items()}


# -- runs and a run's overview -------------------------------------------------------------------
def test_the_runs_table_lists_every_run_and_opens_one(page):
    go(page, "")
    table = page.get_by_test_id("runs-table")
    expect(table).to_be_visible()
    for run in RUNS:
        expect(table.locator(f'tr[data-run="{run}"]')).to_be_visible()
    expect(table.locator('tr[data-run="cgan"]')).to_contain_text("class")
    shot(page, "runs")
    page.get_by_test_id("runs-filter").fill("infogan")
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_test_id("runs-filter").fill("")
    table.locator('tr[data-run="cgan"] [data-testid="run-link"]').click()
    expect(page).to_have_url(f"{page.base}/#/run/cgan/overview")
    expect(page.get_by_test_id("train-command")).to_contain_text("genlab train")
    expect(page.get_by_test_id("config")).to_contain_text("ngf")
    expect(page.get_by_test_id("curve-loss_d")).to_be_visible()
    page.get_by_test_id("tab-sample").click()
    expect(page).to_have_url(f"{page.base}/#/run/cgan/sample?seed=0&n=64&x=0.50&y=0.50&pn=16")
    loaded(page, "sample-image")


# -- sampling ------------------------------------------------------------------------------------
def test_sample_view_restores_its_permalink_and_redraws_on_every_control(page):
    go(page, "run/vae/sample?seed=3&n=16&truncation=0.8")
    expect(page.get_by_test_id("seed-input")).to_have_value("3")
    expect(page.get_by_test_id("n-select")).to_have_value("16")
    expect(page.get_by_test_id("truncation-slider")).to_have_value("0.8")
    first = loaded(page, "sample-image")
    assert image_query(page, "sample-image") == {"seed": "3", "n": "16", "truncation": "0.8"}
    expect(page.get_by_test_id("sample-image-command")).to_contain_text("--seed 3 --n 16 --truncation 0.8")
    before = pixels(page, "sample-image")

    page.get_by_test_id("truncation-slider").fill("0.4")  # a slider moved: a new picture
    second = loaded(page, "sample-image", first)
    assert image_query(page, "sample-image")["truncation"] == "0.4" and hash_params(page)["truncation"] == "0.4"
    assert pixels(page, "sample-image") != before

    page.get_by_test_id("seed-next").click()
    loaded(page, "sample-image", second)
    assert image_query(page, "sample-image")["seed"] == "4" and hash_params(page)["seed"] == "4"
    with page.expect_download() as download:
        page.get_by_test_id("sample-image-save").click()
    assert download.value.suggested_filename.endswith(".png")
    saved = Path(download.value.path()).read_bytes()
    assert saved.startswith(b"\x89PNG") and saved == served(page, "sample-image")

    # the seed plane: a drag across the pad draws samples at fractional points
    plane = loaded(page, "plane-image")
    pad = page.get_by_test_id("plane-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.3 + 0.028 * i), box["y"] + box["height"] * (0.7 - 0.018 * i))
    page.mouse.up()
    loaded(page, "plane-image", plane)
    expect(page.get_by_test_id("plane-readout")).to_contain_text("blended")
    x, y = float(hash_params(page)["x"]), float(hash_params(page)["y"])
    assert abs(x - 0.58 * 6) < 0.1 and abs(y - 0.48 * 6) < 0.1  # the pad spans seeds 0-6 each way, y up
    shot(page, "sample")


def test_a_burst_of_slider_moves_keeps_one_request_in_flight_and_shows_the_last(page):
    go(page, "run/vae/sample?seed=0&n=64")
    loaded(page, "sample-image")
    flying, most = set(), [0]

    def started(request):
        if "/samples.png" in request.url:
            flying.add(request.url)
            most[0] = max(most[0], len(flying))

    def ended(request):
        flying.discard(request.url)

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/samples.png" in r.url else None)
    slider = page.get_by_test_id("truncation-slider")
    values = [f"{v / 20:g}" for v in range(19, 1, -1)]  # 0.95 ... 0.1
    for v in values[:9]:  # moves at the pace Playwright types
        slider.fill(v)
    # then 9 moves within one task, as a fast drag delivers them: the first is sent, the last waits, the rest never go
    expect(page.get_by_test_id("sample-image")).to_have_attribute("data-query", _has(f"truncation={values[8]}"))
    time.sleep(0.2)
    sent.clear()
    slider.evaluate("(el, values) => { for (const v of values) { el.value = v;"
                    " el.dispatchEvent(new Event('input', { bubbles: true })); } }", values[9:])
    want = f"/api/v1/runs/vae/samples.png?seed=0&n=64&truncation={values[-1]}"
    expect(page.get_by_test_id("sample-image")).to_have_attribute("data-query", want)
    time.sleep(0.3)
    assert most[0] == 1, "more than one picture request was in flight"
    assert len(sent) == 2 and sent[-1].endswith(want), f"{len(sent)} requests for one burst: {sent}"
    expect(page.get_by_test_id("truncation-slider")).to_have_value(values[-1])


# -- walks ---------------------------------------------------------------------------------------
def test_walk_between_encoded_test_images_as_a_strip_and_an_animation(page):
    go(page, "run/ae/walk")
    strip = loaded(page, "walk-strip")
    assert image_query(page, "walk-strip") == {"from": "test:0", "to": "test:1", "steps": "8", "method": "slerp"}
    loaded(page, "walk-animation")
    assert b"acTL" in served(page, "walk-animation")[:200]  # an animated PNG
    page.get_by_test_id("pick-to").check()
    page.locator('[data-testid="test-image"][data-index="5"]').click()
    strip = loaded(page, "walk-strip", strip)
    assert image_query(page, "walk-strip")["to"] == "test:5" and hash_params(page)["to"] == "test:5"
    expect(page.get_by_test_id("walk-to")).to_have_value("5")
    page.get_by_test_id("walk-method").select_option("lerp")
    loaded(page, "walk-strip", strip)
    assert image_query(page, "walk-strip")["method"] == "lerp"
    shot(page, "walk")


def test_walk_between_seeds_follows_the_steps_slider(page):
    go(page, "run/vae/walk?from=seed:2&to=seed:9&steps=6")
    expect(page.get_by_test_id("walk-from")).to_have_value("2")
    strip = loaded(page, "walk-strip")
    narrow = pixels(page, "walk-strip")
    page.get_by_test_id("walk-steps").fill("12")
    loaded(page, "walk-strip", strip)
    assert image_query(page, "walk-strip")["steps"] == "12" and pixels(page, "walk-strip") != narrow
    assert page.get_by_test_id("walk-strip").evaluate("i => i.naturalWidth") > 1.5 * 6 * 8


# -- conditions ----------------------------------------------------------------------------------
def test_tag_chips_are_exclusive_in_their_group_and_a_prompt_replaces_them(page):
    go(page, "run/faces/cgan-tags/conditions")
    image = loaded(page, "condition-image")
    loaded(page, "class-grid")
    red, blue = (page.locator(f'[data-testid="tag-chip"][data-tag="{t}"]') for t in ("red hair", "blue hair"))
    red.click()
    expect(red).to_have_attribute("aria-pressed", "true")
    image = loaded(page, "condition-image", image)
    assert image_query(page, "condition-image")["tags"] == "red hair"
    page.locator('[data-testid="tag-chip"][data-tag="green eyes"]').click()
    blue.click()  # same group as red hair: red goes off
    expect(red).to_have_attribute("aria-pressed", "false")
    expect(blue).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("condition-image")).to_have_attribute("data-query", _has("tags=green+eyes%2Cblue+hair"))
    image = page.get_by_test_id("condition-image").get_attribute("src")
    slider = page.get_by_test_id("direction-slider-smile")
    slider.fill("2")
    expect(page.get_by_test_id("condition-image")).to_have_attribute("data-query", _has("edit=smile%3A2"))
    image = loaded(page, "condition-image", image)
    page.get_by_test_id("prompt-input").fill("girl with red hair and blue eyes")
    expect(red).to_be_disabled()
    expect(page.get_by_test_id("condition-image")).to_have_attribute("data-query", _has("prompt=girl+with+red+hair"))
    assert "tags" not in image_query(page, "condition-image")
    assert hash_params(page)["prompt"] == "girl with red hair and blue eyes"
    shot(page, "conditions")


def _has(text):
    import re

    return re.compile(re.escape(text))


def test_class_picker_and_infogan_code_sliders(page):
    go(page, "run/cgan/conditions")
    image = loaded(page, "condition-image")
    loaded(page, "class-grid")
    options = page.get_by_test_id("class-select").locator("option").all_inner_texts()
    page.get_by_test_id("class-select").select_option(options[3])
    image = loaded(page, "condition-image", image)
    assert image_query(page, "condition-image")["class"] == options[3]

    go(page, "run/infogan/conditions")
    image = loaded(page, "condition-image")
    before = pixels(page, "condition-image")
    assert image_query(page, "condition-image")["code"] == "0,0,0"
    page.get_by_test_id("code-slider-0").fill("1.5")
    image = loaded(page, "condition-image", image)
    assert image_query(page, "condition-image")["code"] == "0,1.5,0" and pixels(page, "condition-image") != before
    page.get_by_test_id("code-category").select_option("2")
    loaded(page, "condition-image", image)
    assert image_query(page, "condition-image")["code"] == "2,1.5,0" and hash_params(page)["code"] == "2,1.5,0"


def test_an_api_error_is_shown_in_the_message_bar_and_cleared_by_the_next_answer(page):
    page.watch.allowed = (RESOURCE_ERROR,)
    go(page, "run/faces/cgan-tags/conditions")
    image = loaded(page, "condition-image")
    page.get_by_test_id("prompt-input").fill("a girl with silver hair")
    bar = page.get_by_test_id("error-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("tag")
    page.get_by_test_id("prompt-input").fill("girl with red hair")
    loaded(page, "condition-image", image)
    expect(bar).to_be_hidden()
    go(page, "run/no-such-run/overview")
    expect(bar).to_contain_text("no-such-run")


# -- the lab -------------------------------------------------------------------------------------
def frames(page) -> int:
    return int(page.get_by_test_id("lab-frames").inner_text())


def test_the_lab_trains_live_pauses_steps_and_exports_a_run(page, browser_runs):
    go(page, "lab?data=ring8&preset=dcgan&spf=2")
    expect(page.get_by_test_id("lab-data")).to_have_value("ring8")
    page.get_by_test_id("lab-start").click()
    expect(page.get_by_test_id("lab-status")).to_have_text("training", timeout=30_000)
    deadline = time.monotonic() + 30
    while frames(page) < 12:
        assert time.monotonic() < deadline, f"only {frames(page)} frames in 30 s"
        time.sleep(0.1)
    assert float(page.get_by_test_id("lab-fps").inner_text()) > 0
    assert int(page.get_by_test_id("lab-step").inner_text().replace(",", "")) > 0
    expect(page.get_by_test_id("lab-metrics")).to_contain_text("modes")
    shot(page, "lab")

    page.get_by_test_id("lab-pause").click()
    expect(page.get_by_test_id("lab-status")).to_have_text("paused")
    expect(page.get_by_test_id("lab-pause")).to_have_text("Resume")
    step = page.get_by_test_id("lab-step").inner_text()
    n = frames(page)
    time.sleep(0.6)
    assert page.get_by_test_id("lab-step").inner_text() == step  # paused: no training
    page.get_by_test_id("lab-step-d").click()
    deadline = time.monotonic() + 10
    while frames(page) == n:
        assert time.monotonic() < deadline, "step D brought no frame"
        time.sleep(0.05)
    expect(page.get_by_test_id("lab-fps")).to_have_text("0.0", timeout=5000)  # no frames while paused

    page.get_by_test_id("lab-k").fill("2")
    page.get_by_test_id("lab-k").press("Tab")  # change: K set live
    expect(page.get_by_test_id("lab-note")).not_to_be_empty()
    page.get_by_test_id("lab-export-name").fill("from-the-lab")
    page.get_by_test_id("lab-export-run").click()
    link = page.get_by_test_id("lab-export-link")
    expect(link).to_have_text("from-the-lab", timeout=30_000)
    assert (browser_runs / "from-the-lab" / "config.yaml").is_file()
    with page.expect_download() as download:
        page.get_by_test_id("lab-export-config").click()
    assert "d_steps: 2" in Path(download.value.path()).read_text()
    link.click()
    expect(page.get_by_role("heading", name="from-the-lab")).to_be_visible()
    go(page, "lab")  # the session is still there
    expect(page.get_by_test_id("lab-status")).to_have_text("paused", timeout=10_000)
    page.get_by_test_id("lab-stop").click()
    expect(page.get_by_test_id("lab-status")).to_have_text("not started")


def test_the_lab_trains_on_points_drawn_with_the_mouse(page):
    go(page, "lab?data=points&preset=dcgan")
    canvas = page.get_by_test_id("lab-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for cx, cy in ((0.3, 0.3), (0.7, 0.7)):
        page.mouse.move(box["x"] + box["width"] * cx, box["y"] + box["height"] * cy)
        page.mouse.down()
        for i in range(8):
            page.mouse.move(box["x"] + box["width"] * (cx + 0.01 * i), box["y"] + box["height"] * cy)
        page.mouse.up()
    count = int(page.get_by_test_id("lab-points-count").inner_text().split()[0])
    assert count >= 16
    page.get_by_test_id("lab-start").click()
    expect(page.get_by_test_id("lab-status")).to_have_text("training", timeout=30_000)
    deadline = time.monotonic() + 20
    while frames(page) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sid = canvas.get_attribute("data-session")
    frame = page.evaluate("async sid => (await fetch(`/api/v1/lab/${sid}/frame`)).json()", sid)
    assert frame["settings"]["n_points"] == count and frame["settings"]["data"] == "points"
    page.get_by_test_id("lab-stop").click()
    expect(page.get_by_test_id("lab-status")).to_have_text("not started")
