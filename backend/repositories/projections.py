"""SQL for stored projections (landscape planes and maps) of runs."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.tables import MlipModel, Projection, Run, Structure
from backend.repositories.runs import Viewer, visible_to


def insert_projections(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert projections of a run; a redelivered result changes nothing (unique run, name)."""
    if not rows:
        return
    rows = [{**row, "plane_hash": (row.get("settings") or {}).get("plane_hash")} for row in rows]
    stmt = insert(Projection).values(rows).on_conflict_do_nothing(index_elements=["run_id", "name"])
    session.execute(stmt)


def projections_of(session: Session, run_id: uuid.UUID) -> list[Projection]:
    """Every projection of a run, planes first, then maps by name."""
    query = (
        select(Projection)
        .where(Projection.run_id == run_id)
        .order_by(Projection.kind.desc(), Projection.name)
    )
    return list(session.scalars(query))


def get_projection(session: Session, run_id: uuid.UUID, name: str) -> Projection | None:
    query = select(Projection).where(Projection.run_id == run_id, Projection.name == name)
    return session.scalars(query).first()


def list_planes(
    session: Session, *, structure_id: uuid.UUID | None, plane_hash: str | None, viewer: Viewer
) -> list[Row[Any]]:
    """Plane projections of runs ``viewer`` may see, with their run, model and structure."""
    query = (
        select(
            Projection.run_id,
            Projection.plane_hash,
            Projection.settings,
            Run.status,
            MlipModel.id.label("model_id"),
            MlipModel.name.label("model_name"),
            MlipModel.version.label("model_version"),
            Structure.id.label("structure_id"),
            Structure.label.label("structure_label"),
            Structure.material,
        )
        .join(Run, Run.id == Projection.run_id)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .join(Structure, Structure.id == Run.structure_id)
        .where(Projection.kind == "plane", visible_to(viewer))
        .order_by(Structure.label, MlipModel.name, MlipModel.version)
    )
    if structure_id is not None:
        query = query.where(Run.structure_id == structure_id)
    if plane_hash is not None:
        query = query.where(Projection.plane_hash == plane_hash)
    return list(session.execute(query))
