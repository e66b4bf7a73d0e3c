"""SQL of one board: the runs, metrics and flags of one protocol (benchmark version, params).

A board needs each material's number (ranking on the same materials and bootstrapping over
them), not sums: :func:`board_counts` and :func:`board_values` aggregate the protocol's runs in
SQL into a few hundred rows, each model's numbers as arrays in one fixed order. The metric
rows are found on their benchmark (``metric.benchmark_id``, migration 0018), not per run.
:func:`board_runs` and :func:`board_metrics` read single runs, for a page's entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Uuid, and_, bindparam, func, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backend.db.tables import LeaderboardModelVersion, Metric, Reference, Run, Structure
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
    """(params hash, params, number of runs) of every parameter set run on the benchmark: the
    counts from the index alone, the params from one run of each set."""
    counts = (
        select(Run.params_hash.label("h"), func.count().label("n"))
        .where(Run.benchmark_id == benchmark_id)
        .group_by(Run.params_hash)
        .subquery()
    )
    one = (
        select(Run.params)
        .where(Run.benchmark_id == benchmark_id, Run.params_hash == counts.c.h)
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(select(counts.c.h, one, counts.c.n)).all()
    found = [(h, dict(p or {}), int(n)) for h, p, n in rows]
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


@dataclass(frozen=True, slots=True)
class RunCount:
    """How many runs of one model have one status and failure class; how many are flagged."""

    model_id: uuid.UUID
    status: str
    failure_class: str | None
    n: int
    n_flagged: int


@dataclass(frozen=True, slots=True)
class MetricValues:
    """One metric of one model's scored runs (succeeded, no flag raised), aligned arrays in
    the order of :data:`_RUN_ORDER`; ``error`` and ``rel_error`` None where there is no
    reference of the board's level."""

    model_id: uuid.UUID
    name: str
    structure_ids: list[str]
    values: list[float]
    errors: list[float | None]
    rel_errors: list[float | None]


#: The board's runs ``r`` on structures ``s``: protocol, models and (``{filters}``, from
#: _run_filters) structure filters.
_BOARD_RUN = """
    r.benchmark_id = :benchmark_id AND r.params_hash = :params_hash
    AND r.mlip_model_id = ANY(:model_ids){filters}
"""
#: Whether run ``r`` raised a quality flag (a ``flag_*`` metric at 1 that is not a column):
#: for many models one hashed set of the benchmark's flagged runs (a probe per run would
#: cost more), for a few (a board reading again the models a result changed) one probe per
#: run (the set is ~10^4 rows at 10^6 metric rows: 5-7 ms).
_FLAGGED_SET = """
    r.id IN (SELECT fl.run_id FROM metric fl
             WHERE fl.benchmark_id = :benchmark_id AND fl.name LIKE 'flag\\_%'
               AND fl.value > 0.5 AND fl.name <> ALL(:names))
"""
_FLAGGED_PROBE = """
    EXISTS (SELECT 1 FROM metric fl
            WHERE fl.run_id = r.id AND fl.name LIKE 'flag\\_%'
              AND fl.value > 0.5 AND fl.name <> ALL(:names))
"""
#: Up to this many models, a run's flags are probed (see _FLAGGED_SET).
PROBE_FLAGS_UP_TO = 10
_FLAGGED = "{flagged}"
#: One fixed order of a model's runs: the bootstrap resamples positions, and sums are taken
#: in this order, so the same data always give the same numbers.
_RUN_ORDER = "s.material, r.structure_id, r.created_at, r.id"

