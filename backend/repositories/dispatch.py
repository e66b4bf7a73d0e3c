"""SQL of the queue's bookkeeping: which runs to send, marking them sent, and which of the
files runs left in the artifact store still belong to a run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from backend.db.tables import Benchmark, MlipModel, Run, RunArtifact
from backend.domain.statuses import RunStatus

Dispatch = tuple[uuid.UUID, int, int, str]  # run id, soft and hard time limit (s), family


@dataclass(frozen=True, slots=True)
class Candidate:
    """A run that may need a message: queued, or running on an expired lease."""

    dispatch: Dispatch
    dead: bool  # running with an expired lease (its worker died)
    claimed_at: float | None  # epoch seconds of its last claim (None: never claimed)


@dataclass(frozen=True, slots=True)
class FileOwner:
    """What decides whether a run's stored files are still its own."""

    live_attempt: int | None  # the attempt now running, if the run is running
    keys: frozenset[str]  # the store keys its ``run_artifact`` rows reference


def mark_enqueued(session: Session, run_ids: list[uuid.UUID]) -> None:
    """Stamp the runs' ``enqueued_at`` (the time their latest message was decided)."""
    if run_ids:
        session.execute(
            update(Run).where(Run.id.in_(run_ids)).values(enqueued_at=func.clock_timestamp())
        )


def recovery_candidates(session: Session, *, queued_quiet_s: float) -> list[Candidate]:
    """Runs running on an expired lease, then queued runs whose latest send (or creation) is
    older than ``queued_quiet_s``, oldest first."""
    dead = and_(Run.status == RunStatus.RUNNING, Run.lease_expires_at < func.now())
    since = func.coalesce(Run.enqueued_at, Run.created_at)
    quiet = and_(
        Run.status == RunStatus.QUEUED,
        since < func.now() - timedelta(seconds=queued_quiet_s),
    )
    is_dead = case((Run.status == RunStatus.RUNNING, True), else_=False)
    query = (
        select(
            Run.id,
            Benchmark.soft_time_limit_s,
            Benchmark.time_limit_s,
            MlipModel.family,
            is_dead,
            func.extract("epoch", Run.started_at),
        )
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .where(or_(dead, quiet))
        .order_by(is_dead.desc(), since)
    )
    return [
        Candidate((r[0], r[1], r[2], r[3]), bool(r[4]), None if r[5] is None else float(r[5]))
        for r in session.execute(query)
    ]


def dispatch_rows(session: Session, run_ids: Any) -> list[Dispatch]:
    """(run id, soft and hard time limit, model family) of the given runs (ids or a query)."""
    query = (
        select(Run.id, Benchmark.soft_time_limit_s, Benchmark.time_limit_s, MlipModel.family)
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .where(Run.id.in_(run_ids))
    )
    return [(row[0], row[1], row[2], row[3]) for row in session.execute(query)]


def file_owners(session: Session, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, FileOwner]:
    """Per existing run of ``run_ids``: its live attempt and the keys its artifact rows hold."""
    if not run_ids:
        return {}
    live = case((Run.status == RunStatus.RUNNING, Run.attempt), else_=None)
    query = (
        select(Run.id, live, func.array_remove(func.array_agg(RunArtifact.key), None))
        .outerjoin(RunArtifact, RunArtifact.run_id == Run.id)
        .where(Run.id.in_(run_ids))
        .group_by(Run.id)
    )
    return {row[0]: FileOwner(row[1], frozenset(row[2] or ())) for row in session.execute(query)}
