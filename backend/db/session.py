"""Engine and session factories; the unit of work commits, repositories only flush."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from backend.settings import get_settings


def make_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, future=True)


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