_COUNTS = f"""
    WITH b AS (
        SELECT r.mlip_model_id, r.status::text AS status, r.failure_class, s.elements,
               r.status = 'succeeded' AND ({_FLAGGED}) AS flagged
        FROM run r JOIN structure s ON s.id = r.structure_id
        WHERE {_BOARD_RUN}
    ), el AS (
        SELECT mlip_model_id, array_agg(DISTINCT e) AS elements
        FROM b, unnest(b.elements) e GROUP BY 1
    )
    SELECT c.*, el.elements
    FROM (SELECT mlip_model_id, status, failure_class, count(*),
                 count(*) FILTER (WHERE flagged)
          FROM b GROUP BY 1, 2, 3) c
    LEFT JOIN el USING (mlip_model_id)
"""
# Driven by the metric rows of the board's benchmark (one index range), not by its runs.
_VALUES = f"""
    SELECT r.mlip_model_id, m.name,
           array_agg(r.structure_id::text ORDER BY {_RUN_ORDER}),
           array_agg(m.value ORDER BY {_RUN_ORDER}),
           array_agg(e.error ORDER BY {_RUN_ORDER}),
           array_agg(e.rel_error ORDER BY {_RUN_ORDER})
    FROM metric m
    JOIN run r ON r.id = m.run_id
    JOIN structure s ON s.id = r.structure_id
    LEFT JOIN reference ref ON ref.id = m.reference_id AND ref.level_of_theory = :level
    CROSS JOIN LATERAL (
        SELECT CASE WHEN ref.value IS NOT NULL THEN m.error END AS error,
               -- rows bulk-loaded without a relative error: from the error, as a writer does
               CASE WHEN ref.value IS NOT NULL AND m.error IS NOT NULL
                    THEN coalesce(m.rel_error,
                                  CASE WHEN ref.value <> 0 THEN m.error / abs(ref.value) END)
               END AS rel_error
    ) e
    WHERE m.benchmark_id = :benchmark_id AND m.name = ANY(:names)
      AND {_BOARD_RUN} AND r.status = 'succeeded' AND NOT ({_FLAGGED})
    GROUP BY 1, 2
"""


def _run_filters(where: BoardFilter) -> tuple[str, dict[str, Any]]:
    """The structure filters of ``where`` as SQL on ``s`` (structure), with their values."""
    sql = ""
    params: dict[str, Any] = {}
    if where.element is not None:
        sql += " AND s.elements @> ARRAY[CAST(:element AS varchar)]"
        params["element"] = where.element
    if where.structure_set_id is not None:
        sql += " AND s.structure_set_id = :structure_set_id"
        params["structure_set_id"] = where.structure_set_id
    if where.prototype is not None:
        sql += " AND s.prototype = :prototype"
        params["prototype"] = where.prototype
    return sql, params


def _board_query(
    template: str,
    benchmark_id: uuid.UUID,
    params_hash: str,
    *,
    model_ids: list[uuid.UUID],
    where: BoardFilter,
    names: list[str],
    **more: Any,
) -> tuple[Any, dict[str, Any]]:
    """``template`` with the filters of ``where``, and every value it binds."""
    filters, params = _run_filters(where)
    flagged = _FLAGGED_PROBE if len(model_ids) <= PROBE_FLAGS_UP_TO else _FLAGGED_SET
    query = text(template.format(filters=filters, flagged=flagged)).bindparams(
        bindparam("model_ids", type_=ARRAY(Uuid())), bindparam("names", type_=ARRAY(String()))
    )
    params |= {
        "benchmark_id": benchmark_id,
        "params_hash": params_hash,
        "model_ids": model_ids,
        "names": names,
        **more,
    }
    return query, params


def board_counts(
    session: Session,
    benchmark_id: uuid.UUID,
    params_hash: str,
    *,
    names: list[str],
    model_ids: list[uuid.UUID],
    where: BoardFilter,
) -> tuple[list[RunCount], dict[uuid.UUID, list[str]]]:
    """Runs of the protocol by these models on structures passing the filters, counted per
    model, status and failure class; and the elements of each model's structures, sorted."""
    if not model_ids:
        return [], {}
    query, params = _board_query(
        _COUNTS, benchmark_id, params_hash, model_ids=model_ids, where=where, names=names
    )
    rows = session.connection().execute(query, params).all()
    counts = [RunCount(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]
    return counts, {r[0]: sorted(r[5] or ()) for r in rows}


def model_versions(session: Session, benchmark_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """The change counter of each model with runs of the benchmark (bumped by triggers with
    the benchmark's; migration 0019_add_model_change_counters)."""
    v = LeaderboardModelVersion
    query = select(v.mlip_model_id, v.version).where(v.benchmark_id == benchmark_id)
    return {row[0]: int(row[1]) for row in session.connection().execute(query)}


def board_values(
    session: Session,
    benchmark_id: uuid.UUID,
    params_hash: str,
    *,
    names: list[str],
    level_of_theory: str,
    model_ids: list[uuid.UUID],
    where: BoardFilter,
) -> list[MetricValues]:
    """The named metrics of each model's scored runs of the protocol, as aligned arrays."""
    if not model_ids:
        return []
    query, params = _board_query(
        _VALUES,
        benchmark_id,
        params_hash,
        model_ids=model_ids,
        where=where,
        names=names,
        level=level_of_theory,
    )
    return [
        MetricValues(r[0], r[1], r[2], r[3], r[4], r[5])
        for r in session.connection().execute(query, params)
    ]
