"""The dashboard's reader of the REST API: the typed client (``backend/client.py``), with the
boards it reads again and again revalidated by ETag.

Bodies the API sends with an ``ETag`` (the leaderboards) are kept, parsed, in a process-wide
cache and re-validated with ``If-None-Match`` on every read: an unchanged board costs a 304 and
no parsing, and a new result shows at the very next read (no time-to-live to wait out).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import flask

from backend.client import ApiClient, ApiError
from shared_kernel.lru import LruCache

__all__ = [
    "CONDITIONAL",
    "ApiError",
    "ConditionalCache",
    "DashboardClient",
    "admin_api_client",
    "current_api_client",
]

T = TypeVar("T")


class ConditionalCache:
    """Parsed bodies by request, each with the ETag it came with (least recently used out)."""

    def __init__(self, max_entries: int = 512) -> None:
        self._entries: LruCache[tuple[Any, ...], tuple[str, Any]] = LruCache(max_entries)
        self._lock = threading.Lock()
        self.hits = 0  # 304s answered from here (for tests and the bench)

    def get(self, key: tuple[Any, ...]) -> tuple[str, Any] | None:
        return self._entries.get(key)

    def put(self, key: tuple[Any, ...], etag: str, value: Any) -> None:
        self._entries.put(key, (etag, value))

    def hit(self) -> None:
        with self._lock:
            self.hits += 1

    def clear(self) -> None:
        self._entries.clear()
        with self._lock:
            self.hits = 0


CONDITIONAL = ConditionalCache()


class DashboardClient(ApiClient):
    """The typed client, with boards and combined scores kept and revalidated by ETag."""

    def _get_board(self, path: str, params: dict[str, str], parse: Callable[[Any], T]) -> T:
        """GET ``path``; the kept parse of the body when the API answers 304 to its ETag."""
        # per caller: a token may see other boards than an anonymous reader
        caller = self._http.headers.get("Authorization")
        key = (self.base_url, caller, path, tuple(sorted(params.items())))
        cached = CONDITIONAL.get(key)
        headers = {"If-None-Match": cached[0]} if cached else None
        response = self._send("GET", path, params=params, headers=headers)
        if response.status_code == 304 and cached is not None:
            CONDITIONAL.hit()
            value: T = cached[1]
            return value
        value = parse(self._json(response, "GET", path))
        if etag := response.headers.get("ETag"):
            CONDITIONAL.put(key, etag, value)
        return value


#: Where the Flask config of a dashboard holds its API's URL (set by ``frontend.app``).
API_URL_CONFIG_KEY = "MLIPM_API_URL"
# A board of hundreds of models with their per-material entries takes seconds on a busy API.
API_TIMEOUT_S = 30.0

_CLIENTS: dict[str, DashboardClient] = {}
_CLIENTS_LOCK = threading.Lock()


def current_api_client() -> DashboardClient:
    """The DashboardClient of the app serving the current request (use inside callbacks): one per
    API URL, so every callback shares its keep-alive connections."""
    url = flask.current_app.config[API_URL_CONFIG_KEY]
    client = _CLIENTS.get(url)
    if client is not None:
        return client
    # Made outside the lock: under gunicorn's gevent workers the lock (made before the
    # worker's monkey-patching) blocks the whole process, and making a client can yield to
    # another greenlet (its first imports), which then waits on the lock forever: the first
    # callbacks of a fresh worker, arriving together, hung it until gunicorn killed it.
    made = DashboardClient(url, timeout=API_TIMEOUT_S)
    with _CLIENTS_LOCK:
        client = _CLIENTS.setdefault(url, made)
    if client is not made:
        made.close()
    return client


def admin_api_client(token: str) -> DashboardClient:
    """A client of the current app's API sending ``token`` (close it after use)."""
    return DashboardClient(flask.current_app.config[API_URL_CONFIG_KEY], token, API_TIMEOUT_S)
