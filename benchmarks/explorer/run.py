"""The explorer's speed on this machine, and screenshots of its views for the README.

Protocol:
  - grid: `GET /api/v1/runs/ID/samples.png?n=64&seed=S` of a 28 x 28 dcgan (the Fashion-MNIST
    recipe's networks, 1 training step: the weights do not change the cost), through the real HTTP
    server (uvicorn on 127.0.0.1) with a keep-alive client; the model loaded by a first request;
    --requests requests, seeds 0..N-1; median and 90th percentile in ms;
  - lab: a session of the lab's defaults (ring8, the gan preset) streamed over server-sent events
    for --seconds seconds after its first frame: frames a second and steps a second;
  - both with torch at --threads threads, nothing else asked of the machine by this script.

    python benchmarks/explorer/run.py                          # the numbers, into README.md
    python benchmarks/explorer/run.py --shots runs/explore-demo  # and screenshots of every view
    python benchmarks/explorer/run.py --quick                  # seconds (for tests)
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, splice, write_json  # noqa: E402

TOKEN = "benchmark"


class Server:
    """The explorer over ``root`` on a free port of 127.0.0.1, in a thread."""

    def __init__(self, root: Path):
        import uvicorn

        from genlab.explore import create_app

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(create_app(root, TOKEN), log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def request(self, conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None) -> bytes:
        headers = {"X-Genlab-Token": TOKEN, "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return data


def grid_latency(requests: int) -> dict:
    import genlab

    with tempfile.TemporaryDirectory() as tmp:
        genlab.train("dcgan", "fashion-mnist", steps=1, batch_size=8, out=Path(tmp) / "dcgan28", progress=False,
                     tensorboard=False, sample_every=0)
        with Server(Path(tmp)) as s:
            conn = http.client.HTTPConnection("127.0.0.1", s.port)
            s.request(conn, "GET", "/api/v1/runs/dcgan28/samples.png?n=64&seed=0")
            ms = []
            for seed in range(requests):
                t0 = time.perf_counter()
                s.request(conn, "GET", f"/api/v1/runs/dcgan28/samples.png?n=64&seed={seed}")
                ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {"requests": requests, "median_ms": round(statistics.median(ms), 1),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1)}


def lab_rate(seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp)) as s:
        conn = http.client.HTTPConnection("127.0.0.1", s.port)
        sid = json.loads(s.request(conn, "POST", "/api/v1/lab", {"data": "ring8"}))["id"]
        stream = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        stream.request("GET", f"/api/v1/lab/{sid}/events", headers={"X-Genlab-Token": TOKEN})
        response = stream.getresponse()
        frames, t0, first, last = 0, None, None, None
        while True:
            line = response.readline()
            if not line.startswith(b"data:"):
                continue
            frame = json.loads(line[5:])
            if t0 is None:
                t0, first = time.perf_counter(), frame["step"]
                continue
            frames, last = frames + 1, frame["step"]
            if time.perf_counter() - t0 >= seconds:
                break
        elapsed = time.perf_counter() - t0
        stream.close()
        s.request(http.client.HTTPConnection("127.0.0.1", s.port), "DELETE", f"/api/v1/lab/{sid}")  # the first one idled out
    return {"seconds": round(elapsed, 2), "frames_per_s": round(frames / elapsed, 1),
            "steps_per_s": round((last - first) / elapsed, 1), "settings": "ring8, gan preset, the lab's defaults"}


def screenshots(root: Path, out: Path) -> list[str]:
    """A screenshot of each view over the runs under ``root`` (Debian's Chromium, headless)."""
    from playwright.sync_api import sync_playwright

    with Server(root) as s, sync_playwright() as p:
        runs = json.loads(s.request(http.client.HTTPConnection("127.0.0.1", s.port), "GET", "/api/v1/runs"))["runs"]
        ids = {r["id"]: r for r in runs}
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        base = f"http://127.0.0.1:{s.port}"
        page.goto(f"{base}/?token={TOKEN}")
        views = [("runs", "#/")]
        tagged = next((i for i, r in ids.items() if r.get("condition") == "tags"), None)
        plain = next((i for i, r in ids.items() if r.get("model") == "dcgan"), None)
        vae = next((i for i, r in ids.items() if r.get("model") == "vae"), None)
        if tagged:
            views.append(("conditions", f"#/run/{tagged}/conditions?n=16&tags=blue%20hair,green%20eyes"))
        if plain:
            views.append(("sample", f"#/run/{plain}/sample?seed=3&n=36&truncation=0.8"))
        if vae:
            views.append(("walk", f"#/run/{vae}/walk?from=test:0&to=test:7&steps=8"))
        views.append(("lab", "#/lab?data=grid25"))
        saved = []
        out.mkdir(parents=True, exist_ok=True)
        for name, hash_ in views:
            page.goto(f"{base}/{hash_}")
            page.wait_for_load_state("networkidle")
            if name == "lab":
                page.get_by_test_id("lab-start").click()
                time.sleep(8)
            elif name != "runs":  # the pictures in (the first request loads the model)
                page.wait_for_selector("img[src^='blob:']", timeout=60_000)
                time.sleep(1.0)
            page.screenshot(path=str(out / f"explorer-{name}.png"))
            saved.append(f"explorer-{name}.png")
        browser.close()
    return saved


def markdown(r: dict) -> str:
    g, lab = r["grid"], r["lab"]
    return (f"| measure | result | target |\n|---|---|---|\n"
            f"| 64-image grid of a 28 x 28 dcgan, HTTP round trip | median {g['median_ms']} ms, 90th percentile "
            f"{g['p90_ms']} ms ({g['requests']} requests) | under 100 ms |\n"
            f"| the 2-D lab streaming while it trains ({lab['settings']}) | {lab['frames_per_s']} frames/s, "
            f"{lab['steps_per_s']} steps/s over {lab['seconds']} s | at least 10 frames/s |\n\n"
            f"{r['machine']['cpu']}, {r['machine']['cores']} cores, torch {r['machine']['torch']} at {r['threads']} "
            f"thread(s), {r['date']}; load average {r['loadavg_at_start']:.1f} at the start"
            + (" (other processes were running: see the README's note)." if r["loadavg_at_start"] >= 1 else "."))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few requests, 1 s of lab: seconds")
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shots", type=Path, help="a folder of runs to take screenshots over (into this folder)")
    p.add_argument("--out", type=Path, default=None, help="results file (default: results.json beside this script)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.requests, args.seconds = 3, 1.0
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    record = {"benchmark": "explorer", "quick": args.quick, "threads": args.threads, "loadavg_at_start": load,
              "grid": grid_latency(args.requests), "lab": lab_rate(args.seconds), "machine": machine(),
              "date": time.strftime("%Y-%m-%d")}
    if args.shots:
        record["screenshots"] = screenshots(args.shots, HERE)
    out = args.out or HERE / "results.json"
    write_json(out, record)
    readme = HERE / "README.md"
    if not args.quick and args.out is None and readme.is_file():
        readme.write_text(splice(readme.read_text(), "table", markdown(record)))
    print(markdown(record))


if __name__ == "__main__":
    main()
