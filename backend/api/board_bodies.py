"""Rendered leaderboard bodies, reused while their ETag is still the board's.

A board's ETag is derived from its benchmarks' change counters (bumped by triggers in the
transaction of every write a board shows, migration 0011_add_run_status_summary) and the
request, and is read before the board is built; so a body stored under an ETag is served again
only while no write has touched its boards since, and can never be stale. Per process, bounded
(LRU).
"""

from __future__ import annotations

from shared_kernel.lru import LruCache

#: Bodies kept per API process (each at most ~100 kB for a 1000-row page).
MAX_BODIES = 64


class BodyStore:
    """(body bytes, headers) keyed by ETag, the least recently used dropped beyond ``size``."""

    def __init__(self, size: int = MAX_BODIES) -> None:
        self._items: LruCache[str, tuple[bytes, dict[str, str]]] = LruCache(size)

    def get(self, etag: str) -> tuple[bytes, dict[str, str]] | None:
        return self._items.get(etag)

    def put(self, etag: str, content: bytes, headers: dict[str, str]) -> None:
        self._items.put(etag, (content, dict(headers)))


BODIES = BodyStore()
