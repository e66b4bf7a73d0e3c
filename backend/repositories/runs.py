"""SQL for runs and their results; claiming a run is one conditional UPDATE."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.models import (
    Benchmark,
    Campaign,
    CampaignRun,
    CampaignStatus,
    Metric,
    MlipModel,
    Run,
    RunStatus,
    Series,
)

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


def claim_run(session: Session, run_id: uuid.UUID, *, worker: str, lease_s: float) -> Run | None:
    """Take a queued run, or a running one whose worker's lease expired; None otherwise."""
    lease_ends = func.now() + timedelta(seconds=lease_s)
    stmt = (
        update(Run)
        .where(
            Run.id == run_id,
            or_(
                Run.status == RunStatus.QUEUED,
                and_(Run.status == RunStatus.RUNNING, Run.lease_expires_at < func.now()),
            ),
        )
        .values(
            status=RunStatus.RUNNING,
            attempt=Run.attempt + 1,
            worker=worker,
            started_at=func.now(),
            lease_expires_at=lease_ends,
        )
        .returning(Run)
    )
    return session.scalars(stmt).first()


def renew_lease(session: Session, run_id: uuid.UUID, *, attempt: int, lease_s: float) -> bool:
    """Extend the lease of the given attempt; False when that attempt no longer owns the run."""
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.attempt == attempt)
        .values(lease_expires_at=func.now() + timedelta(seconds=lease_s))
        .returning(Run.id)
    )
    return session.execute(stmt).first() is not None


def lease_remaining_s(session: Session, run_id: uuid.UUID) -> float | None:
    """Seconds left on a running run's lease; None when the run is not running."""
    query = select(func.extract("epoch", Run.lease_expires_at - func.now())).where(
        Run.id == run_id, Run.status == RunStatus.RUNNING
    )
    value = session.scalar(query)
    return None if value is None else float(value)


def mark_enqueued(session: Session, run_ids: list[uuid.UUID]) -> None:
    if run_ids:
        session.execute(update(Run).where(Run.id.in_(run_ids)).values(enqueued_at=func.now()))


def runs_to_requeue(
    session: Session, *, all_queued: bool, unsent_older_than_s: float
) -> list[tuple[uuid.UUID, int, int, str]]:
    """Runs whose message may be gone: running with an expired lease (the worker died), queued
    but never sent (the broker was down), and after the broker lost its data every queued run.
    Returns (id, soft time limit, hard time limit)."""
    dead = and_(Run.status == RunStatus.RUNNING, Run.lease_expires_at < func.now())
    unsent = and_(
        Run.status == RunStatus.QUEUED,
        Run.enqueued_at.is_(None),
        Run.created_at < func.now() - timedelta(seconds=unsent_older_than_s),
    )
    condition = or_(dead, Run.status == RunStatus.QUEUED) if all_queued else or_(dead, unsent)
    return dispatch_rows(session, select(Run.id).where(condition))


def stale_queued(
    session: Session, *, sent_before_s: float
) -> list[tuple[uuid.UUID, int, int, str]]:
    """Queued runs whose message was sent more than ``sent_before_s`` ago."""
    return dispatch_rows(
        session,
        select(Run.id).where(
            Run.status == RunStatus.QUEUED,
            Run.enqueued_at < func.now() - timedelta(seconds=sent_before_s),
        ),
    )


def dispatch_rows(session: Session, run_ids: Any) -> list[tuple[uuid.UUID, int, int, str]]:
    """(run id, soft and hard time limit, model family) of the given runs (ids or a query)."""
    query = (
        select(Run.id, Benchmark.soft_time_limit_s, Benchmark.time_limit_s, MlipModel.family)
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .where(Run.id.in_(run_ids))
    )
    return [(row[0], row[1], row[2], row[3]) for row in session.execute(query)]


def all_campaigns_cancelled(session: Session, run_id: uuid.UUID) -> bool:
    """True when every campaign that asked for this run was cancelled (and there is one)."""
    statuses = session.scalars(
        select(Campaign.status)
        .join(CampaignRun, CampaignRun.campaign_id == Campaign.id)
        .where(CampaignRun.run_id == run_id)
    ).all()
    return bool(statuses) and all(s == CampaignStatus.CANCELLED for s in statuses)


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
