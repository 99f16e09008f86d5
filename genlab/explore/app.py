"""The explorer's web app (Starlette): the page, its JSON/PNG API (v1), and the guards around them.

Guards, on every request: the Host header must name this machine (DNS rebinding), the launch's
random token must come with the request (query ``token`` once, then the cookie the page gets; or
the ``X-Genlab-Token`` header), and every response carries a content-security policy that lets the
page load nothing from anywhere but this server. No CORS headers: other origins cannot read it.
"""

from __future__ import annotations

import contextlib
import hmac
from importlib import resources
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from genlab import __version__
from genlab.errors import GenlabError
from genlab.explore import views
from genlab.explore.runs import Runs, UnknownRun

API = "/api/v1"
COOKIE = "genlab_token"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


def static_dir() -> Path:
    return Path(str(resources.files("genlab.explore") / "static"))


class Guard:
    """ASGI middleware: Host check, token check, security headers."""

    def __init__(self, app, token: str, hosts: tuple[str, ...]):
        self.app, self.token, self.hosts = app, token, {h.lower() for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if _hostname(headers.get("host", "")) not in self.hosts:
            return await _plain(send, 400, "error: this server answers only to requests for "
                                + " or ".join(sorted(self.hosts)) + " (Host header)")
        given = _token_of(scope, headers)
        if not (given and hmac.compare_digest(given.encode(), self.token.encode())):
            return await _plain(send, 403, "error: this page needs the token printed by 'genlab explore' "
                                "(open the URL it printed)")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _token_of(scope, headers: dict[str, str]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    if headers.get("x-genlab-token"):
        return headers["x-genlab-token"]
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


async def _plain(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            *HEADERS]})
    await send({"type": "http.response.body", "body": body})


# -- endpoints ---------------------------------------------------------------------------------
def _json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message.removeprefix("error: ")}, status_code=status)


def _answer(fn: Callable[[], Response]) -> Response:
    """``fn()``, with genlab's errors as JSON: an unknown run 404, bad input 400."""
    try:
        return fn()
    except UnknownRun as e:
        return _json_error(404, str(e))
    except GenlabError as e:
        return _json_error(400, str(e))
    except (ValueError, KeyError) as e:
        return _json_error(400, f"bad request: {e}")


def create_app(root: str | Path, token: str, *, hosts: tuple[str, ...] = LOCAL_HOSTS, device: str = "cpu",
               lab: bool = True) -> Guard:
    """The explorer over the runs under ``root``, answering requests that carry ``token`` and name
    one of ``hosts``."""
    runs = Runs(root, device=device)
    def index(request: Request) -> Response:
        page = (static_dir() / "index.html").read_bytes()
        response = Response(page, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})
        if "token" in request.query_params:  # the printed URL: keep the token in a cookie, then a clean URL
            response = RedirectResponse("/" + (f"#{request.url.fragment}" if request.url.fragment else ""), 303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    def list_runs(request: Request) -> Response:
        def go():
            listed = []
            for run_id in runs.ids():
                try:
                    listed.append(runs.summary(run_id))
                except GenlabError as e:  # a damaged run is listed with what is wrong with it
                    listed.append({"id": run_id, "error": str(e)})
            return JSONResponse({"root": str(runs.root), "runs": listed})
        return _answer(go)

    def info(request: Request) -> Response:
        return _answer(lambda: JSONResponse(runs.info(request.path_params["run_id"])))

    def picture(kind: str):
        def endpoint(request: Request) -> Response:
            def go():
                run_id, q = request.path_params["run_id"], dict(request.query_params)
                model = runs.model(run_id)
                with runs.lock:
                    if kind == "samples":
                        body, command = views.samples(model, q)
                    elif kind == "classes":
                        body, command = views.classes(model, q)
                    elif kind == "plane":
                        body, command = views.plane(model, q)
                    elif kind == "walk":
                        asks = "test:" in q.get("from", "") + q.get("to", "")
                        data = runs.test_set(run_id) if asks and views.encodes(model) else None
                        body, _, command = views.walk(model, q, data)
                    else:
                        body, command = views.test_images(model, q, runs.test_set(run_id)), ""
                return Response(body, media_type="image/png",
                                headers={"x-genlab-command": command.replace(str(model.run_dir), _shown(runs, run_id)),
                                         "cache-control": "no-store"})
            return _answer(go)
        return endpoint

    routes = [Route("/", index),
              Route(f"{API}/version", lambda r: JSONResponse({"api": 1, "genlab": __version__})),
              Route(f"{API}/runs", list_runs),
              *[Route(f"{API}/runs/{{run_id:path}}/{kind}.png", picture(kind))
                for kind in ("samples", "classes", "plane", "walk", "test")],
              Route(f"{API}/runs/{{run_id:path}}/info", info),
              Route(f"{API}/{{rest:path}}", lambda r: _json_error(404, f"no such API path: {r.url.path}"),
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
              Mount("/static", StaticFiles(directory=static_dir()), name="static")]
    manager = None
    if lab:
        from genlab.explore.lab import LabManager, lab_routes

        manager = LabManager(runs.root)
        routes[2:2] = lab_routes(manager)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            if manager is not None:
                manager.close_all()

    guard = Guard(Starlette(routes=routes, lifespan=lifespan), token, hosts)
    guard.runs, guard.lab = runs, manager
    return guard


def _shown(runs: Runs, run_id: str) -> str:
    """A run's folder as a command shows it: relative to where the explorer was started when under it."""
    path = runs.root / run_id
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
