"""The Starlette application: pages, their JSON twins, the token check.

Every page is the same small HTML shell (``static/index.html``) whose script draws it from the
page's JSON twin: ``/flows`` and ``/flows.json``, ``/ip/10.0.1.5`` and ``/ip/10.0.1.5.json``.
Each chart reads ``/panels/NAME.json`` with the page's query string. ``/openapi.json`` describes
them all (see :mod:`.openapi`).

Errors are JSON ``{"error": "one line"}``: 400 for a bad URL or query, 403 for a query the
sandbox refuses, 401 without the token, 404 for an unknown page.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import logging
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConfigError, QueryError, QueryRefused, VpcflowError
from .dashboard import ENTITY_KINDS, PANELS, Dashboard
from .openapi import openapi_document
from .view import BadRequest

log = logging.getLogger("vpcflow.web")

__all__ = ["create_app", "TOKEN_COOKIE"]

TOKEN_COOKIE = "vpcflow_token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
PAGES = ("rejected", "findings", "flows", "console")

# Everything the page loads comes from this server: no CDN, no inline script.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def _static() -> str:
    return str(resources.files("vpcflow.web").joinpath("static"))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _Guard:
    """ASGI middleware: the token (when set) on every request; loopback Host headers only when
    bound to loopback without a token (a DNS-rebinding page cannot reach the dashboard)."""

    def __init__(self, app, token: str | None, loopback_only: bool):
        self.app, self.token, self.loopback_only = app, token, loopback_only

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        if self.token is None:
            host = (request.headers.get("host") or "").rsplit(":", 1)[0]
            if self.loopback_only and host not in LOOPBACK_HOSTS:
                resp = _error(403, f"host {host!r} refused: open the dashboard as 127.0.0.1")
                return await resp(scope, receive, send)
            return await self.app(scope, receive, send)
        given = request.query_params.get("token")
        auth = request.headers.get("authorization", "")
        candidates = [
            given,
            auth[7:] if auth.lower().startswith("bearer ") else None,
            request.cookies.get(TOKEN_COOKIE),
        ]
        if not any(c and hmac.compare_digest(c, self.token) for c in candidates):
            resp = _error(
                401, "a token is required: open the URL 'vpcflow serve' printed (…?token=…)"
            )
            return await resp(scope, receive, send)
        if given and hmac.compare_digest(given, self.token):
            # Keep the token in a cookie so that the page's own requests carry it.
            async def send_with_cookie(message):
                if message["type"] == "http.response.start":
                    cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
                await send(message)

            return await self.app(scope, receive, send_with_cookie)
        return await self.app(scope, receive, send)


class _Headers:
    """ASGI middleware: the security headers on every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                h = message.setdefault("headers", [])
                h += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    store,
    *,
    token: str | None = None,
    loopback_only: bool = True,
    configs=None,
    fetch_configs=None,
    rollups: bool = True,
) -> Starlette:
    """The dashboard over ``store`` (what ``vpcflow.open_store`` returns).

    ``token``: required on every request when set. ``configs``: troubleshoot configurations
    (``vpcflow.load_configs``) for the rejections page; ``fetch_configs(store, interface_id,
    since, until)``: fetch them instead (``--from-aws``). ``rollups=False``: every panel reads the
    records, never the store's rollups (to compare the two).
    """
    dash = Dashboard(store, configs=configs, fetch_configs=fetch_configs, rollups=rollups)
    shell = resources.files("vpcflow.web").joinpath("static/index.html").read_bytes()

    def guarded(fn):
        def endpoint(request: Request):
            try:
                return fn(request)
            except QueryRefused as exc:
                return _error(403, str(exc).splitlines()[0])
            except (BadRequest, ConfigError, QueryError) as exc:
                return _error(400, str(exc).splitlines()[0])
            except VpcflowError as exc:
                log.warning("%s: %s", request.url.path, exc)
                return _error(500, str(exc).splitlines()[0])
            except Exception as exc:  # a bug: logged with its traceback, a JSON 500 for the page
                log.exception("%s failed", request.url.path)
                return _error(500, f"internal error ({type(exc).__name__}); see the server log")

        return endpoint

    def page(request: Request) -> Response:
        if request.url.path == "/":  # the overview: its panels are computed as the page loads
            dash.prefetch(request.query_params)
        return Response(shell, media_type="text/html; charset=utf-8")

    def view_of(request: Request):
        return dash.view(request.query_params)

    def overview_json(request):
        return JSONResponse(dash.overview(view_of(request)))

    def panel_json(request):
        name = request.path_params["name"]
        if name not in PANELS:
            return _error(404, f"no panel {name!r}; panels: {', '.join(PANELS)}")
        n = _int(request, "n", 10, 1, 100)
        return JSONResponse(dash.panel(name, view_of(request), n))

    def flows_json(request):
        page_no = _int(request, "page", 1, 1, 10**9)
        size = _int(request, "size", 50, 1, 1000)
        return JSONResponse(dash.flows(view_of(request), page_no, size))

    def findings_json(request):
        return JSONResponse(dash.findings(view_of(request)))

    def rejected_json(request):
        n = _int(request, "n", 5, 1, 10_000)
        return JSONResponse(dash.rejected(view_of(request), n))

    def entity(request):
        kind, value = request.path_params["kind"], request.path_params["value"]
        if kind not in ENTITY_KINDS:
            return _error(404, f"no page /{kind}/")
        if not value.endswith(".json"):
            return page(request)
        value = value.removesuffix(".json")
        if not value:
            return _error(400, f"/{kind}/: which {kind}?")
        return JSONResponse(dash.entity(kind, value, view_of(request)))

    def info_json(request):
        first, last = dash.extent()
        from .dashboard import console_limits

        limit, timeout = console_limits()
        return JSONResponse(
            {
                "first": _iso(first),
                "last": _iso(last),
                "files": len(store.files()),
                "configurations": dash.configs is not None,
                "row_limit": limit,
                "time_limit": timeout,
                "panels": list(PANELS),
            }
        )

    def queries_json(request):
        """Every named query; with ``name`` (and ``p=K=V`` values), that one rendered."""
        from .. import queries as named_queries

        def described(q, values=None):
            try:
                sql = q.render(values)
            except QueryError:  # a required parameter without a value
                if values is not None:
                    raise
                sql = None
            return {
                "name": q.name,
                "description": q.description,
                "source": q.source,
                "params": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "default": p.default,
                        "required": p.required,
                        "description": p.description,
                    }
                    for p in q.params
                ],
                "sql": sql,
            }

        name = request.query_params.get("name")
        if name is None:
            return JSONResponse([described(q) for q in named_queries.all_queries()])
        values = {}
        for kv in request.query_params.getlist("p"):
            k, sep, v = kv.partition("=")
            if not sep:
                raise BadRequest(f"p: expected NAME=VALUE, got {kv!r}")
            values[k] = v
        return JSONResponse(described(named_queries.get(name), values))

    def _console_args(request, body: dict | None):
        src = body if body is not None else request.query_params
        language = src.get("language") or "sql"
        q = src.get("q")
        dialect = src.get("dialect") or "athena"
        for name, v in (("language", language), ("q", q), ("dialect", dialect)):
            if v is not None and not isinstance(v, str):
                raise BadRequest(f"{name}: expected a string")
        return language, q or "", dialect

    async def query_json(request):
        body = None
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                return _error(400, f"request body: not JSON ({exc})")
            if not isinstance(body, dict):
                return _error(400, "request body: expected a JSON object")
        from starlette.concurrency import run_in_threadpool

        def run():
            language, q, dialect = _console_args(request, body)
            return JSONResponse(dash.console(language, q, dialect))

        return await run_in_threadpool(guarded(lambda _r: run()), request)

    def query_csv(request):
        language, q, dialect = _console_args(request, None)
        res = dash.console(language, q, dialect)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(res["columns"])
        for r in res["rows"]:
            w.writerow(["" if r[c] is None else r[c] for c in res["columns"]])
        return PlainTextResponse(
            buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="vpcflow-query.csv"'},
        )

    async def configs_json(request):
        """Upload describe-* JSON: {"security_groups": TEXT, "network_acls": TEXT, ...}."""
        from starlette.concurrency import run_in_threadpool

        from .. import troubleshoot as ts
        from ..troubleshoot import configs as cfg

        try:
            body = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(400, f"request body: not JSON ({exc})")
        if not isinstance(body, dict):
            return _error(400, "request body: expected a JSON object")
        unknown = set(body) - {"security_groups", "network_acls", "network_interfaces"}
        if unknown:
            return _error(400, f"unknown key(s) {', '.join(sorted(unknown))}")
        if not any(body.values()):
            dash.set_configs(None)
            return JSONResponse({"configurations": False})

        def parse():
            c = ts.Configs()
            for key, fn, target in (
                ("security_groups", cfg.parse_security_groups, c.security_groups),
                ("network_acls", cfg.parse_network_acls, c.network_acls),
                ("network_interfaces", cfg.parse_network_interfaces, c.interfaces),
            ):
                text = body.get(key)
                if text is None:
                    continue
                if not isinstance(text, str):
                    raise BadRequest(f"{key}: expected the JSON text the AWS CLI printed")
                target.update(fn(text, f"uploaded {key.replace('_', '-')}"))
            dash.set_configs(c)
            return JSONResponse(
                {
                    "configurations": True,
                    "security_groups": len(c.security_groups),
                    "network_acls": len(c.network_acls),
                    "network_interfaces": len(c.interfaces),
                }
            )

        return await run_in_threadpool(guarded(lambda _r: parse()), request)

    def openapi(request):
        return JSONResponse(openapi_document())

    def not_found(request, exc):
        return _error(404, f"no page {request.url.path}")

    routes = [
        Route("/", page),
        *[Route(f"/{p}", page) for p in PAGES],
        Route("/overview.json", guarded(overview_json)),
        Route("/panels/{name}.json", guarded(panel_json)),
        Route("/flows.json", guarded(flows_json)),
        Route("/findings.json", guarded(findings_json)),
        Route("/rejected.json", guarded(rejected_json)),
        Route("/info.json", guarded(info_json)),
        Route("/queries.json", guarded(queries_json)),
        Route("/query.json", query_json, methods=["GET", "POST"]),
        Route("/query.csv", guarded(query_csv)),
        Route("/configs.json", configs_json, methods=["POST"]),
        Route("/openapi.json", openapi),
        Mount("/static", StaticFiles(directory=_static()), name="static"),
        Route("/{kind}/{value:path}", guarded(entity)),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: _method_not_allowed})
    app.state.dashboard = dash
    app.add_middleware(_Guard, token=token, loopback_only=loopback_only)
    app.add_middleware(_Headers)
    return app


def _method_not_allowed(request, exc):
    return _error(405, f"{request.method} is not allowed on {request.url.path}")


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    v = request.query_params.get(name)
    if v in (None, ""):
        return default
    try:
        n = int(v)
    except ValueError:
        raise BadRequest(f"{name}: {v!r} is not a whole number") from None
    if not lo <= n <= hi:
        raise BadRequest(f"{name}: {n} is not between {lo} and {hi}")
    return n


def _iso(t):
    from .dashboard import _iso as iso

    return iso(t)
