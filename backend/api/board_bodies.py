"""Rendered leaderboard bodies, reused while their ETag is still the board's.

A board's ETag is derived from its benchmarks' change counters (bumped by triggers in the
transaction of every write a board shows, migration 0011_add_run_status_summary) and the
request, and is read before the board is built; so a body stored under an ETag is served again
only while no write has touched its boards since, and can never be stale. Per process, bounded
(LRU).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

#: Bodies kept per API process (each at most ~100 kB for a 1000-row page).
MAX_BODIES = 64


class BodyStore:
    """A small thread-safe LRU of (body bytes, headers) keyed by ETag."""

    def __init__(self, size: int = MAX_BODIES) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[bytes, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, etag: str) -> tuple[bytes, dict[str, str]] | None:
        with self._lock:
            item = self._items.get(etag)
            if item is not None:
                self._items.move_to_end(etag)
            return item

    def put(self, etag: str, content: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            self._items[etag] = (content, dict(headers))
            self._items.move_to_end(etag)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


BODIES = BodyStore()
