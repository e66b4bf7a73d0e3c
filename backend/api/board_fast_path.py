"""The boards' fast path: revalidate ``GET /leaderboards[/{key}]`` before FastAPI is entered.

A board's ETag depends only on its benchmarks' change counters (bumped by triggers) and the
request's path and query (``backend.services.leaderboard.etag_of``). This ASGI middleware reads
the counters (one statement for all the requests waiting at once,
``backend.services.board_counters``), and answers

- 304 when the client's ``If-None-Match`` holds the board's current ETag,
- 200 with the body this process stored under that ETag (``backend.api.board_bodies``),

without routing, dependency injection, query validation or an ORM session: those cost about
4 ms of CPU per request (docs/performance.md, Read path). Any other
request (no stored body, a missing counter, a key the fast path cannot parse) goes on to the
route unchanged, which builds the board, checks every parameter and stores the body.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.board_bodies import BODIES, MAX_BODIES
from backend.services.board_counters import COUNTERS
from shared_kernel.lru import LruCache

log = logging.getLogger(__name__)
PREFIX = "/leaderboards"
#: Answers given here, by status (for tests and the bench; the route's are not counted).
ANSWERED: Counter[int] = Counter()


_Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class BoardFastPath:
    """Answer a board's revalidation or repeat read from its counters and stored body; while
    this process builds a board after a write, other readers of it get the previous body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        #: request key -> the ETag of the newest body this process built for it
        self.latest: LruCache[str, str] = LruCache(MAX_BODIES)
        #: request keys whose board this process is building, set when the build is done
        self.building: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        board = _board_of(scope)
        if board is None:
            await self.app(scope, receive, send)
            return
        keys, version, request_key = board
        # the app may name another reader (tests: one on their own transaction's connection)
        read = getattr(scope["app"].state, "board_etag_reader", None)
        try:
            if read is None:  # counters read once for every request waiting with this one
                etag = (await COUNTERS.snapshot()).etag(keys, version, request_key)
            else:
                etag = await to_thread.run_sync(read, keys, version, request_key)
        except Exception:  # the database is away: the route answers as it always has
            log.debug("board fast path: counters unavailable", exc_info=True)
            etag = None
        answer = None if etag is None else _answer(scope, etag)
        rkey = repr(sorted(request_key))
        if answer is None and etag is not None and rkey in self.building:
            answer = await self._meanwhile(scope, rkey, etag)
        if answer is None:
            await self._build(scope, receive, send, rkey)
            return
        status, headers, body = answer
        ANSWERED[status] += 1
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _meanwhile(self, scope: Scope, rkey: str, etag: str) -> _Answer | None:
        """While another request builds this board: its previous body, marked as such (a
        reader never waits for a rebuild); with none, the new one once built."""
        previous = self.latest.get(rkey)
        stale = None if previous is None else _answer(scope, previous)
        if stale is not None:
            status, headers, body = stale
            return status, [*headers, (b"x-board-rebuilding", b"1")], body
        await self.building[rkey].wait()
        return _answer(scope, etag)

    async def _build(self, scope: Scope, receive: Receive, send: Send, rkey: str) -> None:
        """Let the route build the board; remember the ETag of what it sent."""
        mine = rkey not in self.building  # else another request builds it too, unmarked
        done = self.building.setdefault(rkey, asyncio.Event())

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                for name, value in message.get("headers", []):
                    if name.lower() == b"etag":
                        self.latest.put(rkey, value.decode("latin-1"))
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if mine:
                del self.building[rkey]
                done.set()


def _board_of(scope: Scope) -> tuple[list[str], str | None, list[tuple[str, str]]] | None:
    """(benchmark keys, version, the request key of the ETag), or None when not a board."""
    path: str = scope.get("root_path", "") + scope["path"]  # as Starlette's request.url.path
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if path == PREFIX:
        wanted = [v for k, v in query if k == "benchmarks"]
        if len(wanted) != 1 or any(k == "version" for k, _ in query):
            return None
        keys = [k.strip() for k in wanted[0].split(",") if k.strip()]
        if not keys or len(set(keys)) != len(keys):
            return None
        version = None
    elif path.startswith(PREFIX + "/") and "/" not in path[len(PREFIX) + 1 :]:
        keys = [path[len(PREFIX) + 1 :]]
        versions = [v for k, v in query if k == "version"]
        if len(versions) > 1:
            return None
        version = versions[0] if versions else None
    else:
        return None
    # the route's own request key: its path and every query item (see routes/leaderboards.py)
    return keys, version, [("", path), *query]


def _answer(scope: Scope, etag: str) -> _Answer | None:
    cache = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
    if _client_has(scope, etag):
        return 304, cache, b""
    stored = BODIES.get(etag)
    if stored is None:
        return None
    content, headers = stored
    encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    encoded += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    return 200, encoded, content


def _client_has(scope: Scope, etag: str) -> bool:
    wanted = _header(scope, b"if-none-match")
    if wanted is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return etag in tags or "*" in tags


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return None
