"""Stored energy landscapes: planes, global maps and two-model differences."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Path, Query

from backend.api.deps import OptionalUser, SessionDep
from backend.schemas.landscapes import PlaneDifference, PlaneSummary, ProjectionRead
from backend.services import landscapes, runs

router = APIRouter(prefix="/landscapes", tags=["landscapes"])


@router.get("/planes", operation_id="landscapes-list_planes")
def list_planes(
    session: SessionDep,
    user: OptionalUser,
    structure_id: uuid.UUID | None = None,
    plane_hash: str | None = Query(None, max_length=64),
) -> list[PlaneSummary]:
    """Runs with a stored plane, optionally of one structure or one plane."""
    return landscapes.list_planes(
        session, structure_id=structure_id, plane_hash=plane_hash, viewer=runs.viewer_of(user)
    )


@router.get("/runs/{run_id}", operation_id="landscapes-list_run_projections")
def list_run_projections(
    run_id: uuid.UUID, session: SessionDep, user: OptionalUser
) -> list[ProjectionRead]:
    """Every stored projection (plane and maps) of a run."""
    return landscapes.run_projections(session, run_id, viewer=runs.viewer_of(user))


@router.get("/runs/{run_id}/{name}", operation_id="landscapes-read_run_projection")
def read_run_projection(
    run_id: uuid.UUID, session: SessionDep, user: OptionalUser, name: str = Path(max_length=100)
) -> ProjectionRead:
    """One stored projection of a run (``plane``, ``map_pca``, ``map_umap``, ``map_phate``)."""
    return landscapes.run_projection(session, run_id, name, viewer=runs.viewer_of(user))


@router.get("/compare", operation_id="landscapes-compare_planes")
def compare_planes(
    run_a: uuid.UUID, run_b: uuid.UUID, session: SessionDep, user: OptionalUser
) -> PlaneDifference:
    """Difference surface A - B of two runs on the same plane, with its RMSE (meV/atom)."""
    return landscapes.compare_planes(session, run_a, run_b, viewer=runs.viewer_of(user))
