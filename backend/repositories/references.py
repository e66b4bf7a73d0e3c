"""SQL for reference values, structure sets and structures."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, Row, String, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from backend.db.tables import Reference, Structure, StructureSet


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


def fill_phases(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Name the phase (``conditions["phase"]``) of stored references that name none, from the
    rows with the same key; returns how many were changed."""
    wanted = {
        (r["material"], r["property"], r["level_of_theory"], r["dataset"]): r["conditions"]["phase"]
        for r in rows
        if "phase" in (r.get("conditions") or {})
    }
    if not wanted:
        return 0
    stored = session.execute(
        select(
            Reference.id,
            Reference.material,
            Reference.property,
            Reference.level_of_theory,
            Reference.dataset,
            Reference.conditions,
        ).where(Reference.material.in_({key[0] for key in wanted}))
    )
    changes = [
        {"id": ref_id, "conditions": {**(conditions or {}), "phase": wanted[key]}}
        for ref_id, *key_fields, conditions in stored
        if (key := tuple(key_fields)) in wanted and "phase" not in (conditions or {})
    ]
    if changes:
        session.execute(update(Reference), changes)
    return len(changes)


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


def structures_of_material(session: Session, material: str) -> list[Row[Any]]:
    """(set name, label, data, content_hash) of every stored structure of ``material``, the
    built-in sets first."""
    query = (
        select(StructureSet.name, Structure.label, Structure.data, Structure.content_hash)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
        .where(Structure.material == material)
        .order_by(StructureSet.owner_id.is_not(None), StructureSet.name, Structure.label)
    )
    return list(session.execute(query))


def list_structures(session: Session, set_id: uuid.UUID) -> list[Structure]:
    query = select(Structure).where(Structure.structure_set_id == set_id).order_by(Structure.label)
    return list(session.scalars(query))


def get_structure(session: Session, structure_id: uuid.UUID) -> Structure | None:
    return session.get(Structure, structure_id)


def fill_fingerprints(
    session: Session, set_id: uuid.UUID, fingerprints: Mapping[str, tuple[str, Sequence[float]]]
) -> int:
    """Set the fingerprint of the set's structures (by label) that have none; returns how many."""
    filled = 0
    for label, (key, values) in fingerprints.items():
        result = session.execute(
            update(Structure)
            .where(
                Structure.structure_set_id == set_id,
                Structure.label == label,
                Structure.fingerprint.is_(None),
            )
            .values(fingerprint_key=key, fingerprint=list(values))
        )
        filled += result.rowcount or 0  # type: ignore[attr-defined]
    return filled


def fill_space_groups(session: Session, set_id: uuid.UUID, space_groups: Mapping[str, int]) -> int:
    """Set the space group of the set's structures (by label) that have none; returns how many."""
    if not space_groups:
        return 0
    labels = select(
        func.unnest(bindparam("labels", list(space_groups), type_=ARRAY(String))).label("label"),
        func.unnest(bindparam("groups", list(space_groups.values()), type_=ARRAY(Integer))).label(
            "space_group"
        ),
    ).subquery()
    result = session.execute(
        update(Structure)
        .where(
            Structure.structure_set_id == set_id,
            Structure.label == labels.c.label,
            Structure.space_group.is_(None),
        )
        .values(space_group=labels.c.space_group)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def page_references(
    session: Session,
    *,
    material: str | None,
    property: str | None,
    level_of_theory: str | None,
    dataset: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Reference], int]:
    """One page of references (by material, property, level), and how many match."""
    query = select(Reference)
    for column, value in (
        (Reference.material, material),
        (Reference.property, property),
        (Reference.level_of_theory, level_of_theory),
        (Reference.dataset, dataset),
    ):
        if value is not None:
            query = query.where(column == value)
    ordered = query.order_by(
        Reference.material, Reference.property, Reference.level_of_theory, Reference.id
    )
    items = list(session.scalars(ordered.limit(limit).offset(offset)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return items, total


def get_reference(session: Session, reference_id: uuid.UUID) -> Reference | None:
    return session.get(Reference, reference_id)


def find_reference(
    session: Session, *, material: str, property: str, level_of_theory: str, dataset: str
) -> Reference | None:
    return session.scalar(
        select(Reference).where(
            Reference.material == material,
            Reference.property == property,
            Reference.level_of_theory == level_of_theory,
            Reference.dataset == dataset,
        )
    )


def add_reference(session: Session, fields: dict[str, Any]) -> Reference:
    reference = Reference(**fields)
    session.add(reference)
    session.flush()
    return reference


def delete_reference(session: Session, reference: Reference) -> None:
    session.delete(reference)
    session.flush()
