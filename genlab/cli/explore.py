"""``genlab explore [RUNS_DIR]``: the explorer page over a folder of runs (genlab.explore), served on
this machine only unless told otherwise, behind a token printed with the URL (as Jupyter does)."""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
from pathlib import Path

from genlab.cli.argtypes import Int, example, threads_int
from genlab.errors import GenlabError

port_int = Int(0, 65535)


def add_parser(subparsers, device_help: str, threads_help: str) -> None:
    x = example(subparsers.add_parser("explore", help="a local web page over trained runs, and the 2-D lab live"),
                "explore runs --no-browser")
    x.add_argument("runs_dir", nargs="?", default="runs", help="the folder of runs to show (default: runs)")
    x.add_argument("--port", type=port_int, default=8765, help="port (default 8765; 0: any free port)")
    x.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; another one lets the "
                        "network reach the page, behind its token)")
    x.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    x.add_argument("--device", default="cpu", help=device_help)
    x.add_argument("--threads", type=threads_int, help=threads_help)


def run(args: argparse.Namespace) -> int:
    root = Path(args.runs_dir)
    if not root.is_dir():
        raise GenlabError(f"{root} is not a directory of runs (make one with 'genlab train ... --out {root}/NAME')")
    try:
        import uvicorn

        from genlab.explore import create_app
    except ImportError as e:
        raise GenlabError(f"genlab explore needs the explore extra ({e.name} is missing): "
                          "pip install 'genlab[explore]'") from None
    from genlab.training.device import resolve_device, set_threads

    set_threads(args.threads)
    device = str(resolve_device(args.device))
    local = args.host in ("127.0.0.1", "localhost", "::1")
    if not local:
        print(f"genlab explore: warning: listening on {args.host}: other machines can reach this page "
              "(it still needs the token)", file=sys.stderr)
    sock = _bind(args.host, args.port)
    token = secrets.token_urlsafe(24)
    hosts = ("127.0.0.1", "localhost", "::1") + (() if local else (args.host,))
    app = create_app(root, token, hosts=hosts, device=device)
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if local else args.host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/?token={token}"
    print(f"genlab explore: {len(app.runs.ids())} run(s) under {root}; open\n    {url}\n(Ctrl-C stops it)",
          flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C or a kill is how the page is closed: not an error
        pass
    print("genlab explore: stopped", file=sys.stderr)
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise GenlabError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port") from None
    sock.listen(128)  # from now on a request waits in the backlog until the server takes it
    return sock
