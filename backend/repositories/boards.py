"""SQL of one board: the runs, metrics and flags of one protocol (benchmark version, params).

A board reads every run of its protocol (one query each for runs, metric values and flags,
on the run's (benchmark, model, status) index), because ranking on the same materials and
bootstrapping over them needs each material's number, not sums.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Reference, Run, Structure
from backend.domain.statuses import RunStatus
from backend.repositories.leaderboard import BoardFilter


@dataclass(frozen=True, slots=True)
class BoardRun:
    run_id: uuid.UUID
    model_id: uuid.UUID
    structure_id: uuid.UUID
    material: str
    elements: tuple[str, ...]
    status: str
    failure_class: str | None


@dataclass(frozen=True, slots=True)
class BoardMetric:
    run_id: uuid.UUID
    name: str
    value: float
    unit: str
    #: the reference's value, error and relative error when it is of the board's level
    reference: float | None
    error: float | None
    rel_error: float | None


def protocols(session: Session, benchmark_id: uuid.UUID) -> list[tuple[str, dict[str, Any], int]]:
    """(params hash, params, number of runs) of every parameter set run on the benchmark."""
    counts = dict(
        session.execute(
            select(Run.params_hash, func.count())
            .where(Run.benchmark_id == benchmark_id)
            .group_by(Run.params_hash)
        ).all()
    )
    params = session.execute(
        select(Run.params_hash, Run.params)
        .where(Run.benchmark_id == benchmark_id)
        .ext(distinct_on(Run.params_hash))
        .order_by(Run.params_hash)
    ).all()
    found = [(h, dict(p or {}), int(counts.get(h, 0))) for h, p in params]
    return sorted(found, key=lambda item: (-item[2], item[0]))


def _scoped(query: Any, benchmark_id: uuid.UUID, params_hash: str, where: BoardFilter) -> Any:
    query = query.where(Run.benchmark_id == benchmark_id, Run.params_hash == params_hash)
    if where.element is not None:
        query = query.where(Structure.elements.contains([where.element]))
    if where.structure_set_id is not None:
        query = query.where(Structure.structure_set_id == where.structure_set_id)
    if where.prototype is not None:
        query = query.where(Structure.prototype == where.prototype)
    return query


def board_runs(
    session: Session,
    benchmark_id: uuid.UUID,
    params_hash: str,
    *,
    model_ids: list[uuid.UUID],
    where: BoardFilter,
) -> list[BoardRun]:
    """Every run of the protocol by these models on structures passing the filters."""
    if not model_ids:
        return []
    query = _scoped(
        select(
            Run.id,
            Run.mlip_model_id,
            Run.structure_id,
            Structure.material,
            Structure.elements,
            Run.status,
            Run.failure_class,
        )
        .join(Structure, Structure.id == Run.structure_id)
        .where(Run.mlip_model_id.in_(model_ids)),
        benchmark_id,
        params_hash,
        where,
    )
    # Core rows (session.connection()): no ORM row processing for 10^4 rows
    return [
        BoardRun(r[0], r[1], r[2], r[3], tuple(r[4] or ()), r[5].value, r[6])
        for r in session.connection().execute(query).all()
    ]


def board_metrics(
    session: Session,
    benchmark_id: uuid.UUID,
    params_hash: str,
    *,
    names: list[str],
    level_of_theory: str,
    model_ids: list[uuid.UUID],
    where: BoardFilter,
) -> tuple[list[BoardMetric], dict[uuid.UUID, list[str]]]:
    """The named metrics of the protocol's succeeded runs, with references of the level, and
    the quality flags each run raised (``flag_*`` metrics at 1): one scan of their metrics."""
    if not model_ids:
        return [], {}
    is_flag = Metric.name.like("flag\\_%")
    query = _scoped(
        select(
            Metric.run_id,
            Metric.name,
            Metric.value,
            Metric.unit,
            Reference.value,
            Metric.error,
            Metric.rel_error,
        )
        .join(Run, Run.id == Metric.run_id)
        .join(Structure, Structure.id == Run.structure_id)
        .outerjoin(
            Reference,
            (Reference.id == Metric.reference_id) & (Reference.level_of_theory == level_of_theory),
        )
        .where(
            Run.status == RunStatus.SUCCEEDED,
            Run.mlip_model_id.in_(model_ids),
            or_(Metric.name.in_(names), and_(is_flag, Metric.value > 0.5)),
        ),
        benchmark_id,
        params_hash,
        where,
    )
    out: list[BoardMetric] = []
    flags: dict[uuid.UUID, list[str]] = {}
    for run_id, name, value, unit, ref, error, rel_error in (
        session.connection().execute(query).all()
    ):
        if name.startswith("flag_") and name not in names:
            flags.setdefault(run_id, []).append(name)
        elif ref is None or error is None:
            out.append(BoardMetric(run_id, name, value, unit, ref, None, None))
        else:
            if rel_error is None and ref != 0:  # rows bulk-loaded without it
                rel_error = error / abs(ref)
            out.append(BoardMetric(run_id, name, value, unit, ref, error, rel_error))
    for names_of_run in flags.values():
        names_of_run.sort()
    return out, flags
