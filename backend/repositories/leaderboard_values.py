"""SQL of what a board shows besides errors: mean metric values and the elements covered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import LeaderboardValueSummary, Metric, Run, RunStatus, Structure
from backend.repositories.leaderboard import BoardFilter, input_filter


@dataclass(frozen=True, slots=True)
class ValueSums:
    n: int
    sum_value: float


def value_sums(
    session: Session, benchmark_ids: list[uuid.UUID], *, names: list[str], where: BoardFilter
) -> dict[tuple[uuid.UUID, uuid.UUID, str], ValueSums]:
    """Per (benchmark, model, metric): how many values (with or without a reference), their sum.

    Read from the value summary (kept by the metric triggers, migration 0012) unless an element
    filter applies; then aggregated live over the matching succeeded runs, as error sums are.
    """
    query: Any
    if where.element is None:
        s = LeaderboardValueSummary
        query = select(
            s.benchmark_id, s.mlip_model_id, s.name, func.sum(s.n), func.sum(s.sum_value)
        ).where(s.benchmark_id.in_(benchmark_ids), s.name.in_(names))
        if where.structure_set_id is not None:
            query = query.where(s.structure_set_id == where.structure_set_id)
        query = query.group_by(s.benchmark_id, s.mlip_model_id, s.name)
    else:
        query = input_filter(
            select(
                Run.benchmark_id,
                Run.mlip_model_id,
                Metric.name,
                func.count(),
                func.sum(Metric.value),
            )
            .join(Metric, Metric.run_id == Run.id)
            .where(
                Run.benchmark_id.in_(benchmark_ids),
                Run.status == RunStatus.SUCCEEDED,
                Metric.name.in_(names),
            ),
            where,
        ).group_by(Run.benchmark_id, Run.mlip_model_id, Metric.name)
    return {
        (benchmark_id, model_id, name): ValueSums(int(n), float(total))
        for benchmark_id, model_id, name, n, total in session.execute(query)
    }


def run_elements(
    session: Session, benchmark_id: uuid.UUID, model_ids: list[uuid.UUID], where: BoardFilter
) -> list[str]:
    """Sorted symbols of every structure passing the filters that one of the models ran on.

    One query: the structures are found from the benchmark's runs of those models (any
    status, as the board's run counts), their element arrays unnested and made distinct.
    """
    if not model_ids:
        return []
    runs = select(Run.structure_id).where(
        Run.benchmark_id == benchmark_id, Run.mlip_model_id.in_(model_ids)
    )
    query = (
        select(func.unnest(Structure.elements))
        .where(Structure.id.in_(runs.scalar_subquery()))
        .distinct()
    )
    if where.element is not None:
        query = query.where(Structure.elements.contains([where.element]))
    if where.structure_set_id is not None:
        query = query.where(Structure.structure_set_id == where.structure_set_id)
    return sorted(session.scalars(query))
