"""The rows of one board (one protocol): coverage, failures, flags, MAEs with intervals, ranks.

What a row counts and how models are ranked is defined once in backend/domain/ranking.py
(docs/metrics.md); this module reads a protocol's runs and applies it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from backend.db.tables import Benchmark
from backend.domain import ranking
from backend.repositories import boards as repo
from backend.repositories import leaderboard as model_repo
from backend.repositories.boards import BoardMetric, BoardRun
from backend.repositories.leaderboard import BoardFilter, ModelInfo
from backend.schemas.leaderboard import (
    EntryValue,
    Interval,
    LeaderboardEntry,
    LeaderboardRow,
    MetricColumn,
    MetricSummary,
)


@dataclass(slots=True)
class BoardData:
    """Everything a board shows, before sorting and paging."""

    rows: list[LeaderboardRow]
    n_materials: int
    elements: list[str]
    runs: dict[uuid.UUID, list[BoardRun]] = field(default_factory=dict)
    metrics: dict[uuid.UUID, dict[str, BoardMetric]] = field(default_factory=dict)
    flags: dict[uuid.UUID, list[str]] = field(default_factory=dict)


def compute_board(
    session: Session,
    benchmark: Benchmark,
    columns: list[MetricColumn],
    *,
    params_hash: str,
    level_of_theory: str,
    where: BoardFilter,
    spec: ranking.RankSpec | None,
) -> BoardData:
    """Rows of every approved model (passing the filters) with a run of the protocol."""
    models = model_repo.approved_models(session, where)
    ids = list(models)
    names = sorted({c.name for c in columns} | ({spec.metric} if spec else set()))
    runs = repo.board_runs(session, benchmark.id, params_hash, model_ids=ids, where=where)
    metrics, flags = repo.board_metrics(
        session,
        benchmark.id,
        params_hash,
        names=names,
        level_of_theory=level_of_theory,
        model_ids=ids,
        where=where,
    )
    by_model: dict[uuid.UUID, list[BoardRun]] = {}
    for run in runs:
        by_model.setdefault(run.model_id, []).append(run)
    by_run: dict[uuid.UUID, dict[str, BoardMetric]] = {}
    for metric in metrics:
        by_run.setdefault(metric.run_id, {})[metric.name] = metric
    # scored: succeeded runs without a quality flag (the MAEs and the rank read only these)
    scored = {
        model_id: [by_run.get(r.run_id, {}) for r in model_runs if _clean(r, flags)]
        for model_id, model_runs in by_model.items()
    }
    losses = {model_id: _losses(by_model[model_id], by_run, flags, spec) for model_id in by_model}
    ranked = ranking.rank_models({str(k): v for k, v in losses.items()})
    n_materials = len({s for per in losses.values() for s in per})
    summaries = _summaries(scored, [c.name for c in columns])
    rows = [
        _row(
            models[model_id],
            model_runs,
            flags,
            ranked[str(model_id)],
            n_scored=len(losses[model_id]),
            n_materials=n_materials,
            names=[c.name for c in columns],
            summaries=summaries[model_id],
        )
        for model_id, model_runs in by_model.items()
    ]
    elements = sorted({e for run in runs for e in run.elements})
    return BoardData(rows, n_materials, elements, by_model, by_run, flags)


def _clean(run: BoardRun, flags: dict[uuid.UUID, list[str]]) -> bool:
    return run.status == "succeeded" and run.run_id not in flags


def _losses(
    runs: list[BoardRun],
    metrics: dict[uuid.UUID, dict[str, BoardMetric]],
    flags: dict[uuid.UUID, list[str]],
    spec: ranking.RankSpec | None,
) -> dict[str, float]:
    """Structure id -> loss of the rank metric, for the model's scored runs only."""
    out: dict[str, float] = {}
    if spec is None:
        return out
    for run in runs:
        m = metrics.get(run.run_id, {}).get(spec.metric) if _clean(run, flags) else None
        if m is not None:
            loss = ranking.loss_of(spec, value=m.value, error=m.error, rel_error=m.rel_error)
            if loss is not None:
                out[str(run.structure_id)] = loss
    return out


