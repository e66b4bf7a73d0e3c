"""A small time-to-live cache of API reads inside the Dash server process.

Several callbacks of one page view (and the page re-rendered after a URL change) need the same
boards; re-reading them from the API each time would make every control change cost a dozen
requests. Entries live ``ttl_s`` seconds, so polling still shows new results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from shared_kernel.lru import LruCache

T = TypeVar("T")

MAX_ENTRIES = 256
_entries: LruCache[Hashable, tuple[float, Any]] = LruCache(MAX_ENTRIES)


def cached(key: Hashable, ttl_s: float, read: Callable[[], T]) -> T:
    """``read()``, or its value from less than ``ttl_s`` seconds ago under ``key``."""
    now = time.monotonic()
    hit = _entries.get(key)
    if hit is not None and now - hit[0] < ttl_s:
        value: T = hit[1]
        return value
    value = read()  # errors propagate and are not cached
    _entries.put(key, (now, value))
    return value


def clear() -> None:
    """Forget everything (tests)."""
    _entries.clear()
