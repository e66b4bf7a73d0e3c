"""HTTP hardening of the API: a validated request id, security headers, ``Allow`` on 405, and
an OpenAPI document that says which operations take an optional token.

Both middlewares are pure ASGI and sit outside every other middleware (see ``backend.main``),
so the 413 of the body limit and every error response get them too.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, Router, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.deps import current_user, optional_user
from backend.api.errors import internal_error

#: What a client may send as ``X-Request-ID``; anything else is replaced by a fresh id, so a
#: header value never reaches logs or responses unchecked.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: The API serves JSON only: nothing may be loaded, framed or run from its responses.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: Swagger UI and ReDoc load their bundles from the API itself (``api.docs``) and start with
#: an inline script (FastAPI's pages), and ReDoc runs a worker from a blob.
DOCS_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; "
    "img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
HSTS = "max-age=31536000"


def valid_request_id(value: str | None) -> str:
    """``value`` when it is a safe token, else a fresh id."""
    return value if value and REQUEST_ID.fullmatch(value) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Replace a missing or unsafe ``X-Request-ID`` in the request before anything reads it,
    keep it in ``request.state.request_id`` (error bodies name it) and send it back with
    every response that does not carry one already."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"x-request-id"]
        sent = [v for k, v in scope.get("headers", []) if k == b"x-request-id"]
        rid = valid_request_id(sent[0].decode("latin-1") if len(sent) == 1 else None).encode()
        # in place: the error handler outside every middleware reads the same scope
        scope["headers"] = [*headers, (b"x-request-id", rid)]
        scope.setdefault("state", {})["request_id"] = rid.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in out):
                    message = {**message, "headers": [*out, (b"x-request-id", rid)]}
            await send(message)

        await self.app(scope, receive, send_with_id)


class SecurityHeadersMiddleware:
    """Add the security headers to every response, and ``Allow`` to every 405."""

    def __init__(self, app: ASGIApp, *, router: Router, docs_paths: frozenset[str]) -> None:
        self.app, self.router, self.docs_paths = app, router, docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = self._headers(scope, message)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise
            # No handler answered. Starlette's own error middleware sits outside every
            # middleware and would send its 500 without these headers or the request id:
            # send the same error body from here, then let the server log the exception.
            await internal_error(Request(scope))(scope, receive, send_with_headers)
            raise

    def _headers(self, scope: Scope, message: Message) -> list[tuple[bytes, bytes]]:
        headers = list(message.get("headers", []))
        present = {k.lower() for k, _ in headers}
        csp = DOCS_CSP if scope.get("path") in self.docs_paths else API_CSP
        extra = {**COMMON_HEADERS, "content-security-policy": csp}
        if scope.get("scheme") == "https":
            extra["strict-transport-security"] = HSTS
        if message["status"] == 405:
            headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
            extra["allow"] = ", ".join(allowed_methods(self.router, scope.get("path", "")))
        headers += [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
        return headers


def static_methods(router: Router) -> dict[str, set[str]]:
    """The methods of each static path (one without parameters) that routes serve."""
    found: dict[str, set[str]] = {}
    for rc in iter_route_contexts(router.routes):
        if rc.path is not None and rc.methods and "{" not in str(rc.path):
            found.setdefault(str(rc.path), set()).update(rc.methods)
    return found


class StaticPathGuard(BaseRoute):
    """The first route: a method a static path does not serve is 405 there.

    Otherwise ``PATCH /models/card-schema`` would be taken by ``PATCH /models/{model_id}``
    (a 422 for the id, or a 401) although ``/models/card-schema`` is a resource of its own
    that only answers GET. Its 405 goes through the app's error handlers, and
    ``SecurityHeadersMiddleware`` adds ``Allow``.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self._static: dict[str, set[str]] | None = None  # the routes are all there at 1st use

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            if self._static is None:
                self._static = static_methods(self.router)
            methods = self._static.get(scope["path"])
            if methods and scope["method"] not in methods:
                return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(status_code=405)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)


def allowed_methods(router: Router, path: str) -> list[str]:
    """Every method some route serves at ``path`` (a 405's ``Allow``); at a static path, the
    methods of its own routes.

    Starlette's own 405 names only the first route matching the path, and several routes
    (``GET /tokens``, ``POST /tokens``) often share one.
    """
    if own := static_methods(router).get(path):
        return sorted(own)
    methods: set[str] = set()
    for rc in iter_route_contexts(router.routes):
        if rc.path is not None and compile_path(str(rc.path))[0].match(path):
            methods |= rc.methods or set()
    for route in router.routes:  # static files (the docs' assets) answer GET and HEAD
        if isinstance(route, Mount) and path.startswith(f"{route.path}/"):
            methods |= {"GET", "HEAD"}
    return sorted(methods)


def uses(route: APIRoute, dependency: Any) -> bool:
    """Whether ``dependency`` is called anywhere in the route's dependency tree."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is dependency:
            return True
        pending.extend(dependant.dependencies)
    return False


def install_optional_auth_in_openapi(app: FastAPI) -> None:
    """Declare the token optional (``security: [{}, {HTTPBearer: []}]``) on operations that
    serve anonymous callers too; FastAPI marks every use of the bearer scheme as required."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for rc in iter_route_contexts(app.routes):
            route = rc.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            if not uses(route, optional_user) or uses(route, current_user):
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(rc.path_format, {}).get(method.lower())
                if operation is not None and operation.get("security"):
                    operation["security"] = [{}, *operation["security"]]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
