"""SQL of leaderboards: models, run counts, and error sums from the summary tables or live."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from backend.db.models import (
    LeaderboardFlagSummary,
    LeaderboardMetricSummary,
    LeaderboardRunSummary,
    LeaderboardVersion,
    Metric,
    MlipModel,
    ModelStatus,
    Reference,
    Run,
    RunStatus,
    Structure,
    StructureSet,
)


@dataclass(frozen=True, slots=True)
class BoardFilter:
    """Which models and which inputs a board covers; None means no restriction."""

    training_set: str | None = None
    openness: str | None = None
    family: str | None = None
    element: str | None = None
    structure_set_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: uuid.UUID
    name: str
    version: str
    family: str
    #: reference properties the model's card says it was fitted to
    fitted_to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorSums:
    n: int
    sum_abs_error: float
    sum_abs_rel_error: float


def structure_set_id(session: Session, name: str) -> uuid.UUID | None:
    return session.scalar(select(StructureSet.id).where(StructureSet.name == name))


def approved_models(session: Session, where: BoardFilter) -> dict[uuid.UUID, ModelInfo]:
    """Approved models passing the model-level filters (training set, openness, family)."""
    query = select(
        MlipModel.id,
        MlipModel.name,
        MlipModel.version,
        MlipModel.family,
        MlipModel.card["fitted_to"],
    ).where(MlipModel.status == ModelStatus.APPROVED)
    if where.training_set is not None:
        query = query.where(
            MlipModel.card["training_data"].contains([{"name": where.training_set}])
        )
    if where.openness is not None:
        query = query.where(MlipModel.card["openness"].astext == where.openness)
    if where.family is not None:
        query = query.where(MlipModel.family == where.family)
    return {
        row[0]: ModelInfo(row[0], row[1], row[2], row[3], _strings(row[4]))
        for row in session.execute(query)
    }


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def input_filter(query: Any, where: BoardFilter) -> Any:
    """Restrict a query over ``Run`` to runs on structures passing the element and set filters."""
    if where.element is None and where.structure_set_id is None:
        return query
    query = query.join(Structure, Structure.id == Run.structure_id)
    if where.element is not None:
        query = query.where(Structure.elements.contains([where.element]))
    if where.structure_set_id is not None:
        query = query.where(Structure.structure_set_id == where.structure_set_id)
    return query


STATUSES = tuple(RunStatus)


def status_counts(
    session: Session, benchmark_ids: list[uuid.UUID], where: BoardFilter
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]]:
    """Runs per (benchmark, model) and status, one row per pair (pivoted in SQL).

    Read from the run summary (kept by triggers, migration 0011) unless an element filter
    applies; then counted live (index-only scans of ix_run_benchmark_id_mlip_model_id_status).
    """
    query: Any
    if where.element is None:
        s = LeaderboardRunSummary
        status, n = s.status, s.n
        query = select(
            s.benchmark_id,
            s.mlip_model_id,
            *(func.coalesce(func.sum(n).filter(status == v), 0) for v in STATUSES),
        ).where(s.benchmark_id.in_(benchmark_ids), n > 0)
        if where.structure_set_id is not None:
            query = query.where(s.structure_set_id == where.structure_set_id)
        query = query.group_by(s.benchmark_id, s.mlip_model_id)
    else:
        query = input_filter(
            select(
                Run.benchmark_id,
                Run.mlip_model_id,
                *(func.count().filter(Run.status == v) for v in STATUSES),
            )
            .where(Run.benchmark_id.in_(benchmark_ids))
            .group_by(Run.benchmark_id, Run.mlip_model_id),
            where,
        )
    return {
        (row[0], row[1]): {v.value: int(k) for v, k in zip(STATUSES, row[2:], strict=True) if k}
        for row in session.execute(query)
    }


def board_versions(session: Session, benchmark_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The change counter of each benchmark (bumped by triggers, migration 0011)."""
    v = LeaderboardVersion
    query = select(v.benchmark_id, v.version).where(v.benchmark_id.in_(benchmark_ids))
    return {row[0]: int(row[1]) for row in session.execute(query)}


