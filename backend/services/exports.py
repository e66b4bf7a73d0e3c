"""Exports: leaderboards and metrics as CSV, JSON or Parquet; structures as extended XYZ.

The web tier never imports ASE: structures are written by a ``StructureWriter`` given to the
app (backend.main), by default :func:`backend.services.extxyz.write_extxyz`, a small
formatter of the stored ASE JSON.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from backend.db.tables import Structure, StructureSet
from backend.domain.filters import MetricFilter
from backend.repositories import metrics as metric_repo
from backend.repositories import references as ref_repo
from backend.repositories import runs as run_repo
from backend.repositories.runs import Viewer
from backend.schemas.leaderboard import LeaderboardRead
from backend.services.leaderboard import SUMMARY_FIELDS
from shared_kernel.errors import NotFound

TableFormat = Literal["csv", "json", "parquet"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "extxyz": "chemical/x-extxyz",
}
#: ASE JSON texts of structures -> one extended XYZ document (frames in order).
StructureWriter = Callable[[Sequence[str]], str]


@dataclass(frozen=True, slots=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str
    note: str | None = None


def leaderboard_rows(board: LeaderboardRead) -> tuple[list[str], list[dict[str, Any]]]:
    """One flat record per model: the board's protocol, rank with intervals, coverage and
    failures, then mae (with its interval) / mape_percent / n / mean / n_values of every
    metric (docs/metrics.md)."""
    protocol = {
        "benchmark": board.benchmark,
        "version": board.version,
        "params_hash": board.params_hash,
        "is_default_protocol": board.is_default_protocol,
        "level_of_theory": board.level_of_theory,
        "rank_metric": board.ranking.metric if board.ranking else None,
    }
    base = [
        "model_id",
        "model_name",
        "model_version",
        "family",
        "rank",
        "rank_best",
        "rank_worst",
        "tier",
        "score",
        "score_low",
        "score_high",
        "n_materials",
        "n_scored",
        "n_runs",
        "n_succeeded",
        "n_failed",
        "n_skipped",
        "n_pending",
        "failure_rate",
        "failures",
        "n_flagged",
        "fitted_to",
    ]
    # the board's own summary fields, the MAE's interval beside it
    fields = ("mae", "mae_low", "mae_high", *(f for f in SUMMARY_FIELDS if f != "mae"))
    metric_cols = [f"{c.name}.{f}" for c in board.columns for f in fields]
    records = []
    for row in board.rows:
        record: dict[str, Any] = {**protocol, **row.model_dump(include=set(base))}
        record["model_id"] = str(row.model_id)
        record["rank_best"], record["rank_worst"] = row.rank_interval or (None, None)
        interval = row.score_interval
        record["score_low"], record["score_high"] = (
            (interval.low, interval.high) if interval else (None, None)
        )
        record["failures"] = ";".join(f"{k}:{v}" for k, v in row.failures.items())
        record["fitted_to"] = ";".join(row.fitted_to)
        for column in board.columns:
            summary = row.metrics[column.name]
            for field in SUMMARY_FIELDS:
                record[f"{column.name}.{field}"] = getattr(summary, field)
            ci = summary.mae_interval
            record[f"{column.name}.mae_low"] = ci.low if ci else None
            record[f"{column.name}.mae_high"] = ci.high if ci else None
        records.append(record)
    return [*protocol, *base, *metric_cols], records


def metric_rows(
    session: Session,
    where: MetricFilter,
    *,
    viewer: Viewer,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Metrics with their run, model, benchmark and reference, of the runs ``viewer`` sees."""
    rows = metric_repo.list_metrics(session, where, viewer=viewer, limit=limit, offset=offset)
    return rows, metric_repo.count_metrics(session, where, viewer=viewer)


def metrics_file(
    session: Session,
    where: MetricFilter,
    *,
    viewer: Viewer,
    limit: int,
    offset: int,
    fmt: TableFormat,
) -> ExportFile:
    """The metrics ``metric_rows`` lists, as one file (one row each)."""
    rows = metric_repo.list_metrics(session, where, viewer=viewer, limit=limit, offset=offset)
    return table_file(list(metric_repo.COLUMNS), rows, fmt, "metrics")


def table_file(
    columns: list[str], records: list[dict[str, Any]], fmt: TableFormat, stem: str
) -> ExportFile:
    """Render records as CSV, JSON (a list of objects) or Parquet (typed columns)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _plain(r.get(k)) for k in columns} for r in records)
        content = buffer.getvalue().encode()
    elif fmt == "json":
        content = json.dumps([{k: _plain(r.get(k)) for k in columns} for r in records]).encode()
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({k: [_plain(r.get(k)) for r in records] for k in columns})
        sink = io.BytesIO()
        pq.write_table(table, sink)
        content = sink.getvalue()
    return ExportFile(content, MEDIA_TYPES[fmt], f"{stem}.{fmt}")


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def structure_set_file(session: Session, ref: str, writer: StructureWriter) -> ExportFile:
    """Every structure of a set (by id or name), in label order, as one extxyz file."""
    stored = _structure_set(session, ref)
    structures = ref_repo.list_structures(session, stored.id)
    text = writer([s.data for s in structures])
    return ExportFile(text.encode(), MEDIA_TYPES["extxyz"], f"{_safe(stored.name)}.extxyz")


def run_trajectory_file(
    session: Session, run_id: uuid.UUID, writer: StructureWriter, *, viewer: Viewer
) -> ExportFile:
    """The input structure of a run that stored no trajectory (see ``run_artifacts``);
    NotFound for an unknown run or one ``viewer`` may not see."""
    run = run_repo.get_visible_run(session, run_id, viewer)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    structure = session.get(Structure, run.structure_id)
    if structure is None:  # pragma: no cover - foreign key
        raise NotFound(f"run {run_id} has no structure")
    return ExportFile(
        writer([structure.data]).encode(),
        MEDIA_TYPES["extxyz"],
        f"run-{run_id}.extxyz",
        note="this run stored no trajectory frames; this is the run's input structure",
    )


def _structure_set(session: Session, ref: str) -> StructureSet:
    try:
        found = session.get(StructureSet, uuid.UUID(ref))
    except ValueError:
        found = ref_repo.get_structure_set_by_name(session, ref)
    if found is None:
        raise NotFound(f"no structure set {ref!r}")
    return found


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "structures"
