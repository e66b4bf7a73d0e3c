"""Read stored landscapes: a run's projections, the planes of a structure, two-model differences.

Nothing is recomputed but a subtraction: the planes and maps were written by the worker. Two
models are compared only on the same plane (same ``plane_hash``), i.e. on identical configurations.
Runs of a model that is not approved are seen only by its owner and admins (``Viewer``): for
anyone else they are 'not found' and absent from lists.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
from sqlalchemy.orm import Session

from backend.repositories import projections as projection_repo
from backend.repositories import runs as run_repo
from backend.repositories.runs import Viewer
from backend.schemas.landscapes import PlaneDifference, PlaneSummary, ProjectionRead
from shared_kernel.errors import InvalidInput, NotFound


def _require_run(session: Session, run_id: uuid.UUID, viewer: Viewer, where: str) -> None:
    if run_repo.get_visible_run(session, run_id, viewer) is None:
        raise NotFound(f"no run with id {run_id}", where=where)


def run_projections(session: Session, run_id: uuid.UUID, *, viewer: Viewer) -> list[ProjectionRead]:
    """Every stored projection of a run (404 for an unknown run or one ``viewer`` may not see)."""
    _require_run(session, run_id, viewer, "run_id")
    return [
        ProjectionRead.model_validate(p) for p in projection_repo.projections_of(session, run_id)
    ]


def run_projection(
    session: Session, run_id: uuid.UUID, name: str, *, viewer: Viewer
) -> ProjectionRead:
    """One projection of a run by name (``plane``, ``map_pca``, ...)."""
    _require_run(session, run_id, viewer, "run_id")
    found = projection_repo.get_projection(session, run_id, name)
    if found is None:
        raise NotFound(f"run {run_id} has no projection named {name!r}", where="name")
    return ProjectionRead.model_validate(found)


def list_planes(
    session: Session,
    *,
    viewer: Viewer,
    structure_id: uuid.UUID | None = None,
    plane_hash: str | None = None,
) -> list[PlaneSummary]:
    """The planes stored for a structure (or all), one per run ``viewer`` may see."""
    rows = projection_repo.list_planes(
        session, structure_id=structure_id, plane_hash=plane_hash, viewer=viewer
    )
    return [
        PlaneSummary(
            run_id=r.run_id,
            plane_hash=r.plane_hash,
            plane_source=r.settings.get("plane_source"),
            plane_reference=r.settings.get("plane_reference"),
            run_status=str(r.status.value if hasattr(r.status, "value") else r.status),
            model_id=r.model_id,
            model_name=r.model_name,
            model_version=r.model_version,
            structure_id=r.structure_id,
            structure_label=r.structure_label,
            material=r.material,
        )
        for r in rows
    ]


def compare_planes(
    session: Session, run_a: uuid.UUID, run_b: uuid.UUID, *, viewer: Viewer
) -> PlaneDifference:
    """Difference surface A - B and its RMSE (meV/atom) over points where both have energies.

    Raises InvalidInput when the two runs' planes differ: their grids are different configurations.
    """
    plane_a, plane_b = (
        _plane(session, run, where, viewer) for run, where in ((run_a, "run_a"), (run_b, "run_b"))
    )
    if plane_a.plane_hash != plane_b.plane_hash or plane_a.data["a"] != plane_b.data["a"]:
        raise InvalidInput(
            f"runs {run_a} and {run_b} are on different planes "
            f"({plane_a.plane_hash} vs {plane_b.plane_hash}); only landscapes on one stored "
            "plane are comparable",
            where="run_b",
        )
    grid_a, grid_b = (_grid(p.data["energy_ev"]) for p in (plane_a, plane_b))
    n_atoms = int(plane_a.settings["n_atoms"])
    diff = grid_a - grid_b
    ok = np.isfinite(diff)
    rmse = float(np.sqrt(np.mean(diff[ok] ** 2)) / n_atoms * 1000) if ok.any() else None
    worst = float(np.max(np.abs(diff[ok])) / n_atoms * 1000) if ok.any() else None
    return PlaneDifference(
        run_a=run_a,
        run_b=run_b,
        plane_hash=str(plane_a.plane_hash),
        a=plane_a.data["a"],
        b=plane_a.data["b"],
        difference_ev=[[float(x) if math.isfinite(x) else None for x in row] for row in diff],
        rmse_mev_atom=rmse,
        max_abs_difference_mev_atom=worst,
        n_atoms=n_atoms,
    )


def _plane(session: Session, run_id: uuid.UUID, where: str, viewer: Viewer) -> ProjectionRead:
    _require_run(session, run_id, viewer, where)
    found = projection_repo.get_projection(session, run_id, "plane")
    if found is None:
        raise NotFound(f"run {run_id} has no stored landscape plane", where=where)
    return ProjectionRead.model_validate(found)


def _grid(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if x is None else x for x in row] for row in rows], dtype=float)
