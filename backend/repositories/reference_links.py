"""SQL of the links from stored metrics to the references they were compared with."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Row, Uuid, bindparam, case, column, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Reference, Run, Structure, StructureSet


@dataclass(frozen=True, slots=True)
class Relink:
    """Metrics of runs on ``structure_id`` compared with ``old_id``: compare them with
    ``new_id`` (of value ``new_value``) instead, or with nothing when it is None."""

    structure_id: uuid.UUID
    old_id: uuid.UUID
    new_id: uuid.UUID | None
    new_value: float | None


def linked_pairs(session: Session) -> list[Row[Any]]:
    """(structure_id, reference_id, n_metrics) over every metric compared with a reference."""
    query = (
        select(Run.structure_id, Metric.reference_id, func.count())
        .join(Run, Run.id == Metric.run_id)
        .where(Metric.reference_id.is_not(None))
        .group_by(Run.structure_id, Metric.reference_id)
    )
    return list(session.execute(query))


def structures_by_id(session: Session, ids: Iterable[uuid.UUID]) -> list[Row[Any]]:
    """(id, set name, label, material, data) of these structures."""
    query = (
        select(Structure.id, StructureSet.name, Structure.label, Structure.material, Structure.data)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
        .where(Structure.id.in_(list(ids)))
    )
    return list(session.execute(query))


def references_of(
    session: Session, materials: Iterable[str], levels: Sequence[str]
) -> list[Reference]:
    """Every reference of these materials at these levels of theory."""
    query = select(Reference).where(
        Reference.material.in_(list(materials)), Reference.level_of_theory.in_(list(levels))
    )
    return list(session.scalars(query))


def relink(session: Session, changes: Sequence[Relink]) -> int:
    """Apply every change in one statement (the metric triggers fire once); recompute
    ``error`` = value - reference and ``rel_error`` = error / |reference|. Returns the number
    of metrics changed."""
    if not changes:
        return 0
    arrays = {
        "structure_id": (Uuid, [c.structure_id for c in changes]),
        "old_id": (Uuid, [c.old_id for c in changes]),
        "new_id": (Uuid, [c.new_id for c in changes]),
        "ref_value": (Float, [c.new_value for c in changes]),
    }
    rows = (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, (kind, _) in arrays.items()))
        .table_valued(*(column(name, kind) for name, (kind, _) in arrays.items()))
        .render_derived()
    )
    error = Metric.value - rows.c.ref_value
    statement = (
        update(Metric)
        .where(
            Metric.run_id == Run.id,
            Run.structure_id == rows.c.structure_id,
            Metric.reference_id == rows.c.old_id,
        )
        .values(
            reference_id=rows.c.new_id,
            error=error,
            rel_error=case((rows.c.ref_value == 0, None), else_=error / func.abs(rows.c.ref_value)),
        )
    )
    result = session.execute(statement, {name: values for name, (_, values) in arrays.items()})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
