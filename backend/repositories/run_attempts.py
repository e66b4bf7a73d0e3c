"""SQL for a run's attempts: releasing one for another try, reruns, and their history."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, cast, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.tables import Run, RunAttempt, Series
from backend.domain.statuses import RunStatus
from shared_kernel.failures import FailureClass

_HISTORY = ("run_id", "attempt", "status", "failure_class", "failure_message", "worker",
            "started_at", "finished_at", "wall_s")  # fmt: skip


def _archive(
    session: Session, where: Any, *, status: Any, failure_class: Any, message: Any, ended: Any
) -> None:
    """Copy the current attempt of the runs matching ``where`` into the history."""
    rows = select(
        Run.id,
        Run.attempt,
        status,
        failure_class,
        message,
        Run.worker,
        Run.started_at,
        ended,
        Run.wall_s,
    ).where(where, Run.attempt > 0)
    session.execute(insert(RunAttempt).from_select(list(_HISTORY), rows).on_conflict_do_nothing())


LOST_CLASS = FailureClass.WORKER_LOST.value


def lost_attempt_archive(run_id: Any) -> Any:
    """A CTE that copies the run's current attempt into the history when that attempt lost its
    lease (its worker stopped renewing it: died, paused or cut off), for the claim that takes the
    run over to carry: a takeover leaves the lost attempt on record. Its worker, should it come
    back, may say better why (``restate_lost``)."""
    expired = (Run.id == run_id) & (Run.status == RunStatus.RUNNING)
    expired = expired & (Run.lease_expires_at < func.now())
    message = func.concat(
        "its lease expired at ",
        cast(Run.lease_expires_at, String),
        ": its worker stopped renewing it (died, was paused or cut off), and another attempt "
        "took the run over",
    )
    rows = select(
        Run.id,
        Run.attempt,
        literal("retried"),
        literal(LOST_CLASS),
        message,
        Run.worker,
        Run.started_at,
        func.now(),
        Run.wall_s,
        func.gen_random_uuid(),  # the table's Python-side defaults do not run inside a CTE
        func.now(),
    ).where(expired, Run.attempt > 0)
    columns = [*_HISTORY, "id", "created_at"]
    archive = insert(RunAttempt).from_select(columns, rows).on_conflict_do_nothing()
    return archive.cte("lost_attempt")


def restate_lost(
    session: Session, run_id: uuid.UUID, *, attempt: int, failure_class: str, message: str
) -> bool:
    """Give a lost attempt's history row the cause its own worker found (e.g. it stalled);
    False when the attempt was not recorded as lost."""
    stmt = (
        update(RunAttempt)
        .where(
            RunAttempt.run_id == run_id,
            RunAttempt.attempt == attempt,
            RunAttempt.failure_class == LOST_CLASS,
        )
        .values(failure_class=failure_class, failure_message=message[:4000])
        .returning(RunAttempt.id)
    )
    return session.execute(stmt).first() is not None


def release(
    session: Session, run_id: uuid.UUID, *, attempt: int, failure_class: str, message: str
) -> bool:
    """Put a running attempt back in the queue for another try, keeping it in the history;
    False when that attempt no longer owns the run."""
    owned = (Run.id == run_id) & (Run.attempt == attempt) & (Run.status == RunStatus.RUNNING)
    _archive(
        session,
        owned,
        status=literal("retried"),
        failure_class=literal(failure_class),
        message=literal(message[:4000]),
        ended=func.now(),
    )
    stmt = (
        update(Run)
        .where(owned)
        .values(
            status=RunStatus.QUEUED,
            worker=None,
            lease_expires_at=None,
            started_at=None,
            enqueued_at=None,
        )
        .returning(Run.id)
    )
    return session.execute(stmt).first() is not None


def fail_queued(session: Session, run_id: uuid.UUID, *, failure_class: str, message: str) -> bool:
    """Fail a queued run for good (its attempts are used up); False if it was not queued."""
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.QUEUED)
        .values(
            status=RunStatus.FAILED,
            failure_class=failure_class,
            failure_message=message[:4000],
            finished_at=func.now(),
        )
        .returning(Run.id)
    )
    return session.execute(stmt).first() is not None


def count_retried(session: Session, run_id: uuid.UUID, *, failure_class: str) -> int:
    """Attempts of the run since its last rerun that were released with ``failure_class``."""
    query = (
        select(func.count())
        .select_from(RunAttempt)
        .join(Run, Run.id == RunAttempt.run_id)
        .where(
            RunAttempt.run_id == run_id,
            RunAttempt.status == "retried",
            RunAttempt.failure_class == failure_class,
            RunAttempt.attempt > Run.attempt_base,
        )
    )
    return session.scalar(query) or 0


def last_retried_class(session: Session, run_id: uuid.UUID) -> str | None:
    """The failure class of the run's latest released attempt, if any."""
    query = (
        select(RunAttempt.failure_class)
        .where(RunAttempt.run_id == run_id, RunAttempt.status == "retried")
        .order_by(RunAttempt.attempt.desc())
        .limit(1)
    )
    return session.scalar(query)


def requeue(session: Session, run_ids: Any, statuses: list[RunStatus]) -> list[uuid.UUID]:
    """Queue again the runs of ``run_ids`` (ids or a query) in one of ``statuses``: their
    outcome goes to the history, their partial curves are dropped, and the attempt cap counts
    from here. Returns the requeued ids."""
    if isinstance(run_ids, list) and not run_ids:
        return []
    chosen = Run.id.in_(run_ids) & Run.status.in_(statuses)
    _archive(
        session,
        chosen,
        status=cast(Run.status, String),
        failure_class=Run.failure_class,
        message=Run.failure_message,
        ended=Run.finished_at,
    )
    ids = list(session.scalars(select(Run.id).where(chosen).with_for_update()))
    if not ids:
        return []
    session.execute(delete(Series).where(Series.run_id.in_(ids)))
    session.execute(
        update(Run)
        .where(Run.id.in_(ids))
        .values(
            status=RunStatus.QUEUED,
            attempt_base=Run.attempt,
            failure_class=None,
            failure_message=None,
            worker=None,
            started_at=None,
            finished_at=None,
            lease_expires_at=None,
            enqueued_at=None,
            wall_s=None,
            cpu_s=None,
            peak_memory_mb=None,
            provenance={},
        )
    )
    return ids


def history(session: Session, run_id: uuid.UUID) -> list[RunAttempt]:
    """The run's earlier attempts, oldest first."""
    query = select(RunAttempt).where(RunAttempt.run_id == run_id).order_by(RunAttempt.attempt)
    return list(session.scalars(query))
