"""The metric list, and file exports: CSV / JSON / Parquet tables, extended XYZ structures."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from backend.api.deps import OptionalUser, SessionDep
from backend.api.query import BoardQueryDep, Offset
from backend.api.responses import artifact_response
from backend.domain.filters import MetricFilter
from backend.schemas.common import MAX_PAGE_LIMIT, Page
from backend.schemas.metrics import MetricRow
from backend.services import exports, leaderboard, run_artifacts, runs
from backend.services.exports import ExportFile, StructureWriter, TableFormat

router = APIRouter(tags=["exports"])
MAX_EXPORT_ROWS = 100_000


def metric_filter(
    run_id: uuid.UUID | None = Query(None, description="metrics of this run"),
    model_id: uuid.UUID | None = Query(None, description="metrics of this model's runs"),
    benchmark: str | None = Query(None, max_length=64, examples=["eos"]),
    name: str | None = Query(None, max_length=100, examples=["bulk_modulus"]),
) -> MetricFilter:
    return MetricFilter(run_id=run_id, model_id=model_id, benchmark=benchmark, name=name)


MetricFilterDep = Annotated[MetricFilter, Depends(metric_filter)]


def structure_writer(request: Request) -> StructureWriter:
    """The extxyz writer the app was created with (see backend.main)."""
    writer: StructureWriter = request.app.state.structure_writer
    return writer


StructureWriterDep = Annotated[StructureWriter, Depends(structure_writer)]


def _file(export: ExportFile) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{export.filename}"'}
    if export.note:
        headers["X-Export-Note"] = export.note
    return Response(export.content, media_type=export.media_type, headers=headers)


def _file_responses(*media: str) -> dict[int | str, dict[str, Any]]:
    """The file's media types; a JSON export is a list of flat records."""
    records = {"type": "array", "items": {"type": "object"}}
    return {
        200: {
            "content": {
                m: {"schema": records if m == "application/json" else {"type": "string"}}
                for m in media
            }
        }
    }


TABLE_MEDIA = ("text/csv", "application/json", "application/vnd.apache.parquet")


@router.get("/metrics", operation_id="metrics-list_metrics", tags=["metrics"])
def list_metrics(
    session: SessionDep,
    where: MetricFilterDep,
    user: OptionalUser,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: Offset = 0,
) -> Page[MetricRow]:
    """Metrics of approved models' runs (and of a pending or rejected model's runs, for its
    owner and admins), filtered by run, model, benchmark or name."""
    viewer = runs.viewer_of(user)
    rows, total = exports.metric_rows(session, where, viewer=viewer, limit=limit, offset=offset)
    return Page(
        items=[MetricRow.model_validate(r) for r in rows], limit=limit, offset=offset, total=total
    )


@router.get(
    "/exports/metrics",
    operation_id="exports-export_metrics",
    response_class=Response,
    responses=_file_responses(*TABLE_MEDIA),
)
def export_metrics(
    session: SessionDep,
    where: MetricFilterDep,
    user: OptionalUser,
    format: TableFormat = Query("csv", description="csv, json or parquet"),
    limit: int = Query(MAX_EXPORT_ROWS, ge=1, le=MAX_EXPORT_ROWS),
    offset: Offset = 0,
) -> Response:
    """The metrics ``GET /metrics`` lists, as a CSV, JSON or Parquet file (one row each)."""
    viewer = runs.viewer_of(user)
    return _file(
        exports.metrics_file(session, where, viewer=viewer, limit=limit, offset=offset, fmt=format)
    )


@router.get(
    "/exports/leaderboards/{benchmark}",
    operation_id="exports-export_leaderboard",
    response_class=Response,
    responses=_file_responses(*TABLE_MEDIA),
)
def export_leaderboard(
    benchmark: str,
    session: SessionDep,
    query: BoardQueryDep,
    format: TableFormat = Query("csv", description="csv, json or parquet"),
    version: str | None = Query(None, max_length=20),
    params_hash: str | None = Query(
        None,
        min_length=6,
        max_length=64,
        pattern="^[0-9a-f]+$",
        description="the parameter set; default the standard one",
    ),
    sort: str | None = Query(
        None,
        max_length=200,
        examples=["rank", "-failure_rate"],
        description="as GET /leaderboards/{benchmark}",
        json_schema_extra={"pattern": leaderboard.SORT_PATTERN},
    ),
) -> Response:
    """The whole board (every row, filters and sort as ``GET /leaderboards/{benchmark}``);
    every record names the protocol (benchmark, version, params_hash, level of theory)."""
    board = leaderboard.build_leaderboard(
        session,
        benchmark,
        version=version,
        params_hash=params_hash,
        query=query,
        sort=sort,
        limit=MAX_PAGE_LIMIT,
    )
    columns, records = exports.leaderboard_rows(board)
    stem = f"leaderboard-{board.benchmark}-{board.version}-{board.params_hash[:12]}"
    return _file(exports.table_file(columns, records, format, stem))


@router.get(
    "/exports/structure-sets/{structure_set}",
    operation_id="exports-export_structure_set",
    response_class=Response,
    responses=_file_responses("chemical/x-extxyz"),
)
def export_structure_set(
    structure_set: str,
    session: SessionDep,
    writer: StructureWriterDep,
    format: Literal["extxyz"] = Query("extxyz"),
) -> Response:
    """Every structure of a set (by id or name) as one extended XYZ file."""
    return _file(exports.structure_set_file(session, structure_set, writer))


@router.get(
    "/exports/runs/{run_id}/trajectory",
    operation_id="exports-export_run_trajectory",
    response_class=Response,
    responses=_file_responses("chemical/x-extxyz"),
)
def export_run_trajectory(
    run_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUser,
    writer: StructureWriterDep,
    format: Literal["extxyz"] = Query("extxyz"),
) -> Response:
    """A run's trajectory as extended XYZ: the frames the run stored (an MD run's subsampled
    trajectory, a relaxation's path; ``GET /runs/{run_id}/artifacts`` lists them).

    A run that stored none (an unfinished run, a benchmark without frames) gives its input
    structure, and the ``X-Export-Note`` header says so.
    """
    viewer = runs.viewer_of(user)
    stored = run_artifacts.open_trajectory(session, run_id, viewer=viewer)
    if stored is not None:
        return artifact_response(stored)
    return _file(exports.run_trajectory_file(session, run_id, writer, viewer=viewer))
