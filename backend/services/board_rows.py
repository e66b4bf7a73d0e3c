"""The rows of one board (one protocol): coverage, failures, flags, MAEs with intervals, ranks.

What a row counts and how models are ranked is defined once in backend/domain/ranking.py
(docs/metrics.md); this module reads a protocol's runs and applies it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

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
from shared_kernel.lru import LruCache


@dataclass(slots=True)
class BoardData:
    """Everything a board shows, before sorting and paging; shared between builds (kept in
    ``_BOARDS``), so never changed once made."""

    rows: list[LeaderboardRow]
    n_materials: int
    elements: list[str]


@dataclass(frozen=True, slots=True)
class _ModelPart:
    """What a board keeps of one model between builds: read under its change counter
    ``version``, reused while the counter has not moved. Never changed once made."""

    version: int
    counts: tuple[repo.RunCount, ...]
    elements: tuple[str, ...]
    #: structure id -> loss of the rank metric, scored runs only
    losses: dict[str, float]
    summaries: dict[str, MetricSummary]


#: A board's parts per model, by what they depend on: (benchmark id, params hash, level of
#: theory, metric names, column names, rank spec, structure filters). Per process, bounded.
_PARTS: LruCache[tuple[object, ...], dict[uuid.UUID, _ModelPart]] = LruCache(64)
#: The last board built from them, with the (model, counter) pairs it was built from: a board
#: no write touched (the combined board's other benchmarks) is not ranked again.
_BOARDS: LruCache[tuple[object, ...], tuple[tuple[object, ...], BoardData]] = LruCache(64)


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
    """Rows of every approved model (passing the filters) with a run of the protocol.

    Each model's counts, losses and summaries are read again only when its change counter
    moved (one result landing: one model); the ranks, which compare every model, are always
    computed afresh."""
    models = model_repo.approved_models(session, where)
    # read before the data: a part is never kept under a counter newer than what it read
    versions = repo.model_versions(session, benchmark.id)
    names = board_names(columns, spec)
    key = (
        benchmark.id,
        params_hash,
        level_of_theory,
        tuple(names),
        tuple(c.name for c in columns),
        spec,
        (where.element, where.structure_set_id, where.prototype),
    )
    signature = tuple((m, versions.get(m)) for m in models)
    last = _BOARDS.get(key)
    if last is not None and last[0] == signature:
        return last[1]
    known = _PARTS.get(key) or {}
    stale = [m for m in models if m in versions and getattr(known.get(m), "version", None)
             != versions[m]]  # fmt: skip
    fresh = _read_parts(
        session,
        benchmark,
        columns,
        names,
        {m: versions[m] for m in stale},
        params_hash=params_hash,
        level_of_theory=level_of_theory,
        where=where,
        spec=spec,
    )
    parts = {m: fresh[m] if m in fresh else known[m] for m in models if m in versions}
    if fresh:
        _PARTS.put(key, {**known, **parts})
    # the approved models' order: the same data always give the same rows and batches
    with_runs = [m for m in models if m in parts and parts[m].counts]
    ranked = ranking.rank_models({str(m): parts[m].losses for m in with_runs})
    n_materials = len({s for m in with_runs for s in parts[m].losses})
    rows = [
        _row(
            models[m],
            parts[m].counts,
            ranked[str(m)],
            n_scored=len(parts[m].losses),
            n_materials=n_materials,
            names=[c.name for c in columns],
            summaries=parts[m].summaries,
        )
        for m in with_runs
    ]
    elements = sorted({e for m in with_runs for e in parts[m].elements})
    data = BoardData(rows, n_materials, elements)
    _BOARDS.put(key, (signature, data))
    return data


def _read_parts(
    session: Session,
    benchmark: Benchmark,
    columns: list[MetricColumn],
    names: list[str],
    versions: dict[uuid.UUID, int],
    *,
    params_hash: str,
    level_of_theory: str,
    where: BoardFilter,
    spec: ranking.RankSpec | None,
) -> dict[uuid.UUID, _ModelPart]:
    """The parts of these models (with the counters read before), from two statements that
    read the metrics ``names``."""
    if not versions:
        return {}
    ids = list(versions)
    counts, elements = repo.board_counts(
        session, benchmark.id, params_hash, names=names, model_ids=ids, where=where
    )
    found = repo.board_values(
        session,
        benchmark.id,
        params_hash,
        names=names,
        level_of_theory=level_of_theory,
        model_ids=ids,
        where=where,
    )
    by_model: dict[uuid.UUID, list[repo.RunCount]] = {}
    for count in counts:
        by_model.setdefault(count.model_id, []).append(count)
    # scored: succeeded runs without a quality flag (the MAEs and the rank read only these)
    values = {(v.model_id, v.name): v for v in found}
    summaries = _summaries(values, ids, [c.name for c in columns])
    return {
        m: _ModelPart(
            version=versions[m],
            counts=tuple(by_model.get(m, ())),
            elements=tuple(elements.get(m, ())),
            losses=_losses(values.get((m, spec.metric)), spec) if spec else {},
            summaries=summaries[m],
        )
        for m in ids
    }


def board_names(columns: list[MetricColumn], spec: ranking.RankSpec | None) -> list[str]:
    """The metrics a board reads: its columns and the rank metric."""
    return sorted({c.name for c in columns} | ({spec.metric} if spec else set()))


def _losses(found: repo.MetricValues | None, spec: ranking.RankSpec) -> dict[str, float]:
    """Structure id -> loss of the rank metric, for the model's scored runs only."""
    if found is None:
        return {}
    losses = ranking.losses_of(
        spec, values=found.values, errors=found.errors, rel_errors=found.rel_errors
    )
    return {
        s: loss for s, loss in zip(found.structure_ids, losses, strict=True) if loss is not None
    }


