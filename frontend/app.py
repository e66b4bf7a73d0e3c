"""The Dash app: pages from ``frontend/pages``, a navbar, assets served locally (no CDN)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import dcc, html

from backend.settings import get_settings
from frontend.api_client import ApiClient
from frontend.downloads import register_downloads

FRONTEND_DIR = Path(__file__).resolve().parent
PAGES_DIR = FRONTEND_DIR / "pages"
ASSETS_DIR = FRONTEND_DIR / "assets"
API_URL_CONFIG_KEY = "MLIPM_API_URL"
TITLE = "MLIP Metrology"
# A board of hundreds of models with their per-material entries takes seconds on a busy API.
API_TIMEOUT_S = 30.0


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
NAV_ORDER = ("/", "/elements", "/campaigns", "/landscape")
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


_CLIENTS: dict[str, ApiClient] = {}
_CLIENTS_LOCK = threading.Lock()


def current_api_client() -> ApiClient:
    """The ApiClient of the app serving the current request (use inside callbacks): one per
    API URL, so every callback shares its keep-alive connections."""
    url = flask.current_app.config[API_URL_CONFIG_KEY]
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(url)
        if client is None:
            client = _CLIENTS[url] = ApiClient(url, timeout=API_TIMEOUT_S)
        return client


def admin_api_client(token: str) -> ApiClient:
    """A client of the current app's API sending ``token`` (close it after use)."""
    return ApiClient(flask.current_app.config[API_URL_CONFIG_KEY], token, API_TIMEOUT_S)


def main() -> None:
    """Serve the dashboard on ``dash_host:dash_port`` (debug off)."""
    settings = get_settings()
    create_app().run(host=settings.dash_host, port=settings.dash_port, debug=False)


def _register_page_callbacks(app: dash.Dash) -> None:
    # Pages attach callbacks to this app explicitly (not with the global ``dash.callback``),
    # so that several apps in one process (tests) each get exactly one copy of them.
    for page in dash.page_registry.values():
        register = getattr(sys.modules.get(page["module"]), "register_callbacks", None)
        if register is not None:
            register(app)
