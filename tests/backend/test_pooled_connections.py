"""Pooled connections are checked before use only when in doubt (``backend.db.session``).

Against the session's Postgres, with an engine made by ``make_engine`` (as every process of
the platform makes its own):

- a connection whose session the server ended while it sat in the pool (as a restart or an
  administrator does) is replaced at checkout: the next statement runs on a new server
  process, without an error reaching the caller;
- a connection returned a moment ago, with nothing to read on its socket, is used without a
  ping (the round trip this saves on each of a worker's two checkouts a run);
- one idle longer than ``PING_AFTER_IDLE_S`` is pinged, and replaced if the ping fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from backend.db import session as db_session_module
from backend.db.session import make_engine
from tests.live import wait_until


@pytest.fixture
def pooled(database_url: str) -> Iterator[tuple[Engine, list[int]]]:
    """An engine of the platform's, and the list its pings are appended to."""
    engine = make_engine(database_url)
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    yield engine, pings
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(admin: Engine, pid: int) -> None:
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"

    def gone() -> bool:
        with admin.connect() as connection:
            return connection.execute(text(alive), {"pid": pid}).scalar() == 0

    wait_until(gone, 10, f"server process {pid} to end")


def test_a_connection_the_server_ended_is_replaced_without_an_error(
    pooled: tuple[Engine, list[int]], engine: Engine
) -> None:
    platform_engine, pings = pooled
    first = _backend_pid(platform_engine)  # now idle in the pool, returned a moment ago
    _terminate(engine, first)
    second = _backend_pid(platform_engine)  # no OperationalError: replaced at checkout
    assert second != first
    assert pings == [1]  # its socket had the server's goodbye to read: pinged, failed


def test_a_connection_returned_a_moment_ago_is_used_without_a_ping(
    pooled: tuple[Engine, list[int]],
) -> None:
    platform_engine, pings = pooled
    pids = {_backend_pid(platform_engine) for _ in range(5)}
    assert len(pids) == 1  # the same pooled connection each time
    assert pings == []


def test_a_connection_idle_longer_than_the_limit_is_pinged(
    pooled: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform_engine, pings = pooled
    first = _backend_pid(platform_engine)
    monkeypatch.setattr(db_session_module, "PING_AFTER_IDLE_S", 0.05)
    time.sleep(0.1)
    assert _backend_pid(platform_engine) == first  # alive: the ping passed, kept
    assert pings == [1]
