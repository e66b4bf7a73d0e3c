"""Leaderboards: one protocol per board, models ranked as backend/domain/ranking.py defines.

A board is (benchmark version, parameter set): runs of other parameter sets are other
boards, listed in ``protocols`` and never averaged in. Its rows are computed from the
protocol's runs (backend/services/board_rows.py); the body is stored under an ETag derived
from change counters bumped by triggers, so it is rebuilt only after a write it shows.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from backend.db.tables import Benchmark
from backend.domain import ranking
from backend.domain.elements import chemical_symbols
from backend.repositories import benchmarks as benchmark_repo
from backend.repositories import boards as boards_repo
from backend.repositories import leaderboard as repo
from backend.repositories.leaderboard import BoardFilter
from backend.schemas.leaderboard import (
    LeaderboardRead,
    MetricColumn,
    Protocol,
    RankingInfo,
)
from backend.services import board_rows
from shared_kernel import hashing
from shared_kernel.errors import InvalidInput, NotFound, NotStored

ROW_COLUMNS = (
    "rank",
    "score",
    "n_scored",
    "tier",
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
#: What a board's ``sort`` looks like (the OpenAPI pattern); a metric column must also be on
#: the board asked for.
SORT_PATTERN = (
    rf"^-?(?:{'|'.join(ROW_COLUMNS)}|metrics\.[A-Za-z0-9_]+\.(?:{'|'.join(SUMMARY_FIELDS)}))$"
)
#: Part of every board ETag: change it when the body's shape or numbers change for the
#: same data, so no client keeps a body of an older release (2: metric means, elements;
#: 3: one protocol per board, ranks with intervals; 4: MAE intervals bootstrap the runs in
#: one fixed order, not the order the database returned them in).
ETAG_FORMAT = 4


@dataclass(frozen=True, slots=True)
class BoardQuery:
    """What a caller asks of a board; ``structure_set`` is a name, checked here."""

    #: None: the benchmark's own level (experiment; CCSD(T)/CBS for S22)
    level_of_theory: str | None = None
    training_set: str | None = None
    openness: str | None = None
    family: str | None = None
    element: str | None = None
    structure_set: str | None = None
    prototype: str | None = None

    def filters(self) -> dict[str, str]:
        names = ("training_set", "openness", "family", "element", "structure_set", "prototype")
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
    return etag_of([(b, versions.get(b)) for b in benchmark_ids], request)


def etag_of(
    counters: list[tuple[uuid.UUID, int | None]], request: list[tuple[str, str]]
) -> str | None:
    """The ETag of a board over these (benchmark id, change counter) pairs, in the board's
    order, for this request; None when a counter is missing."""
    if any(n is None for _, n in counters):
        return None
    key = repr((ETAG_FORMAT, [(str(b), n) for b, n in counters], sorted(request)))
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def current_etag(
    keys: list[str],
    version: str | None,
    request: list[tuple[str, str]],
    *,
    connection: Connection,
) -> str | None:
    """The ETag a board of ``keys`` (newest versions, or ``version`` of the one key) has now
    on ``connection``; None when a key or a counter is missing.

    The same value ``board_etag`` gives the route for the same benchmarks and request, read
    without an ORM session: the fast path's reader where a caller names the connection (tests:
    their own transaction's); the API's is ``backend.services.board_counters``.
    """
    found = repo.counters_by_key(connection, keys, version)
    if any(k not in found for k in keys):
        return None
    return etag_of([found[k] for k in keys], request)


def board_filter(session: Session, query: BoardQuery) -> BoardFilter:
    """Resolve names to ids; an unknown element, structure set or prototype is 4xx naming the
    field."""
    if query.element is not None and query.element not in chemical_symbols[1:]:
        raise InvalidInput(f"unknown element symbol {query.element!r}", where="query.element")
    set_id = None
    if query.structure_set is not None:
        set_id = repo.structure_set_id(session, query.structure_set)
        if set_id is None:
            raise NotStored(
                f"no structure set named {query.structure_set!r}", where="query.structure_set"
            )
    if query.prototype is not None and not repo.prototype_stored(session, query.prototype):
        raise NotStored(
            f"no stored structure has the prototype {query.prototype!r} (GET /prototypes lists "
            "those stored)",
            where="query.prototype",
        )
    return BoardFilter(
        training_set=query.training_set,
        openness=query.openness,
        family=query.family,
        element=query.element,
        structure_set_id=set_id,
        prototype=query.prototype,
    )


#: What a reader should keep in mind on a benchmark's boards, beside the numbers.
BENCHMARK_NOTES: dict[str, tuple[str, ...]] = {
    "cohesive": (
        "A cohesive energy needs the model's energy of an isolated atom. Most MLIPs never saw "
        "an isolated atom in training (their data are bulk crystals), so that energy is an "
        "extrapolation: an error here may come from the free atom, not the crystal.",
    ),
    "s22": (
        "Ranked by the MAE of the interaction energy in eV against CCSD(T)/CBS: percentage "
        "errors are meaningless for interaction energies near zero. The mean of wrong_sign "
        "is the fraction of complexes whose interaction energy has the wrong sign (every S22 "
        "complex is bound: a model that repels there gets the physics wrong).",
    ),
}
FITTED_NOTE = (
    "Models marked 'fitted to' were fitted to the very references of this board: their "
    "errors there are not predictions."
)


def default_params_hash(benchmark: Benchmark) -> str:
    """The hash of the benchmark version's standard parameter set: its default board."""
    return hashing.params_hash(benchmark.key, benchmark.version, benchmark.default_params)


