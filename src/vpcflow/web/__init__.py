"""The web dashboard (``vpcflow serve``): pages over the library, each with a JSON twin.

    >>> from vpcflow.web import create_app, serve
    >>> app = create_app(vpcflow.open_store("flows"))     # an ASGI app (Starlette)
    >>> serve("flows", port=8000)                          # blocks; Ctrl+C stops it

Needs the ``web`` extra (``pip install 'vpcflow[web]'``: Starlette and uvicorn). Apache ECharts
and the world map ship inside the package; the pages load nothing from elsewhere.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable

from ..errors import ConfigError, MissingDependency

log = logging.getLogger("vpcflow.web")

__all__ = ["create_app", "serve", "is_loopback", "Server"]


def _require() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise MissingDependency("starlette and uvicorn", "web") from None


def create_app(store, **options):
    """The dashboard's ASGI application over ``store`` (see :func:`.app.create_app`)."""
    _require()
    from .app import create_app as _create

    return _create(store, **options)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Server:
    """A bound dashboard server: ``url`` is known before ``run()`` blocks."""

    def __init__(
        self, store, host: str = "127.0.0.1", port: int = 8000, token: str | None = None, **options
    ):
        _require()
        import uvicorn

        loopback = is_loopback(host)
        if not loopback and not token:
            token = secrets.token_urlsafe(24)  # never serve another address without one
        self.token = token
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        sock.listen(128)
        self.socket = sock
        self.port = sock.getsockname()[1]
        self.host = host
        self.warm = options.pop("warm", False)
        app = create_app(store, token=token, loopback_only=loopback and not token, **options)
        self.app = app
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)

    @property
    def url(self) -> str:
        shown = self.host if self.host not in ("0.0.0.0", "::") else socket.gethostname()
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        url = f"http://{shown}:{self.port}/"
        return url + (f"?token={self.token}" if self.token else "")

    def run(self) -> None:
        import threading

        stop = threading.Event()
        warming = None
        self.app.state.dashboard.prepare()  # (the socket listens: a visit waits for it)
        if self.warm:  # the default view, computed now and after every ingest
            dash = self.app.state.dashboard
            warming = threading.Thread(target=dash.keep_warm, args=(stop,), daemon=True)
            warming.start()
        try:
            self._server.run(sockets=[self.socket])
        finally:
            stop.set()
            self.socket.close()
            if warming is not None:  # let a query under way finish (not a whole summary)
                warming.join(5)

    def stop(self) -> None:
        self._server.should_exit = True


def serve(
    store,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    ready: Callable[[Server], None] | None = None,
    **options,
) -> None:
    """Serve the dashboard until interrupted. ``store``: a store or its path.

    Loopback by default; any other address requires ``token`` (one is generated when not given:
    ``ready(server)`` gets the server, whose ``url`` carries it)."""
    if isinstance(store, str) or hasattr(store, "__fspath__"):
        from ..api import open_store

        store = open_store(store, create=False)
    options.setdefault("warm", True)
    server = Server(store, host, port, token, **options)
    if ready is not None:
        ready(server)
    server.run()
