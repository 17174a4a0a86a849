"""Start the dashboard on 127.0.0.1 (a free port) in a thread for a test; stop it after. And the
view of a query string and a panel's answer, for tests that call the dashboard directly."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

from starlette.datastructures import QueryParams

from vpcflow.web import Server


def view_of(dash, qs: str):
    """The dashboard's view of a URL query string (``range=day&unit=bytes``)."""
    return dash.view(QueryParams([tuple(kv.split("=", 1)) for kv in qs.split("&")]))


def answer(dash, panel: str, view) -> tuple[str, list[str]]:
    """A panel's JSON (canonical text, without ``reads``) and what it read."""
    body = dash.panel(panel, view)
    reads = body.pop("reads")
    return json.dumps(body, sort_keys=True), reads


@contextmanager
def running(store, host: str = "127.0.0.1", **options):
    server = Server(store, host, 0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        # Wait until uvicorn accepts requests.
        for _ in range(200):
            if server._server.started:
                break
            threading.Event().wait(0.05)
        yield server, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        thread.join(10)


def get(url: str, headers: dict | None = None, data: bytes | None = None, method=None):
    """(status, headers, body bytes) of a request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, headers=headers or {}, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(url: str, **kw):
    status, _, body = get(url, **kw)
    return status, json.loads(body)
