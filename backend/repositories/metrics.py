"""SQL of the metric list and export: metrics with their run, model, benchmark and reference."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.db.tables import Benchmark, Metric, MlipModel, Reference, Run, Structure
from backend.domain.filters import MetricFilter
from backend.repositories.runs import Viewer, visible_to

COLUMNS = (
    "run_id",
    "model_id",
    "model_name",
    "model_version",
    "benchmark",
    "benchmark_version",
    "structure_label",
    "material",
    "name",
    "value",
    "unit",
    "reference",
    "level_of_theory",
    "error",
)


def _query(where: MetricFilter, columns: Any, viewer: Viewer) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(Metric)
        .join(Run, Run.id == Metric.run_id)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .join(Structure, Structure.id == Run.structure_id)
        .outerjoin(Reference, Reference.id == Metric.reference_id)
        # approved models' results, and a pending or rejected model's for its owner and admins
        .where(visible_to(viewer))
    )
    if where.run_id is not None:
        query = query.where(Metric.run_id == where.run_id)
    if where.model_id is not None:
        query = query.where(Run.mlip_model_id == where.model_id)
    if where.benchmark is not None:
        query = query.where(Benchmark.key == where.benchmark)
    if where.name is not None:
        query = query.where(Metric.name == where.name)
    return query


def list_metrics(
    session: Session, where: MetricFilter, *, viewer: Viewer, limit: int, offset: int
) -> list[dict[str, Any]]:
    columns = (
        Metric.run_id,
        MlipModel.id,
        MlipModel.name,
        MlipModel.version,
        Benchmark.key,
        Benchmark.version,
        Structure.label,
        Structure.material,
        Metric.name,
        Metric.value,
        Metric.unit,
        Reference.value,
        Reference.level_of_theory,
        Metric.error,
    )
    query = _query(where, columns, viewer).order_by(Metric.run_id, Metric.name)
    query = query.limit(limit).offset(offset)
    return [dict(zip(COLUMNS, row, strict=True)) for row in session.execute(query)]


def count_metrics(session: Session, where: MetricFilter, *, viewer: Viewer) -> int:
    return session.scalar(_query(where, [func.count()], viewer)) or 0