def _row(
    model: ModelInfo,
    runs: list[BoardRun],
    flags: dict[uuid.UUID, list[str]],
    place: ranking.Ranked,
    *,
    n_scored: int,
    n_materials: int,
    names: list[str],
    summaries: dict[str, MetricSummary],
) -> LeaderboardRow:
    status = Counter(run.status for run in runs)
    succeeded, failed = status["succeeded"], status["failed"]
    failures = Counter(
        run.failure_class or run.status for run in runs if run.status in ("failed", "skipped")
    )
    fitted = [name for name in model.fitted_to if name in names]
    # model_construct: every field is computed here from typed columns, so validating up to
    # 10^3 rows per request again would only cost time (the response is still serialized)
    return LeaderboardRow.model_construct(
        model_id=model.id,
        model_name=model.name,
        model_version=model.version,
        family=model.family,
        n_runs=len(runs),
        n_succeeded=succeeded,
        n_failed=failed,
        n_skipped=status["skipped"],
        n_pending=status["queued"] + status["running"],
        failure_rate=failed / (succeeded + failed) if succeeded + failed else None,
        n_flagged=sum(1 for r in runs if r.status == "succeeded" and r.run_id in flags),
        failures=dict(sorted(failures.items())),
        n_materials=n_materials,
        n_scored=n_scored,
        score=place.score,
        score_interval=_interval(place.score_interval),
        rank=place.rank,
        rank_interval=list(place.rank_interval) if place.rank_interval else None,
        tier=place.tier,
        fitted_to=fitted,
        metrics=summaries,
    )


def _interval(interval: ranking.Interval | None) -> Interval | None:
    return None if interval is None else Interval(low=interval.low, high=interval.high)


def _summaries(
    scored: dict[uuid.UUID, list[dict[str, BoardMetric]]], names: list[str]
) -> dict[uuid.UUID, dict[str, MetricSummary]]:
    """Per model and metric: MAE (with its interval, all computed in one batch), MAPE and the
    mean value over the model's scored runs."""
    keys = [(model_id, name) for model_id in scored for name in names]
    values = {
        (model_id, name): [m[name] for m in scored[model_id] if name in m]
        for model_id, name in keys
    }
    errors = {k: [abs(m.error) for m in v if m.error is not None] for k, v in values.items()}
    intervals = dict(zip(keys, ranking.mean_intervals([errors[k] for k in keys]), strict=True))
    out: dict[uuid.UUID, dict[str, MetricSummary]] = {model_id: {} for model_id in scored}
    for key in keys:
        found, errs = values[key], errors[key]
        rel = [abs(m.rel_error) for m in found if m.error is not None and m.rel_error is not None]
        out[key[0]][key[1]] = MetricSummary.model_construct(
            mae=sum(errs) / len(errs) if errs else None,
            mae_interval=_interval(intervals[key]),
            mape_percent=100 * sum(rel) / len(rel) if rel else None,
            n=len(errs),
            mean=sum(m.value for m in found) / len(found) if found else None,
            n_values=len(found),
        )
    return out


def entries(
    data: BoardData,
    columns: list[MetricColumn],
    page: list[LeaderboardRow],
    *,
    params_hash: str,
) -> list[LeaderboardEntry]:
    """Per-material numbers of the page's models: every run, failed and flagged ones too."""
    names = {c.name for c in columns}
    out = []
    for row in page:
        for run in sorted(data.runs.get(row.model_id, []), key=lambda r: r.material):
            values = {
                m.name: EntryValue(
                    value=m.value,
                    unit=m.unit,
                    reference=m.reference,
                    error=m.error,
                    rel_error=m.rel_error,
                )
                for m in data.metrics.get(run.run_id, {}).values()
                if m.name in names
            }
            out.append(
                LeaderboardEntry(
                    model_id=row.model_id,
                    model_name=row.model_name,
                    material=run.material,
                    run_id=run.run_id,
                    params_hash=params_hash,
                    status=run.status,
                    failure_class=run.failure_class,
                    values=values,
                    flags=list(data.flags.get(run.run_id, [])),
                )
            )
    return out
