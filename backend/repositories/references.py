"""SQL for reference values, structure sets and structures."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.models import Reference, Structure, StructureSet


def insert_references(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Insert references that are not there yet; returns how many were new."""
    rows = list(rows)
    if not rows:
        return 0
    stmt = (
        insert(Reference)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=["material", "property", "level_of_theory", "dataset"]
        )
    )
    return len(session.execute(stmt.returning(Reference.id)).all())


def count_references(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Reference)) or 0


def references_for(
    session: Session, materials: Iterable[str], properties: Iterable[str], level_of_theory: str
) -> list[Reference]:
    query = select(Reference).where(
        Reference.material.in_(list(materials)),
        Reference.property.in_(list(properties)),
        Reference.level_of_theory == level_of_theory,
    )
    return list(session.scalars(query))


def get_structure_set_by_name(session: Session, name: str) -> StructureSet | None:
    return session.scalar(select(StructureSet).where(StructureSet.name == name))


def upsert_structure_set(
    session: Session, *, name: str, description: str, source: str
) -> tuple[StructureSet, bool]:
    existing = get_structure_set_by_name(session, name)
    if existing is not None:
        return existing, False
    structure_set = StructureSet(name=name, description=description, source=source)
    session.add(structure_set)
    session.flush()
    return structure_set, True


def insert_structures(session: Session, set_id: uuid.UUID, rows: Iterable[dict[str, Any]]) -> int:
    """Insert structures whose label is new in the set; returns how many were new."""
    rows = [{**row, "structure_set_id": set_id} for row in rows]
    if not rows:
        return 0
    stmt = (
        insert(Structure)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["structure_set_id", "label"])
    )
    return len(session.execute(stmt.returning(Structure.id)).all())


def list_structures(session: Session, set_id: uuid.UUID) -> list[Structure]:
    query = select(Structure).where(Structure.structure_set_id == set_id).order_by(Structure.label)
    return list(session.scalars(query))


def get_structure(session: Session, structure_id: uuid.UUID) -> Structure | None:
    return session.get(Structure, structure_id)
