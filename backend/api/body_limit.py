"""One size limit on every request body (``MLIPM_MAX_REQUEST_MB``), answered with 413.

A pure ASGI middleware, outside everything else: a body larger than the limit is refused before
any route, dependency or JSON parser reads it. A declared ``Content-Length`` over the limit is
refused at once; a chunked body is read up to the limit, and replayed to the app when it fits.
Upload endpoints that stream to disk under their own, larger limit are marked with
:func:`streams_own_body` and passed through untouched.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.routing import iter_route_contexts
from starlette.routing import Router, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import get_settings

MIB = 1024 * 1024
_MARK = "__mlipm_streams_own_body__"
F = TypeVar("F", bound=Callable[..., Any])


def streams_own_body(endpoint: F) -> F:
    """Mark a route whose endpoint streams its body under its own size limit."""
    setattr(endpoint, _MARK, True)
    return endpoint


def streams_own(endpoint: object) -> bool:
    """Whether ``endpoint`` is marked with ``streams_own_body``."""
    return bool(getattr(endpoint, _MARK, False))


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, router: Router) -> None:
        self.app, self.router = app, router
        self._own_body: list[tuple[re.Pattern[str], set[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._streams_own_body(scope):
            await self.app(scope, receive, send)
            return
        max_bytes = int(get_settings().max_request_mb * MIB)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > max_bytes:
            await _too_large(scope, send, max_bytes)
            return
        if declared.isdigit():  # the server holds the body to its declared length
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > max_bytes:
                await _too_large(scope, send, max_bytes)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(messages, receive), send)

    def _streams_own_body(self, scope: Scope) -> bool:
        if self._own_body is None:  # routes are all included once the first request comes
            self._own_body = [
                (compile_path(str(rc.path))[0], set(rc.methods or ()))
                for rc in iter_route_contexts(self.router.routes)
                if getattr(rc.endpoint, _MARK, False)
            ]
        path, method = scope.get("path", ""), scope.get("method", "")
        return any(method in methods and regex.match(path) for regex, methods in self._own_body)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    headers = dict(scope.get("headers") or [])
    request_id = headers.get(b"x-request-id", b"").decode("latin-1") or uuid.uuid4().hex
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is larger than the limit of {max_bytes / MIB:g} "
                "MiB (setting MLIPM_MAX_REQUEST_MB)",
                "where": "body",
                "request_id": request_id,
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode("latin-1")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
