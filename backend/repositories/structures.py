"""SQL for structure sets and structures as the API lists and adds them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from backend.db.tables import Structure, StructureSet


def add_structure_set(
    session: Session, *, name: str, description: str, source: str, owner_id: uuid.UUID
) -> StructureSet:
    structure_set = StructureSet(
        name=name, description=description, source=source, owner_id=owner_id
    )
    session.add(structure_set)
    session.flush()
    return structure_set


def get_structure_set(session: Session, set_id: uuid.UUID) -> StructureSet | None:
    return session.get(StructureSet, set_id)


def get_structure_set_by_name(session: Session, name: str) -> StructureSet | None:
    return session.scalar(select(StructureSet).where(StructureSet.name == name))


def list_structure_sets(
    session: Session, *, limit: int, offset: int
) -> tuple[list[tuple[StructureSet, int]], int]:
    """One page of sets (by name) with their structure counts, and how many sets there are."""
    counts = (
        select(Structure.structure_set_id, func.count().label("n"))
        .group_by(Structure.structure_set_id)
        .subquery()
    )
    query = (
        select(StructureSet, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.structure_set_id == StructureSet.id)
        .order_by(StructureSet.name)
        .limit(limit)
        .offset(offset)
    )
    rows = [(s, int(n)) for s, n in session.execute(query).all()]
    total = session.scalar(select(func.count()).select_from(StructureSet)) or 0
    return rows, total


def prototypes(session: Session) -> list[tuple[str, int]]:
    """(prototype, number of structures) of every prototype stored, by name."""
    query = (
        select(Structure.prototype, func.count())
        .where(Structure.prototype.is_not(None))
        .group_by(Structure.prototype)
        .order_by(Structure.prototype)
    )
    return [(str(p), int(n)) for p, n in session.execute(query)]


def count_structures(session: Session, set_id: uuid.UUID) -> int:
    query = select(func.count()).where(Structure.structure_set_id == set_id)
    return session.scalar(query) or 0


def _structures_query(set_id: uuid.UUID, elements: Sequence[str]) -> Select[Any]:
    query = select(Structure).where(Structure.structure_set_id == set_id)
    if elements:  # structures containing every one of these elements (GIN index on elements)
        query = query.where(Structure.elements.contains(list(elements)))
    return query


def page_structures(
    session: Session, set_id: uuid.UUID, *, elements: Sequence[str], limit: int, offset: int
) -> tuple[list[Structure], int]:
    query = _structures_query(set_id, elements)
    items = list(session.scalars(query.order_by(Structure.label).limit(limit).offset(offset)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return items, total


def get_structure(session: Session, structure_id: uuid.UUID) -> Structure | None:
    return session.get(Structure, structure_id)


def structures_by_hash(session: Session, hashes: Iterable[str]) -> list[tuple[Structure, str]]:
    """Stored structures with any of these content hashes, with their set's name."""
    query = (
        select(Structure, StructureSet.name)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
        .where(Structure.content_hash.in_(list(set(hashes))))
        .order_by(Structure.created_at)
    )
    return [(s, name) for s, name in session.execute(query).all()]


def labels_in_set(session: Session, set_id: uuid.UUID, labels: Iterable[str]) -> dict[str, str]:
    """Label -> content hash of the set's structures with one of these labels."""
    query = select(Structure.label, Structure.content_hash).where(
        Structure.structure_set_id == set_id, Structure.label.in_(list(set(labels)))
    )
    return dict(session.execute(query).all())


def add_structures(session: Session, rows: Sequence[dict[str, Any]]) -> list[Structure]:
    """Insert all rows in one statement (ids given by the caller); returns them in order."""
    if not rows:
        return []
    session.execute(insert(Structure), list(rows))
    ids = [row["id"] for row in rows]
    stored = {s.id: s for s in session.scalars(select(Structure).where(Structure.id.in_(ids)))}
    return [stored[i] for i in ids]
