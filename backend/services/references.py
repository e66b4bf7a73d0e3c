"""Reference values: read by everyone, written by admins (the routes check the role)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Reference
from backend.domain.phases import SpaceGroupReader
from backend.repositories import references as ref_repo
from backend.schemas.references import ReferenceCreate, ReferenceUpdate
from backend.services.reference_phases import refuse_other_phase
from shared_kernel.errors import Conflict, InvalidInput, NotFound


def list_references(
    session: Session,
    *,
    material: str | None = None,
    property: str | None = None,
    level_of_theory: str | None = None,
    dataset: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Reference], int]:
    return ref_repo.page_references(
        session,
        material=material,
        property=property,
        level_of_theory=level_of_theory,
        dataset=dataset,
        limit=limit,
        offset=offset,
    )


def get_reference(session: Session, reference_id: uuid.UUID) -> Reference:
    reference = ref_repo.get_reference(session, reference_id)
    if reference is None:
        raise NotFound(f"no reference {reference_id}", where="reference_id")
    return reference


def create_reference(
    session: Session, body: ReferenceCreate, *, read_space_group: SpaceGroupReader
) -> Reference:
    """Add a reference; its phase must be that of a stored crystal of its material (if any)."""
    _refuse_clash(session, body.material, body.property, body.level_of_theory, body.dataset)
    refuse_other_phase(session, body.material, body.conditions, read_space_group=read_space_group)
    return ref_repo.add_reference(session, body.model_dump())


def update_reference(
    session: Session,
    reference_id: uuid.UUID,
    body: ReferenceUpdate,
    *,
    read_space_group: SpaceGroupReader,
) -> Reference:
    """Change the given fields; a value that metrics were scored against keeps its id. A new
    material or new conditions are checked against the stored structures' phases."""
    reference = get_reference(session, reference_id)
    changes = body.model_dump(exclude_unset=True)
    for field in ("material", "property", "value", "unit", "level_of_theory", "source", "dataset"):
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field} cannot be null", where=f"body.{field}")
    key = {
        k: changes.get(k, getattr(reference, k))
        for k in ("material", "property", "level_of_theory", "dataset")
    }
    _refuse_clash(session, *key.values(), ignore=reference.id)
    if "conditions" in changes and changes["conditions"] is None:
        changes["conditions"] = {}
    if "material" in changes or "conditions" in changes:
        conditions = changes.get("conditions", reference.conditions)
        refuse_other_phase(session, key["material"], conditions, read_space_group=read_space_group)
    for field, value in changes.items():
        setattr(reference, field, value)
    session.flush()
    return reference


def delete_reference(session: Session, reference_id: uuid.UUID) -> None:
    """Delete a reference no metric was scored against (409 otherwise: it is provenance)."""
    reference = get_reference(session, reference_id)
    used = session.scalar(
        select(func.count()).select_from(Metric).where(Metric.reference_id == reference.id)
    )
    if used:
        raise Conflict(
            f"{used} metric(s) were scored against this reference; correct it with PATCH "
            "instead of deleting it",
            where="reference_id",
        )
    ref_repo.delete_reference(session, reference)


def _refuse_clash(
    session: Session,
    material: str,
    property: str,
    level_of_theory: str,
    dataset: str,
    *,
    ignore: uuid.UUID | None = None,
) -> None:
    found = ref_repo.find_reference(
        session,
        material=material,
        property=property,
        level_of_theory=level_of_theory,
        dataset=dataset,
    )
    if found is not None and found.id != ignore:
        raise Conflict(
            f"a reference for {material} {property} at {level_of_theory!r} in dataset "
            f"{dataset!r} exists ({found.id})",
            where="body",
        )
