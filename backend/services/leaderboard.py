"""Leaderboards: per model version, errors against references of one level of theory."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Metric, MlipModel, ModelStatus, Reference, Run, RunStatus, Structure
from backend.domain.errors import NotFound
from backend.repositories import benchmarks as benchmark_repo
from backend.schemas.leaderboard import (
    EntryValue,
    LeaderboardEntry,
    LeaderboardRead,
    LeaderboardRow,
    MetricColumn,
    MetricSummary,
)


def build_leaderboard(
    session: Session, key: str, *, version: str | None, level_of_theory: str
) -> LeaderboardRead:
    """Aggregate every approved model's runs of one benchmark version."""
    benchmark = benchmark_repo.get_benchmark(session, key, version)
    if benchmark is None:
        raise NotFound(f"no benchmark {key!r}" + (f" version {version!r}" if version else ""))
    columns = [MetricColumn(**m) for m in benchmark.headline_metrics]
    models = {
        m.id: m
        for m in session.scalars(select(MlipModel).where(MlipModel.status == ModelStatus.APPROVED))
    }
    counts = _status_counts(session, benchmark.id)
    entries = _entries(session, benchmark.id, [c.name for c in columns], level_of_theory, models)
    rows = [
        _row(model, counts.get(model_id, {}), entries, columns)
        for model_id, model in models.items()
        if model_id in counts
    ]
    rows.sort(
        key=lambda r: (
            (r.metrics[columns[0].name].mape_percent or float("inf"), r.model_name)
            if columns
            else r.model_name
        )
    )
    updated_at = session.scalar(
        select(func.max(Run.finished_at)).where(Run.benchmark_id == benchmark.id)
    )
    return LeaderboardRead(
        benchmark=benchmark.key,
        version=benchmark.version,
        level_of_theory=level_of_theory,
        columns=columns,
        rows=rows,
        entries=entries,
        updated_at=updated_at if isinstance(updated_at, datetime) else None,
    )


def _status_counts(session: Session, benchmark_id: uuid.UUID) -> dict[uuid.UUID, dict[str, int]]:
    query = (
        select(Run.mlip_model_id, Run.status, func.count())
        .where(Run.benchmark_id == benchmark_id)
        .group_by(Run.mlip_model_id, Run.status)
    )
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for model_id, status, n in session.execute(query):
        counts[model_id][status.value] = n
    return counts


def _entries(
    session: Session,
    benchmark_id: uuid.UUID,
    names: list[str],
    level_of_theory: str,
    models: dict[uuid.UUID, MlipModel],
) -> list[LeaderboardEntry]:
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
            Run.mlip_model_id.in_(list(models)),
        )
        .order_by(Run.mlip_model_id, Structure.material)
    )
    by_run: dict[uuid.UUID, LeaderboardEntry] = {}
    for run_id, model_id, material, metric, ref in session.execute(query):
        entry = by_run.setdefault(
            run_id,
            LeaderboardEntry(
                model_id=model_id,
                model_name=models[model_id].name,
                material=material,
                run_id=run_id,
                values={},
            ),
        )
        entry.values[metric.name] = EntryValue(
            value=metric.value,
            unit=metric.unit,
            reference=ref.value if ref is not None else None,
            error=metric.value - ref.value if ref is not None else None,
        )
    for run_id, name in session.execute(
        select(Metric.run_id, Metric.name).where(
            Metric.run_id.in_(list(by_run)), Metric.name.like("flag\\_%"), Metric.value > 0.5
        )
    ):
        by_run[run_id].flags.append(name)
    return list(by_run.values())


def _row(
    model: MlipModel,
    counts: dict[str, int],
    entries: list[LeaderboardEntry],
    columns: list[MetricColumn],
) -> LeaderboardRow:
    mine = [e for e in entries if e.model_id == model.id]
    succeeded, failed = counts.get("succeeded", 0), counts.get("failed", 0)
    return LeaderboardRow(
        model_id=model.id,
        model_name=model.name,
        model_version=model.version,
        family=model.family,
        n_runs=sum(counts.values()),
        n_succeeded=succeeded,
        n_failed=failed,
        n_skipped=counts.get("skipped", 0),
        n_pending=counts.get("queued", 0) + counts.get("running", 0),
        failure_rate=failed / (succeeded + failed) if succeeded + failed else None,
        n_flagged=sum(1 for e in mine if e.flags),
        metrics={
            c.name: _summary([e.values[c.name] for e in mine if c.name in e.values])
            for c in columns
        },
    )


def _summary(values: list[EntryValue]) -> MetricSummary:
    compared = [v for v in values if v.error is not None and v.reference]
    if not compared:
        return MetricSummary(mae=None, mape_percent=None, n=0)
    mae = sum(abs(v.error or 0.0) for v in compared) / len(compared)
    mape = 100 * sum(abs((v.error or 0.0) / (v.reference or 1.0)) for v in compared) / len(compared)
    return MetricSummary(mae=mae, mape_percent=mape, n=len(compared))
