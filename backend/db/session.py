"""Engine and session factories; the unit of work commits, repositories only flush."""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from backend.settings import get_settings

# A pooled connection idle this long is pinged before use even when nothing says it died (a
# peer that vanished without closing the socket, a firewall that dropped the flow).
PING_AFTER_IDLE_S = 30.0
_RETURNED_AT = "mlipm_returned_at"


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    _ping_when_in_doubt(engine)
    return engine


def _ping_when_in_doubt(engine: Engine) -> None:
    """Check a pooled connection before use only when it may be dead, instead of a round trip
    on every checkout (``pool_pre_ping``): a worker checks out twice a run, and each ping cost
    0.3-0.5 ms of its 10 ms of overhead.

    A server that restarts or ends a session closes the socket after its last message, so the
    socket of a dead connection has something to read (the error, or the end of the stream),
    while a healthy idle one has nothing: that is checked without a round trip. A connection
    with something to read, or idle more than ``PING_AFTER_IDLE_S``, is pinged; one that fails
    the ping is replaced (``DisconnectionError`` makes the pool connect again).
    """

    def returned(dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, *_: Any) -> None:
        idle_s = time.monotonic() - record.info.get(_RETURNED_AT, float("-inf"))
        if idle_s < PING_AFTER_IDLE_S and not _has_input(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    event.listen(engine, "connect", returned)
    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checkout)


def _has_input(dbapi_connection: Any) -> bool:
    """Whether the server sent something this idle connection has not read (or closed it)."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except Exception:  # closed, or no socket: in doubt
        return True
    return bool(readable)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the session's current transaction has committed (never before)."""

    def _run(_session: Session) -> None:
        callback()

    event.listen(session, "after_commit", _run, once=True)


def reset_engine_cache(*, close: bool = True) -> None:
    """Forget cached engines (tests and CLI commands that switch databases).

    In a process forked from one that had connections, pass ``close=False``: the inherited
    connections belong to the parent and must be dropped, never closed from here.
    """
    if get_engine.cache_info().currsize:
        get_engine().dispose(close=close)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
