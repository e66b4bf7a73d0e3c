"""SQL for runs and their results; claiming a run is one conditional UPDATE."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.models import Metric, Run, RunStatus, Series

RUN_KEY = ("mlip_model_id", "benchmark_id", "structure_id", "params_hash")


def insert_runs(session: Session, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Insert runs that do not exist yet (same model, benchmark, input, params); return new ids."""
    if not rows:
        return []
    stmt = insert(Run).values(rows).on_conflict_do_nothing(index_elements=list(RUN_KEY))
    return [row.id for row in session.execute(stmt.returning(Run.id))]


def find_runs(session: Session, keys: Iterable[tuple[Any, ...]]) -> list[Run]:
    """Runs whose (model, benchmark, structure, params hash) is in ``keys``."""
    keys = list(keys)
    if not keys:
        return []
    columns = tuple_(*(getattr(Run, name) for name in RUN_KEY))
    return list(session.scalars(select(Run).where(columns.in_(keys))))


def get_run(session: Session, run_id: uuid.UUID) -> Run | None:
    return session.get(Run, run_id)


def claim_run(session: Session, run_id: uuid.UUID, *, worker: str) -> Run | None:
    """Mark a queued run running; None when it was already claimed, finished or cancelled."""
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.QUEUED)
        .values(
            status=RunStatus.RUNNING, attempt=Run.attempt + 1, worker=worker, started_at=func.now()
        )
        .returning(Run)
    )
    return session.scalars(stmt).first()


def finish_run(
    session: Session,
    run_id: uuid.UUID,
    *,
    attempt: int,
    status: RunStatus,
    finished_at: datetime,
    **fields: Any,
) -> bool:
    """Record the end of the given attempt; False when that attempt no longer owns the run."""
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.attempt == attempt)
        .values(status=status, finished_at=finished_at, **fields)
        .returning(Run.id)
    )
    return session.execute(stmt).first() is not None


def insert_metrics(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Metric).values(rows).on_conflict_do_nothing())


def insert_series(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Series).values(rows).on_conflict_do_nothing())


def metrics_of(session: Session, run_id: uuid.UUID) -> list[Metric]:
    return list(session.scalars(select(Metric).where(Metric.run_id == run_id)))


def series_of(session: Session, run_id: uuid.UUID) -> list[Series]:
    return list(session.scalars(select(Series).where(Series.run_id == run_id)))
