"""SQL of a run's result: the run finished with its metric, series and artifact rows in one
statement, conditional on the attempt still owning the run."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    Uuid,
    bindparam,
    case,
    func,
    select,
    true,
    update,
)
from sqlalchemy import (
    column as typed_column,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Reference, Run, RunArtifact, Series
from backend.domain.statuses import RunStatus


def finish_run(
    session: Session,
    run_id: uuid.UUID,
    *,
    attempt: int,
    status: RunStatus,
    finished_at: datetime,
    metrics: list[dict[str, Any]] | None = None,
    series: list[dict[str, Any]] | None = None,
    artifacts: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> bool:
    """Record the end of the given attempt with its metric, series and artifact rows, in one
    statement; False (and nothing written) when that attempt no longer owns the run.

    ``metrics`` rows carry name, value, unit, reference_id, error, rel_error; ``series`` rows
    name, x, y, x_label, x_unit, y_label, y_unit; ``artifacts`` rows name, media_type, key,
    sha256, size_bytes, n_frames. Metric and series rows already stored are kept (a
    redelivered result changes nothing); an artifact row replaces an earlier attempt's of its
    name.
    """
    params: dict[str, Any] = {"finish_id": run_id, "finish_attempt": attempt}
    params.update({f"set_{name}": value for name, value in fields.items()})
    params.update(set_status=status, set_finished_at=finished_at)
    if metrics:
        params["metric_rows"] = [_metric_record(row) for row in metrics]
    if series:
        params["series_rows"] = [{name: row[name] for name, _ in _SERIES_COLUMNS} for row in series]
    if artifacts:
        params["artifact_rows"] = [
            {name: row[name] for name, _ in _ARTIFACT_COLUMNS} for row in artifacts
        ]
    statement = _finish_statement(
        tuple(sorted(fields)), bool(metrics), bool(series), bool(artifacts)
    )
    # Core execution (no ORM entities to load), as the claim's.
    return bool(session.connection().execute(statement, params).scalar())


_METRIC_COLUMNS = (("name", String), ("value", Float), ("unit", String),
                  ("reference_id", Uuid), ("error", Float), ("rel_error", Float))  # fmt: skip
_SERIES_COLUMNS = (("name", String), ("x", ARRAY(Float)), ("y", ARRAY(Float)),
                   ("x_label", String), ("x_unit", String), ("y_label", String),
                   ("y_unit", String))  # fmt: skip
_ARTIFACT_COLUMNS = (("name", String), ("media_type", String), ("key", String),
                     ("sha256", String), ("size_bytes", BigInteger),
                     ("n_frames", Integer))  # fmt: skip


@functools.cache
def _finish_statement(
    fields: tuple[str, ...], with_metrics: bool, with_series: bool, with_artifacts: bool
) -> Any:
    # One statement object per shape (see runs._CLAIM): the run's UPDATE and the inserts that
    # depend on it, which write nothing when the UPDATE matched no row.
    finished = (
        update(Run)
        .where(
            Run.id == bindparam("finish_id"),
            Run.status == RunStatus.RUNNING,
            Run.attempt == bindparam("finish_attempt"),
        )
        .values({name: bindparam(f"set_{name}") for name in ("status", "finished_at", *fields)})
        .returning(Run.id)
        .cte("finished")
    )
    query = select(func.count()).select_from(finished)
    if with_metrics:
        query = query.add_cte(_insert_metrics_from(finished))
    if with_series:
        query = query.add_cte(_insert_series_from(finished))
    if with_artifacts:
        query = query.add_cte(_upsert_artifacts_from(finished))
    return query


def _metric_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {name: row[name] for name, _ in _METRIC_COLUMNS}
    if record["reference_id"] is not None:
        record["reference_id"] = str(record["reference_id"])
    return record


def _insert_metrics_from(finished: Any) -> Any:
    # Metrics travel as one JSON document, as curves do: a quarter cheaper to send than one
    # array per column (psycopg adapts each element of an array; json.dumps is one C call).
    # The statement-level triggers on metric fire once per run, not once per row as with
    # executemany. Values are finite, so their JSON numbers are exact (shortest repr).
    metric = _records_for(finished, "metric_rows", _METRIC_COLUMNS).subquery("metric_rows")
    # The references were read with the claim: one deleted since (an admin may delete a
    # reference no metric was scored against) leaves its metric uncompared, not the result
    # refused by the foreign key.
    compared = Reference.id.is_not(None)
    values = select(
        *metric.c[:5],  # a new id, the run's id, name, value, unit
        Reference.id,
        case((compared, metric.c.error)),
        case((compared, metric.c.rel_error)),
    ).select_from(metric.outerjoin(Reference, Reference.id == metric.c.reference_id))
    columns = ["id", "run_id", *(name for name, _ in _METRIC_COLUMNS)]
    return insert(Metric).from_select(columns, values).on_conflict_do_nothing().cte("metrics")


def _insert_series_from(finished: Any) -> Any:
    # Curves travel as one JSON document expanded by the server (arrays of floats included).
    values = _records_for(finished, "series_rows", _SERIES_COLUMNS)
    columns = ["id", "run_id", *(name for name, _ in _SERIES_COLUMNS)]
    return insert(Series).from_select(columns, values).on_conflict_do_nothing().cte("series")


def _upsert_artifacts_from(finished: Any) -> Any:
    # The files a run wrote (one row per name): a retried run's row replaces its earlier
    # attempt's, whose file is no longer referenced (the sweeper removes it).
    values = _records_for(finished, "artifact_rows", _ARTIFACT_COLUMNS)
    names = [name for name, _ in _ARTIFACT_COLUMNS]
    statement = insert(RunArtifact).from_select(["id", "run_id", *names], values)
    replaced = {name: statement.excluded[name] for name in names[1:]}
    return statement.on_conflict_do_update(
        index_elements=[RunArtifact.run_id, RunArtifact.name],
        set_={**replaced, "created_at": func.now()},
    ).cte("artifacts")


def _records_for(finished: Any, parameter: str, columns: tuple[tuple[str, Any], ...]) -> Any:
    """(a new id, the finished run's id, the columns) of each record of the JSON array
    ``parameter``: none when the run's update matched nothing."""
    records = (
        func.jsonb_to_recordset(bindparam(parameter, type_=JSONB))
        .table_valued(*(typed_column(name, kind) for name, kind in columns))
        .render_derived(with_types=True)
    )
    return select(
        func.gen_random_uuid(), finished.c.id, *(records.c[name] for name, _ in columns)
    ).select_from(finished.join(records, true()))