def protocol_list(session: Session, benchmark: Benchmark) -> list[Protocol]:
    """Every parameter set with runs, the standard one first (listed even without runs)."""
    default = default_params_hash(benchmark)
    found = {h: (p, n) for h, p, n in boards_repo.protocols(session, benchmark.id)}
    found.setdefault(default, (dict(benchmark.default_params), 0))
    return sorted(
        (
            Protocol(
                params_hash=h,
                params=p,
                changed={
                    k: v for k, v in p.items() if benchmark.default_params.get(k, object()) != v
                },
                is_default=h == default,
                n_runs=n,
            )
            for h, (p, n) in found.items()
        ),
        key=lambda pr: (not pr.is_default, -pr.n_runs, pr.params_hash),
    )


def choose_protocol(protocols: list[Protocol], wanted: str | None) -> Protocol:
    """The protocol asked for (a full hash or an unambiguous prefix), else the standard one."""
    if wanted is None:
        return next(p for p in protocols if p.is_default)
    matches = [p for p in protocols if p.params_hash.startswith(wanted)]
    if len(matches) != 1:
        known = ", ".join(f"{p.params_hash[:12]} ({p.n_runs} runs)" for p in protocols)
        raise NotStored(
            f"no single protocol with params_hash {wanted!r}; this benchmark has: {known}",
            where="query.params_hash",
        )
    return matches[0]


def ranking_info(spec: ranking.RankSpec | None, columns: list[MetricColumn]) -> RankingInfo | None:
    if spec is None:
        return None
    unit = next((c.unit for c in columns if c.name == spec.metric), "")
    return RankingInfo(
        metric=spec.metric,
        loss=spec.loss,
        unit="%" if spec.loss == "abs_rel_error" else unit,
        higher_is_better=spec.higher_is_better,
        description=f"ranked by the mean over the board's materials of the {spec.description}; "
        "failed, flagged and missing materials count as the worst loss any model scored there",
        n_bootstrap=ranking.N_BOOTSTRAP,
        confidence=ranking.CONFIDENCE,
    )


def level_for(key: str, query: BoardQuery) -> str:
    """The level of theory asked for, else the benchmark's own (S22: CCSD(T)/CBS)."""
    if query.level_of_theory is not None:
        return query.level_of_theory
    spec = ranking.RANK_SPECS.get(key)
    return spec.default_level if spec else "experiment"


