"""Rendered leaderboard bodies, reused while their ETag is still the board's.

A board's ETag is derived from its benchmarks' change counters (bumped by triggers in the
transaction of every write a board shows, migration 0011_add_run_status_summary), their ids
(random per database) and the request, and is read before the board is built; so a body
stored under an ETag is served again only while no write has touched its boards since, and can
never be stale.

Two levels: each API process keeps its recent bodies (LRU), and every body built is also put
in Redis, where the other API processes, and the next ones after a restart, find it instead of
building the board again (a cold process built the 13 boards of a 200-model leaderboard in
about 4 s of CPU). Redis keeps the newest ``MAX_SHARED_BODIES`` (and none longer than
``SHARED_TTL_S``); when it cannot be reached, each process goes on with its own bodies and asks
Redis again ``RETRY_AFTER_S`` later.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis

from backend.services import queue
from backend.settings import get_settings
from shared_kernel.lru import LruCache

log = logging.getLogger(__name__)

#: Bodies kept per API process (each at most ~100 kB for a 1000-row page).
MAX_BODIES = 64
#: Bodies kept in Redis for every process (the newest by when they were stored), at most
#: ``MAX_SHARED_BYTES`` each: about 25 MB at most for the largest boards.
MAX_SHARED_BODIES = 256
MAX_SHARED_BYTES = 4 * 1024 * 1024
SHARED_TTL_S = 24 * 3600
#: After Redis failed, seconds during which only the process's own bodies are used.
RETRY_AFTER_S = 30.0
#: A body lookup blocks the event loop (the fast path): never longer than this.
REDIS_TIMEOUT_S = 0.2


class SharedBodies:
    """Bodies in Redis under ``<namespace>:body:<etag>`` (``mlipm:<database>:boards``), with an
    index (a sorted set by the time each was stored) that bounds how many are kept."""

    def __init__(self, url: str, namespace: str, *, limit: int = MAX_SHARED_BODIES) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self._namespace = namespace
        self._index = f"{namespace}:index"
        self._limit = limit
        self._paused_until = 0.0

    def get(self, etag: str) -> tuple[bytes, dict[str, str]] | None:
        if time.monotonic() < self._paused_until:
            return None
        try:
            stored = self._client.get(self._key(etag))
        except redis.RedisError:
            self._pause("read")
            return None
        if not isinstance(stored, bytes):
            return None
        head, _, content = stored.partition(b"\n")
        return content, json.loads(head)

    def put(self, etag: str, content: bytes, headers: dict[str, str]) -> None:
        if len(content) > MAX_SHARED_BYTES or time.monotonic() < self._paused_until:
            return
        value = json.dumps(headers).encode() + b"\n" + content
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(self._key(etag), value, ex=SHARED_TTL_S)
            pipe.zadd(self._index, {etag: time.time()})
            pipe.zcard(self._index)
            stored = pipe.execute()[-1]
            if int(stored) > self._limit:
                oldest: Any = self._client.zpopmin(self._index, int(stored) - self._limit)
                if oldest:
                    self._client.delete(*(self._key(_text(old)) for old, _ in oldest))
        except redis.RedisError:
            self._pause("write")

    def clear(self) -> None:
        """Forget every shared body of this database (tests)."""
        members: Any = self._client.zrange(self._index, 0, -1)
        keys = [self._key(_text(m)) for m in members]
        self._client.delete(self._index, *keys)

    def _key(self, etag: str) -> str:
        return f"{self._namespace}:body:{etag.strip(chr(34))}"

    def _pause(self, what: str) -> None:
        log.warning(
            "shared board bodies: Redis %s failed; own ones only for %.0f s", what, RETRY_AFTER_S
        )
        self._paused_until = time.monotonic() + RETRY_AFTER_S


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class BodyStore:
    """(body bytes, headers) keyed by ETag: this process's least recently used dropped beyond
    ``size``, then the ones in Redis (``shared``; made from the settings at first use)."""

    def __init__(self, size: int = MAX_BODIES, shared: SharedBodies | None = None) -> None:
        self._items: LruCache[str, tuple[bytes, dict[str, str]]] = LruCache(size)
        self._shared = shared
        self._lock = threading.Lock()
        #: False: this process's own bodies only. Tests that serve boards from a transaction
        #: they roll back, or from patched code, must not hand them to other processes.
        self.sharing = True

    def get(self, etag: str) -> tuple[bytes, dict[str, str]] | None:
        found = self._items.get(etag)
        if found is None and self.sharing:
            found = self.shared().get(etag)
            if found is not None:
                self._items.put(etag, found)
        return found

    def put(self, etag: str, content: bytes, headers: dict[str, str]) -> None:
        self._items.put(etag, (content, dict(headers)))
        if self.sharing:
            self.shared().put(etag, content, headers)

    def shared(self) -> SharedBodies:
        with self._lock:
            if self._shared is None:
                self._shared = SharedBodies(get_settings().redis_url, queue.key("boards"))
            return self._shared

    def forget_local(self) -> None:
        """Drop this process's own bodies, as a restarted process has none (tests, bench)."""
        self._items.clear()


BODIES = BodyStore()
