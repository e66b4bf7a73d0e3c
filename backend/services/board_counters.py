"""The boards' change counters for the fast path: one statement for many requests at once.

A request that revalidates a board needs its benchmarks' change counters as they are after the
request arrived (a result committed before it must show). Read per request (a thread hop, a
pooled SQLAlchemy connection, ``BEGIN``/``SELECT``/``ROLLBACK``) they were nearly all of a
stored board's cost: without them the same server answered 6x the requests (docs/performance.md,
Read path). Here each API process keeps one autocommit connection on its event loop. A request
starts a read of every benchmark's counter or, when a read is already under way (it started
before the request arrived, so it may miss a write the client saw), waits for the next one,
which starts as soon as that one ends: one statement answers every request that arrived
meanwhile, and no request gets counters read before it arrived.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from backend.repositories import leaderboard as repo
from backend.services.leaderboard import etag_of
from backend.settings import get_settings

log = logging.getLogger(__name__)
_Row = tuple[str, str, uuid.UUID, int | None]


class Snapshot:
    """Every benchmark's counter at one moment: each key's newest version, and each version."""

    def __init__(self, rows: list[_Row]) -> None:
        self.newest: dict[str, tuple[uuid.UUID, int | None]] = {}
        self.versions: dict[tuple[str, str], tuple[uuid.UUID, int | None]] = {}
        for key, version, benchmark_id, counter in rows:  # each key's newest first
            self.newest.setdefault(key, (benchmark_id, counter))
            self.versions[(key, version)] = (benchmark_id, counter)

    def etag(
        self, keys: list[str], version: str | None, request: list[tuple[str, str]]
    ) -> str | None:
        """The board's ETag (``backend.services.leaderboard.etag_of``); None when a key, its
        version or its counter is missing (the route answers then)."""
        found = [
            self.newest.get(k) if version is None else self.versions.get((k, version)) for k in keys
        ]
        if any(f is None for f in found):
            return None
        return etag_of([f for f in found if f is not None], request)


class CounterReader:
    """Snapshots of the counters on one connection per event loop, shared by the requests
    that wait for the same read (see the module's docstring)."""

    def __init__(self, conninfo: str | None = None) -> None:
        self._conninfo = conninfo
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._running: asyncio.Future[Snapshot] | None = None
        self._next: asyncio.Future[Snapshot] | None = None

    async def snapshot(self) -> Snapshot:
        """Counters read after this call began; raises when the database cannot be read."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a test client): start over on it
            self._loop, self._conn, self._running, self._next = loop, None, None, None
        if self._running is None:
            self._running = asyncio.ensure_future(self._read_then_next())
            return await asyncio.shield(self._running)
        if self._next is None:
            self._next = loop.create_future()
        return await asyncio.shield(self._next)

    async def _read_then_next(self) -> Snapshot:
        try:
            return await self._read()
        finally:
            waiting, self._next = self._next, None
            self._running = None
            if waiting is not None:  # the next read starts now: after its waiters arrived
                self._running = asyncio.ensure_future(self._read_then_next())
                self._running.add_done_callback(lambda done: _pass_on(done, waiting))

    async def _read(self) -> Snapshot:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self._conninfo or _conninfo(), autocommit=True, connect_timeout=5
                )
            return Snapshot(await repo.all_counters(self._conn))
        except Exception:
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()
            raise


def _pass_on(done: asyncio.Future[Snapshot], waiting: asyncio.Future[Snapshot]) -> None:
    if waiting.done():
        return
    if done.cancelled():
        waiting.cancel()
    elif (error := done.exception()) is not None:
        waiting.set_exception(error)
    else:
        waiting.set_result(done.result())


def _conninfo() -> str:
    """The API's database as a libpq URL (its SQLAlchemy URL without the driver)."""
    url = make_url(get_settings().database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


#: The process's reader (the fast path's default).
COUNTERS = CounterReader()
