"""The Dash app: pages from ``frontend/pages``, a navbar, assets served locally (no CDN)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import dcc, html

from backend.settings import get_settings
from frontend.api_client import API_URL_CONFIG_KEY
from frontend.downloads import register_downloads

FRONTEND_DIR = Path(__file__).resolve().parent
PAGES_DIR = FRONTEND_DIR / "pages"
ASSETS_DIR = FRONTEND_DIR / "assets"
TITLE = "MLIP Metrology"

#: Scripts: the dashboard's own files and the inline scripts Dash writes into the page (the
#: renderer's start, clientside callbacks), allowed by hash. Styles: Plotly and the dropdowns
#: add <style> elements at run time, so inline styles are allowed. Nothing loads from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self' {script_hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Dash loads plotly.js (4.8 MB) from an unversioned URL, so by default each page with a figure
# asked for it again: a 304, but one that waited behind the callbacks of a busy worker (75-170
# ms of the model page's first drawing). A browser now keeps it an hour: after a Plotly
# upgrade it may draw with the previous plotly.js for up to that long.
PLOTLY_JS = "/plotly/package_data/plotly.min.js"
PLOTLY_JS_MAX_AGE_S = 3600

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(api_url: str | None = None) -> dash.Dash:
    """Build the dashboard reading the API at ``api_url`` (default: ``get_settings().api_url``).

    The URL is kept in the Flask config under ``API_URL_CONFIG_KEY``; callbacks reach it
    through ``current_api_client()``.
    """
    app = dash.Dash(
        # The package name makes Dash import pages as ``frontend.pages.<name>``.
        "frontend",
        use_pages=True,
        pages_folder=str(PAGES_DIR),
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,
        title=TITLE,
        update_title="",
    )
    app.server.config[API_URL_CONFIG_KEY] = (api_url or get_settings().api_url).rstrip("/")
    register_downloads(app.server)
    _register_page_callbacks(app)
    install_security_headers(app)
    app.layout = html.Div(
        [
            # The admin token typed on the campaign page: kept for the browser tab only.
            dcc.Store(id="app-admin-token", storage_type="session"),
            navbar(),
            dbc.Container(dash.page_container, fluid=True, className="pb-5"),
        ]
    )
    return app


def create_server(api_url: str | None = None) -> flask.Flask:
    """WSGI entry point, e.g. ``gunicorn 'frontend.app:create_server()'``."""
    server: flask.Flask = create_app(api_url).server
    return server


# Pages in the navbar, in this order; the energy-landscape page is linked even before it exists.
NAV_ORDER = ("/", "/elements", "/campaigns", "/landscape", "/representations")
LANDSCAPE = {"name": "Energy landscapes", "relative_path": "/landscape", "path": "/landscape"}


def navbar() -> dbc.NavbarSimple:
    """One link per page that belongs in the navbar (not the per-model or per-run pages)."""
    pages = [p for p in dash.page_registry.values() if p.get("nav", True)]
    if not any(p["path"] == LANDSCAPE["path"] for p in pages):
        pages.append(LANDSCAPE)
    pages.sort(key=lambda p: NAV_ORDER.index(p["path"]) if p["path"] in NAV_ORDER else 99)
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in pages
    ]
    return dbc.NavbarSimple(
        links, id="app-navbar", brand=TITLE, brand_href="/", color="dark", dark=True, fluid=True
    )


def install_security_headers(app: dash.Dash) -> None:
    """Send the CSP and the other security headers with every response of ``app``."""
    policy: list[str] = []  # made at the first response, once every callback is registered

    @app.server.after_request
    def _security_headers(response: flask.Response) -> flask.Response:
        if flask.request.path.endswith(PLOTLY_JS) and response.status_code in (200, 304):
            response.headers["Cache-Control"] = f"public, max-age={PLOTLY_JS_MAX_AGE_S}"
        if not policy:
            policy.append(CSP.format(script_hashes=" ".join(app.csp_hashes())))
        response.headers.setdefault("Content-Security-Policy", policy[0])
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """How gunicorn serves the dashboard (counts, seconds).

    The workers are gevent's: each connection is a greenlet, so a client that sends its
    request a byte at a time holds a greenlet, not one of a few threads. With gthread workers
    (2 x 8 threads), 64 such sockets left the dashboard unable to answer anyone
    (bench/slow_clients.py; docs/performance.md).
    """

    workers: int = 2
    #: connections (greenlets) per worker, slow ones included; beyond this a worker stops
    #: accepting until one closes
    worker_connections: int = 1000
    #: the arbiter restarts a worker whose loop is silent this long (a callback's API calls are
    #: bounded by the API client's API_TIMEOUT_S)
    timeout_s: int = 60
    #: idle time allowed between requests on a kept-alive connection
    keep_alive_s: int = 5


def serve(options: ServeOptions | None = None, *, dev: bool = False) -> None:
    """Serve the dashboard on ``dash_host:dash_port``: gunicorn (gevent workers), or with
    ``dev`` Flask's development server (one process, for debugging only)."""
    settings = get_settings()
    if dev:
        create_app().run(host=settings.dash_host, port=settings.dash_port, debug=False)
        return
    from gunicorn.app.base import BaseApplication

    opts = options or ServeOptions()
    config = {
        "bind": f"{settings.dash_host}:{settings.dash_port}",
        "worker_class": "gevent",
        "workers": opts.workers,
        "worker_connections": opts.worker_connections,
        "timeout": opts.timeout_s,
        "keepalive": opts.keep_alive_s,
        # request line, header count and header size stay at gunicorn's limits (4094 B, 100,
        # 8190 B): a request head is at most ~800 kB
    }

    class DashboardServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in config.items():
                self.cfg.set(key, value)

        def load(self) -> flask.Flask:
            return create_server()

    DashboardServer().run()


def main() -> None:
    """Serve the dashboard with gunicorn (see :func:`serve`)."""
    serve()


def _register_page_callbacks(app: dash.Dash) -> None:
    # Pages attach callbacks to this app explicitly (not with the global ``dash.callback``),
    # so that several apps in one process (tests) each get exactly one copy of them.
    for page in dash.page_registry.values():
        register = getattr(sys.modules.get(page["module"]), "register_callbacks", None)
        if register is not None:
            register(app)
