"""SQL for benchmark protocol versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.tables import Benchmark


def insert_benchmark(session: Session, **fields: Any) -> bool:
    """Insert a benchmark version unless it exists (versions are never edited)."""
    stmt = (
        insert(Benchmark).values(**fields).on_conflict_do_nothing(index_elements=["key", "version"])
    )
    return session.execute(stmt.returning(Benchmark.id)).first() is not None


def get_benchmark(session: Session, key: str, version: str | None = None) -> Benchmark | None:
    """The given version of ``key``, or its newest one."""
    query = select(Benchmark).where(Benchmark.key == key)
    if version is not None:
        return session.scalar(query.where(Benchmark.version == version))
    return session.scalars(query.order_by(Benchmark.created_at.desc())).first()


def list_benchmarks(
    session: Session, *, limit: int | None = None, offset: int = 0
) -> list[Benchmark]:
    query = select(Benchmark).order_by(Benchmark.key, Benchmark.version)
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_benchmarks(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Benchmark)) or 0