def build_leaderboard(
    session: Session,
    key: str,
    *,
    version: str | None = None,
    params_hash: str | None = None,
    query: BoardQuery | None = None,
    sort: str | None = None,
    limit: int = 1000,
    offset: int = 0,
    include_entries: bool = False,
) -> LeaderboardRead:
    """One page of the board of approved models on one protocol of a benchmark version."""
    query = query or BoardQuery()
    benchmark = get_benchmark(session, key, version)
    where = board_filter(session, query)
    columns = [MetricColumn(**m) for m in benchmark.headline_metrics]
    protocols = protocol_list(session, benchmark)
    protocol = choose_protocol(protocols, params_hash)
    level = level_for(benchmark.key, query)
    spec = ranking.rank_spec(benchmark.key, columns[0].name if columns else None)
    data = board_rows.compute_board(
        session,
        benchmark,
        columns,
        params_hash=protocol.params_hash,
        level_of_theory=level,
        where=where,
        spec=spec,
    )
    sort = sort or "rank"
    rows = sort_rows(data.rows, sort, _row_getter(columns))
    page = rows[offset : offset + limit]
    notes = list(BENCHMARK_NOTES.get(benchmark.key, ()))
    if not protocol.is_default:
        notes.insert(0, f"Not the standard protocol: {protocol.changed} differ from it.")
    if any(row.fitted_to for row in rows):
        notes.append(FITTED_NOTE)
    return LeaderboardRead(
        benchmark=benchmark.key,
        version=benchmark.version,
        level_of_theory=level,
        params_hash=protocol.params_hash,
        params=protocol.params,
        is_default_protocol=protocol.is_default,
        protocols=protocols,
        ranking=ranking_info(spec, columns),
        n_materials=data.n_materials,
        notes=notes,
        columns=columns,
        rows=page,
        entries=(
            board_rows.entries(
                session,
                benchmark,
                columns,
                page,
                params_hash=protocol.params_hash,
                level_of_theory=level,
                where=where,
                spec=spec,
            )
            if include_entries
            else []
        ),
        updated_at=repo.newest_result(session, [benchmark.id]),
        elements=data.elements,
        total=len(rows),
        limit=limit,
        offset=offset,
        sort=sort,
        filters=query.filters(),
    )


def default_board(
    session: Session, benchmark: Benchmark, query: BoardQuery, where: BoardFilter
) -> tuple[ranking.RankSpec | None, board_rows.BoardData]:
    """The rows of a benchmark's standard protocol (what the combined board ranks on), with
    the rank metric's column only (the combined board shows nothing else of them)."""
    columns = [MetricColumn(**m) for m in benchmark.headline_metrics]
    spec = ranking.rank_spec(benchmark.key, columns[0].name if columns else None)
    data = board_rows.compute_board(
        session,
        benchmark,
        [c for c in columns if spec is not None and c.name == spec.metric],
        params_hash=default_params_hash(benchmark),
        level_of_theory=level_for(benchmark.key, query),
        where=where,
        spec=spec,
    )
    return spec, data


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
        raise sort_error(column, allowed, SORT_PATTERN)

    return getter


def sort_error(column: str, allowed: list[str], pattern: str) -> InvalidInput:
    """A column that is not on the board: ``NotStored`` when it is well formed (``pattern``),
    a plain ``InvalidInput`` when it is not."""
    kind = NotStored if re.fullmatch(pattern, column) else InvalidInput
    return kind(
        f"cannot sort on {column!r}; sortable columns: {', '.join(allowed)}", where="query.sort"
    )


def sort_rows(
    rows: list[Any], sort: str, getter: Callable[[str], Callable[[Any], Any]]
) -> list[Any]:
    """Sort on one column (``-`` first: descending), missing values last, then by model name."""
    descending = sort.startswith("-")
    value = getter(sort.removeprefix("-"))
    present = [r for r in rows if value(r) is not None]
    missing = sorted((r for r in rows if value(r) is None), key=lambda r: r.model_name)
    present.sort(key=lambda r: r.model_name)  # stable: ties stay in name order
    present.sort(key=value, reverse=descending)
    return present + missing
