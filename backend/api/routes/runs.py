from __future__ import annotations

import uuid

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from backend.api.deps import OptionalUser, SessionDep
from backend.api.responses import artifact_response
from backend.domain.statuses import RunStatus
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.schemas.run_artifacts import EXTXYZ_MEDIA_TYPE, RunArtifactRead
from backend.schemas.runs import MetricRead, RunDetail, RunSummary, SeriesRead
from backend.services import run_artifacts, runs

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("", operation_id="runs-list_runs")
def list_runs(
    session: SessionDep,
    user: OptionalUser,
    model_id: uuid.UUID | None = Query(None, description="only runs of this model"),
    benchmark: str | None = Query(None, description="only runs of this benchmark key"),
    status: RunStatus | None = Query(None, description="only runs in this state"),
    campaign_id: uuid.UUID | None = Query(None, description="only runs of this campaign"),
    structure_set: str | None = Query(None, description="only runs on this structure set"),
    element: str | None = Query(
        None, pattern=r"^[A-Z][a-z]?$", description="only structures containing this element"
    ),
    include_metrics: bool = Query(False, description="add each run's metrics and references"),
    series: list[str] = Query(
        default_factory=list, description="add the series of these names (e.g. energy_volume)"
    ),
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[RunSummary]:
    """Runs, newest finished first, with model, benchmark, material and structure set names.

    Runs of a model that is not approved are listed only for its owner and admins."""
    viewer = runs.viewer_of(user)
    filters = {
        "model_id": model_id,
        "benchmark": benchmark,
        "status": status,
        "campaign_id": campaign_id,
        "structure_set": structure_set,
        "element": element,
    }
    items = runs.list_runs(
        session,
        filters=filters,
        viewer=viewer,
        limit=limit,
        offset=offset,
        with_metrics=include_metrics,
        series_names=series,
    )
    total = runs.count_runs(session, filters=filters, viewer=viewer)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/{run_id}", operation_id="runs-read_run")
def read_run(run_id: uuid.UUID, session: SessionDep, user: OptionalUser) -> RunDetail:
    """A run with its status, provenance, metrics and series."""
    return runs.read_run(session, run_id, viewer=runs.viewer_of(user))


@router.get("/{run_id}/metrics", operation_id="runs-list_run_metrics")
def list_run_metrics(
    run_id: uuid.UUID, session: SessionDep, user: OptionalUser
) -> list[MetricRead]:
    """The metrics of one run (value, unit, error vs its reference)."""
    return runs.run_metrics(session, run_id, viewer=runs.viewer_of(user))


@router.get("/{run_id}/series", operation_id="runs-list_run_series")
def list_run_series(run_id: uuid.UUID, session: SessionDep, user: OptionalUser) -> list[SeriesRead]:
    """The curves of one run (EOS points, dimer curves, MD traces, survival curves)."""
    return runs.run_series(session, run_id, viewer=runs.viewer_of(user))


@router.get("/{run_id}/artifacts", operation_id="runs-list_run_artifacts")
def list_run_artifacts(
    run_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUser,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[RunArtifactRead]:
    """Files the run produced (trajectories, optimisation paths), by name."""
    items, total = run_artifacts.list_run_artifacts(
        session, run_id, viewer=runs.viewer_of(user), limit=limit, offset=offset
    )
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get(
    "/{run_id}/artifacts/{name}",
    operation_id="runs-download_run_artifact",
    response_class=StreamingResponse,
    responses={200: {"content": {EXTXYZ_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
def download_run_artifact(
    run_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUser,
    name: str = Path(max_length=100, examples=["trajectory"]),
) -> StreamingResponse:
    """One file of the run (extended XYZ for structures), streamed from the artifact store."""
    opened = run_artifacts.open_run_artifact(session, run_id, name, viewer=runs.viewer_of(user))
    return artifact_response(opened)
