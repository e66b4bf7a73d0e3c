"""SQL of the representation summary: its inputs (latest embeddings, other outcomes) and rows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, delete, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from backend.db.tables import (
    Benchmark,
    Metric,
    MlipModel,
    Projection,
    RepresentationSummary,
    Run,
    Structure,
)
from backend.domain.statuses import ModelStatus, RunStatus

REPRESENTATION = "representation"
POOLED = "pooled_embeddings"


def latest_embeddings(session: Session) -> list[Row[Any]]:
    """Per approved model and structure, its latest succeeded ``representation`` run with a
    ``pooled_embeddings`` projection: model, structure and the projection's data."""
    latest = (
        select(Run.id, Run.mlip_model_id, Run.structure_id, Projection.data)
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .join(Projection, (Projection.run_id == Run.id) & (Projection.name == POOLED))
        .where(
            Benchmark.key == REPRESENTATION,
            Run.status == RunStatus.SUCCEEDED,
            MlipModel.status == ModelStatus.APPROVED,
        )
        .ext(distinct_on(Run.mlip_model_id, Run.structure_id))
        .order_by(Run.mlip_model_id, Run.structure_id, Run.finished_at.desc().nulls_last(), Run.id)
        .subquery()
    )
    query = (
        select(
            latest.c.id.label("run_id"),
            MlipModel.id.label("model_id"),
            MlipModel.name,
            MlipModel.version,
            MlipModel.family,
            MlipModel.params,
            Structure.id.label("structure_id"),
            Structure.formula,
            latest.c.data,
        )
        .join(MlipModel, MlipModel.id == latest.c.mlip_model_id)
        .join(Structure, Structure.id == latest.c.structure_id)
        .order_by(MlipModel.name, MlipModel.version, Structure.id)
    )
    return list(session.execute(query))


def latest_outcomes(session: Session, model_ids: list[uuid.UUID]) -> list[Row[Any]]:
    """Per model, structure and other benchmark, its latest finished (succeeded or failed) run:
    status, failure class, raised flags (``flag_*`` metrics at 1) and the mean |relative error|
    of its reference-compared metrics."""
    if not model_ids:
        return []
    latest = (
        select(
            Run.id,
            Run.mlip_model_id,
            Run.structure_id,
            Benchmark.key.label("benchmark"),
            Run.status,
            Run.failure_class,
        )
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .where(
            Run.mlip_model_id.in_(model_ids),
            Benchmark.key != REPRESENTATION,
            Run.status.in_([RunStatus.SUCCEEDED, RunStatus.FAILED]),
        )
        .ext(distinct_on(Run.mlip_model_id, Run.structure_id, Benchmark.key))
        .order_by(
            Run.mlip_model_id,
            Run.structure_id,
            Benchmark.key,
            Run.finished_at.desc().nulls_last(),
            Run.id,
        )
        .subquery()
    )
    is_flag = Metric.name.like("flag\\_%")
    errors = (
        select(Metric.run_id, func.avg(func.abs(Metric.rel_error)).label("abs_rel_error"))
        .join(latest, latest.c.id == Metric.run_id)
        .where(Metric.rel_error.is_not(None), ~is_flag)
        .group_by(Metric.run_id)
        .subquery()
    )
    flags = (
        select(Metric.run_id, func.array_agg(Metric.name).label("flags"))
        .join(latest, latest.c.id == Metric.run_id)
        .where(is_flag, Metric.value > 0.5)
        .group_by(Metric.run_id)
        .subquery()
    )
    query = (
        select(
            latest.c.mlip_model_id,
            latest.c.structure_id,
            latest.c.benchmark,
            latest.c.status,
            latest.c.failure_class,
            flags.c.flags,
            errors.c.abs_rel_error,
        )
        .outerjoin(errors, errors.c.run_id == latest.c.id)
        .outerjoin(flags, flags.c.run_id == latest.c.id)
    )
    return list(session.execute(query))


def structure_data(session: Session, structure_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The stored ASE JSON of each structure."""
    if not structure_ids:
        return {}
    query = select(Structure.id, Structure.data).where(Structure.id.in_(structure_ids))
    return {row.id: row.data for row in session.execute(query)}


def approved_model_ids(session: Session, model_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``model_ids`` are approved now."""
    if not model_ids:
        return set()
    query = select(MlipModel.id).where(
        MlipModel.id.in_(model_ids), MlipModel.status == ModelStatus.APPROVED
    )
    return set(session.scalars(query))


def add_summary(
    session: Session, *, n_runs: int, body: dict[str, Any], keep: int
) -> RepresentationSummary:
    """Store a summary; only the ``keep`` newest are kept."""
    summary = RepresentationSummary(n_runs=n_runs, body=body)
    session.add(summary)
    session.flush()
    newest = (
        select(RepresentationSummary.id)
        .order_by(RepresentationSummary.created_at.desc(), RepresentationSummary.id)
        .limit(keep)
    )
    older = delete(RepresentationSummary).where(
        RepresentationSummary.id.not_in(newest), RepresentationSummary.id != summary.id
    )
    session.execute(older.execution_options(synchronize_session=False))
    return summary


def latest_summary(session: Session) -> RepresentationSummary | None:
    query = select(RepresentationSummary).order_by(RepresentationSummary.created_at.desc()).limit(1)
    return session.scalars(query).first()