def _row(
    model: ModelInfo,
    counts: tuple[repo.RunCount, ...],
    place: ranking.Ranked,
    *,
    n_scored: int,
    n_materials: int,
    names: list[str],
    summaries: dict[str, MetricSummary],
) -> LeaderboardRow:
    status: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for count in counts:
        status[count.status] += count.n
        if count.status in ("failed", "skipped"):
            failures[count.failure_class or count.status] += count.n
    succeeded, failed = status["succeeded"], status["failed"]
    fitted = [name for name in model.fitted_to if name in names]
    # model_construct: every field is computed here from typed columns, so validating up to
    # 10^3 rows per request again would only cost time (the response is still serialized)
    return LeaderboardRow.model_construct(
        model_id=model.id,
        model_name=model.name,
        model_version=model.version,
        family=model.family,
        n_runs=status.total(),
        n_succeeded=succeeded,
        n_failed=failed,
        n_skipped=status["skipped"],
        n_pending=status["queued"] + status["running"],
        failure_rate=failed / (succeeded + failed) if succeeded + failed else None,
        n_flagged=sum(c.n_flagged for c in counts),
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
    values: dict[tuple[uuid.UUID, str], repo.MetricValues],
    model_ids: list[uuid.UUID],
    names: list[str],
) -> dict[uuid.UUID, dict[str, MetricSummary]]:
    """Per model and metric: MAE (with its interval, all computed in one batch), MAPE and the
    mean value over the model's scored runs (sums in the runs' order)."""
    keys = [(model_id, name) for model_id in model_ids for name in names]
    empty: list[float | None] = []
    found = {k: values[k].values if k in values else [] for k in keys}
    errors_of = {k: values[k].errors if k in values else empty for k in keys}
    rels_of = {k: values[k].rel_errors if k in values else empty for k in keys}
    errors = {k: [abs(e) for e in errors_of[k] if e is not None] for k in keys}
    intervals = dict(zip(keys, ranking.mean_intervals([errors[k] for k in keys]), strict=True))
    out: dict[uuid.UUID, dict[str, MetricSummary]] = {model_id: {} for model_id in model_ids}
    for key in keys:
        errs = errors[key]
        rel = [
            abs(r)
            for e, r in zip(errors_of[key], rels_of[key], strict=True)
            if e is not None and r is not None
        ]
        out[key[0]][key[1]] = MetricSummary.model_construct(
            mae=sum(errs) / len(errs) if errs else None,
            mae_interval=_interval(intervals[key]),
            mape_percent=100 * sum(rel) / len(rel) if rel else None,
            n=len(errs),
            mean=sum(found[key]) / len(found[key]) if found[key] else None,
            n_values=len(found[key]),
        )
    return out


def entries(
    session: Session,
    benchmark: Benchmark,
    columns: list[MetricColumn],
    page: list[LeaderboardRow],
    *,
    params_hash: str,
    level_of_theory: str,
    where: BoardFilter,
    spec: ranking.RankSpec | None,
) -> list[LeaderboardEntry]:
    """Per-material numbers of the page's models: every run, failed and flagged ones too."""
    ids = [row.model_id for row in page]
    read = board_names(columns, spec)
    runs = repo.board_runs(session, benchmark.id, params_hash, model_ids=ids, where=where)
    metrics, flags = repo.board_metrics(
        session,
        benchmark.id,
        params_hash,
        names=read,
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
    names = [c.name for c in columns]
    out = []
    for row in page:
        for run in sorted(by_model.get(row.model_id, []), key=lambda r: r.material):
            found = by_run.get(run.run_id, {})
            # in the columns' order, whatever order the database returned the rows in
            values = {
                name: EntryValue(
                    value=m.value,
                    unit=m.unit,
                    reference=m.reference,
                    error=m.error,
                    rel_error=m.rel_error,
                )
                for name in names
                if (m := found.get(name)) is not None
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
                    flags=list(flags.get(run.run_id, [])),
                )
            )
    return out