def error_sums(
    session: Session,
    benchmark_ids: list[uuid.UUID],
    *,
    level_of_theory: str,
    names: list[str],
    where: BoardFilter,
) -> dict[tuple[uuid.UUID, uuid.UUID, str], ErrorSums]:
    """Per (benchmark, model, metric): how many metrics have a reference, and their error sums.

    Read from the summary table unless an element filter applies (the summaries are per
    structure set, not per element); then aggregated live over the matching runs.
    """
    if where.element is None:
        s = LeaderboardMetricSummary
        query: Any = select(
            s.benchmark_id,
            s.mlip_model_id,
            s.name,
            func.sum(s.n),
            func.sum(s.sum_abs_error),
            func.sum(s.sum_abs_rel_error),
        ).where(
            s.benchmark_id.in_(benchmark_ids),
            s.level_of_theory == level_of_theory,
            s.name.in_(names),
        )
        if where.structure_set_id is not None:
            query = query.where(s.structure_set_id == where.structure_set_id)
        query = query.group_by(s.benchmark_id, s.mlip_model_id, s.name)
    else:
        error = Metric.value - Reference.value
        query = input_filter(
            select(
                Run.benchmark_id,
                Run.mlip_model_id,
                Metric.name,
                func.count(),
                func.sum(func.abs(error)),
                func.sum(func.abs(error / Reference.value)),
            )
            .join(Metric, Metric.run_id == Run.id)
            .join(Reference, Reference.id == Metric.reference_id)
            .where(
                Run.benchmark_id.in_(benchmark_ids),
                Run.status == RunStatus.SUCCEEDED,
                Reference.level_of_theory == level_of_theory,
                Reference.value != 0,
                Metric.name.in_(names),
            ),
            where,
        ).group_by(Run.benchmark_id, Run.mlip_model_id, Metric.name)
    return {
        (benchmark_id, model_id, name): ErrorSums(int(n), float(abs_err), float(rel_err))
        for benchmark_id, model_id, name, n, abs_err, rel_err in session.execute(query)
    }


def flagged_counts(
    session: Session, benchmark_ids: list[uuid.UUID], where: BoardFilter
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """Succeeded runs per (benchmark, model) with at least one quality flag raised."""
    if where.element is None:
        f = LeaderboardFlagSummary
        query: Any = select(f.benchmark_id, f.mlip_model_id, func.sum(f.n_flagged)).where(
            f.benchmark_id.in_(benchmark_ids)
        )
        if where.structure_set_id is not None:
            query = query.where(f.structure_set_id == where.structure_set_id)
        query = query.group_by(f.benchmark_id, f.mlip_model_id)
    else:
        query = input_filter(
            select(Run.benchmark_id, Run.mlip_model_id, func.count(func.distinct(Run.id)))
            .join(Metric, Metric.run_id == Run.id)
            .where(Run.benchmark_id.in_(benchmark_ids), *_flag_raised()),
            where,
        ).group_by(Run.benchmark_id, Run.mlip_model_id)
    return {(b, m): int(n) for b, m, n in session.execute(query)}


def _flag_raised() -> tuple[ColumnElement[bool], ...]:
    return (Metric.name.like("flag\\_%"), Metric.value > 0.5)


def newest_result(session: Session, benchmark_ids: list[uuid.UUID]) -> datetime | None:
    value = session.scalar(
        select(func.max(Run.finished_at)).where(Run.benchmark_id.in_(benchmark_ids))
    )
    return value if isinstance(value, datetime) else None


def entry_rows(
    session: Session,
    benchmark_id: uuid.UUID,
    *,
    names: list[str],
    level_of_theory: str,
    model_ids: list[uuid.UUID],
    where: BoardFilter,
) -> list[tuple[uuid.UUID, uuid.UUID, str, Metric, Reference | None]]:
    """(run id, model id, material, metric, reference at the level or None) of succeeded runs."""
    query = (
        select(Run.id, Run.mlip_model_id, Structure.material, Metric, Reference)
        .join(Metric, Metric.run_id == Run.id)
        .join(Structure, Structure.id == Run.structure_id)
        .outerjoin(
            Reference,
            (Reference.id == Metric.reference_id) & (Reference.level_of_theory == level_of_theory),
        )
        .where(
            Run.benchmark_id == benchmark_id,
            Run.status == RunStatus.SUCCEEDED,
            Metric.name.in_(names),
            Run.mlip_model_id.in_(model_ids),
        )
        .order_by(Run.mlip_model_id, Structure.material)
    )
    if where.element is not None:
        query = query.where(Structure.elements.contains([where.element]))
    if where.structure_set_id is not None:
        query = query.where(Structure.structure_set_id == where.structure_set_id)
    return [(r[0], r[1], r[2], r[3], r[4]) for r in session.execute(query)]


def raised_flags(session: Session, run_ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    query = select(Metric.run_id, Metric.name).where(Metric.run_id.in_(run_ids), *_flag_raised())
    return [(r[0], r[1]) for r in session.execute(query.order_by(Metric.name))]
