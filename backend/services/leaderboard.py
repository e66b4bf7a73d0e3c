"""Leaderboards: per model version, errors against references of one level of theory.

The error sums come from summary tables kept by triggers when metrics are written (see
backend/db/models/leaderboard.py), so a board costs a few small queries whatever the number
of runs; per-material entries are read only when asked for, and only for the page's models.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import Benchmark
from backend.domain.elements import chemical_symbols
from backend.domain.errors import InvalidInput, NotFound
from backend.repositories import benchmarks as benchmark_repo
from backend.repositories import leaderboard as repo
from backend.repositories import leaderboard_values as values_repo
from backend.repositories.leaderboard import BoardFilter, ErrorSums, ModelInfo
from backend.repositories.leaderboard_values import ValueSums
from backend.schemas.leaderboard import (
    EntryValue,
    LeaderboardEntry,
    LeaderboardRead,
    LeaderboardRow,
    MetricColumn,
    MetricSummary,
)

ROW_COLUMNS = (
    "model_name",
    "model_version",
    "family",
    "n_runs",
    "n_succeeded",
    "n_failed",
    "n_skipped",
    "n_pending",
    "failure_rate",
    "n_flagged",
)
SUMMARY_FIELDS = ("mae", "mape_percent", "n", "mean", "n_values")
#: Part of every board ETag: change it when the body's shape or numbers change for the
#: same data, so no client keeps a body of an older release (2: metric means, elements).
ETAG_FORMAT = 2


@dataclass(frozen=True, slots=True)
class BoardQuery:
    """What a caller asks of a board; ``structure_set`` is a name, checked here."""

    level_of_theory: str = "experiment"
    training_set: str | None = None
    openness: str | None = None
    family: str | None = None
    element: str | None = None
    structure_set: str | None = None

    def filters(self) -> dict[str, str]:
        names = ("training_set", "openness", "family", "element", "structure_set")
        return {n: v for n in names if (v := getattr(self, n)) is not None}


def get_benchmark(session: Session, key: str, version: str | None) -> Benchmark:
    benchmark = benchmark_repo.get_benchmark(session, key, version)
    if benchmark is None:
        raise NotFound(f"no benchmark {key!r}" + (f" version {version!r}" if version else ""))
    return benchmark


def board_etag(
    session: Session, benchmark_ids: list[uuid.UUID], request: list[tuple[str, str]]
) -> str | None:
    """A strong ETag of a board from its benchmarks' change counters and the request.

    Read before the board is built (each statement sees the newest commits), so a body is
    never tagged older than it is; None when a counter is missing (the body is hashed then).
    """
    versions = repo.board_versions(session, benchmark_ids)
    if any(b not in versions for b in benchmark_ids):
        return None
    key = repr((ETAG_FORMAT, [(str(b), versions[b]) for b in benchmark_ids], sorted(request)))
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def board_filter(session: Session, query: BoardQuery) -> BoardFilter:
    """Resolve names to ids; an unknown element or structure set is 422 naming the field."""
    if query.element is not None and query.element not in chemical_symbols[1:]:
        raise InvalidInput(f"unknown element symbol {query.element!r}", where="query.element")
    set_id = None
    if query.structure_set is not None:
        set_id = repo.structure_set_id(session, query.structure_set)
        if set_id is None:
            raise InvalidInput(
                f"no structure set named {query.structure_set!r}", where="query.structure_set"
            )
    return BoardFilter(
        training_set=query.training_set,
        openness=query.openness,
        family=query.family,
        element=query.element,
        structure_set_id=set_id,
    )


def build_leaderboard(
    session: Session,
    key: str,
    *,
    version: str | None = None,
    query: BoardQuery | None = None,
    sort: str | None = None,
    limit: int = 1000,
    offset: int = 0,
    include_entries: bool = False,
) -> LeaderboardRead:
    """One page of the board of approved models on one benchmark version."""
    query = query or BoardQuery()
    benchmark = get_benchmark(session, key, version)
    where = board_filter(session, query)
    columns = [MetricColumn(**m) for m in benchmark.headline_metrics]
    rows = board_rows(session, benchmark, columns, query.level_of_theory, where)
    sort = sort or (f"metrics.{columns[0].name}.mape_percent" if columns else "model_name")
    rows = sort_rows(rows, sort, _row_getter(columns))
    page = rows[offset : offset + limit]
    entries = (
        _entries(session, benchmark.id, columns, query.level_of_theory, page, where)
        if include_entries and page
        else []
    )
    return LeaderboardRead(
        benchmark=benchmark.key,
        version=benchmark.version,
        level_of_theory=query.level_of_theory,
        columns=columns,
        rows=page,
        entries=entries,
        updated_at=repo.newest_result(session, [benchmark.id]),
        elements=values_repo.run_elements(session, benchmark.id, [r.model_id for r in rows], where),
        total=len(rows),
        limit=limit,
        offset=offset,
        sort=sort,
        filters=query.filters(),
    )


def board_rows(
    session: Session,
    benchmark: Benchmark,
    columns: list[MetricColumn],
    level_of_theory: str,
    where: BoardFilter,
) -> list[LeaderboardRow]:
    """Every approved model (passing the filters) with at least one run on the benchmark."""
    return many_board_rows(session, [(benchmark, columns)], level_of_theory, where)[0]


def many_board_rows(
    session: Session,
    boards: list[tuple[Benchmark, list[MetricColumn]]],
    level_of_theory: str,
    where: BoardFilter,
    *,
    with_flags: bool = True,
    with_values: bool = True,
) -> list[list[LeaderboardRow]]:
    """The rows of several boards, read with one query per kind (not one per board).

    ``with_flags=False`` leaves ``n_flagged`` 0, ``with_values=False`` every metric's ``mean``
    None (for callers that do not show them).
    """
    ids = [b.id for b, _ in boards]
    models = repo.approved_models(session, where)
    counts = repo.status_counts(session, ids, where)
    names = sorted({c.name for _, columns in boards for c in columns})
    sums = repo.error_sums(session, ids, level_of_theory=level_of_theory, names=names, where=where)
    flagged = repo.flagged_counts(session, ids, where) if with_flags else {}
    values = values_repo.value_sums(session, ids, names=names, where=where) if with_values else {}
    grouped: dict[tuple[uuid.UUID, uuid.UUID], dict[tuple[uuid.UUID, str], ErrorSums]] = {}
    for (benchmark_id, model_id, name), value in sums.items():
        grouped.setdefault((benchmark_id, model_id), {})[(model_id, name)] = value
    value_grouped: dict[tuple[uuid.UUID, uuid.UUID], dict[str, ValueSums]] = {}
    for (benchmark_id, model_id, name), total in values.items():
        value_grouped.setdefault((benchmark_id, model_id), {})[name] = total
    return [
        [
            _row(
                model,
                counts[(benchmark.id, model_id)],
                grouped.get((benchmark.id, model_id), {}),
                value_grouped.get((benchmark.id, model_id), {}),
                flagged.get((benchmark.id, model_id), 0),
                [c.name for c in columns],
            )
            for model_id, model in models.items()
            if (benchmark.id, model_id) in counts
        ]
        for benchmark, columns in boards
    ]


def _row(
    model: ModelInfo,
    counts: dict[str, int],
    sums: dict[tuple[uuid.UUID, str], ErrorSums],
    values: dict[str, ValueSums],
    n_flagged: int,
    names: list[str],
) -> LeaderboardRow:
    succeeded, failed = counts.get("succeeded", 0), counts.get("failed", 0)
    # model_construct: every field is computed here from typed columns, so validating up to
    # 10^3 rows per request again would only cost time (the response is still serialized
    # against the schema)
    return LeaderboardRow.model_construct(
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
        n_flagged=n_flagged,
        metrics={name: _summary(sums.get((model.id, name)), values.get(name)) for name in names},
    )


def _summary(sums: ErrorSums | None, values: ValueSums | None) -> MetricSummary:
    n = sums.n if sums is not None else 0
    n_values = values.n if values is not None else 0
    return MetricSummary.model_construct(
        mae=sums.sum_abs_error / n if sums is not None and n else None,
        mape_percent=100 * sums.sum_abs_rel_error / n if sums is not None and n else None,
        n=n,
        mean=values.sum_value / n_values if values is not None and n_values else None,
        n_values=n_values,
    )


def _row_getter(columns: list[MetricColumn]) -> Callable[[str], Callable[[Any], Any]]:
    """Map a sort column (``failure_rate``, ``metrics.B0.mape_percent``) to a value getter."""
    names = {c.name for c in columns}

    def getter(column: str) -> Callable[[Any], Any]:
        if column in ROW_COLUMNS:
            return lambda row: getattr(row, column)
        parts = column.split(".")
        if (
            len(parts) == 3
            and parts[0] == "metrics"
            and parts[1] in names
            and parts[2] in SUMMARY_FIELDS
        ):
            return lambda row: getattr(row.metrics[parts[1]], parts[2])
        allowed = [
            *ROW_COLUMNS,
            *(f"metrics.{n}.{f}" for n in sorted(names) for f in SUMMARY_FIELDS),
        ]
        raise InvalidInput(
            f"cannot sort on {column!r}; sortable columns: {', '.join(allowed)}", where="query.sort"
        )

    return getter


def sort_rows(
    rows: list[Any], sort: str, getter: Callable[[str], Callable[[Any], Any]]
) -> list[Any]:
    """Sort on one column (``-`` first: descending), missing values last, then by model name."""
    descending = sort.startswith("-")
    value = getter(sort.lstrip("-"))
    present = [r for r in rows if value(r) is not None]
    missing = sorted((r for r in rows if value(r) is None), key=lambda r: r.model_name)
    present.sort(key=lambda r: r.model_name)  # stable: ties stay in name order
    present.sort(key=value, reverse=descending)
    return present + missing


def _entries(
    session: Session,
    benchmark_id: uuid.UUID,
    columns: list[MetricColumn],
    level_of_theory: str,
    page: list[LeaderboardRow],
    where: BoardFilter,
) -> list[LeaderboardEntry]:
    names = {row.model_id: row.model_name for row in page}
    by_run: dict[uuid.UUID, LeaderboardEntry] = {}
    for run_id, model_id, material, metric, ref in repo.entry_rows(
        session,
        benchmark_id,
        names=[c.name for c in columns],
        level_of_theory=level_of_theory,
        model_ids=list(names),
        where=where,
    ):
        entry = by_run.setdefault(
            run_id,
            LeaderboardEntry(
                model_id=model_id,
                model_name=names[model_id],
                material=material,
                run_id=run_id,
                values={},
            ),
        )
        entry.values[metric.name] = EntryValue(
            value=metric.value,
            unit=metric.unit,
            reference=ref.value if ref is not None else None,
            # stored when the metric was written; none when its reference is of another level
            error=metric.error if ref is not None else None,
            rel_error=metric.rel_error if ref is not None else None,
        )
    for run_id, name in repo.raised_flags(session, list(by_run)):
        by_run[run_id].flags.append(name)
    return list(by_run.values())
