"""Reference values: public reads; admins add, correct and delete them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from backend.api.deps import AdminUser, SessionDep, SpaceGroupReaderDep
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.schemas.references import ReferenceCreate, ReferenceRead, ReferenceUpdate
from backend.services import references

router = APIRouter(prefix="/references", tags=["references"])
NO_NUL = r"^[^\x00]*$"  # Postgres text cannot hold NUL


@router.get("", operation_id="references-list_references")
def list_references(
    session: SessionDep,
    material: str | None = Query(None, pattern=NO_NUL, examples=["Cu"]),
    property: str | None = Query(None, pattern=NO_NUL, examples=["bulk_modulus"]),
    level_of_theory: str | None = Query(None, pattern=NO_NUL, examples=["experiment"]),
    dataset: str | None = Query(None, pattern=NO_NUL),
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[ReferenceRead]:
    """References, by material, property and level of theory; filters combine with AND."""
    items, total = references.list_references(
        session,
        material=material,
        property=property,
        level_of_theory=level_of_theory,
        dataset=dataset,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[ReferenceRead.model_validate(r) for r in items],
        limit=limit,
        offset=offset,
        total=total,
    )


@router.get("/{reference_id}", operation_id="references-read_reference")
def read_reference(reference_id: uuid.UUID, session: SessionDep) -> ReferenceRead:
    """One reference value with its unit, uncertainty, conditions and citation."""
    return ReferenceRead.model_validate(references.get_reference(session, reference_id))


@router.post("", status_code=201, operation_id="references-create_reference")
def create_reference(
    body: ReferenceCreate, session: SessionDep, admin: AdminUser, reader: SpaceGroupReaderDep
) -> ReferenceRead:
    """Add a reference (admins only); one per material, property, level and dataset (409); its
    phase must be a stored crystal's of that material (422 on conditions.phase)."""
    created = references.create_reference(session, body, read_space_group=reader)
    return ReferenceRead.model_validate(created)


@router.patch("/{reference_id}", operation_id="references-update_reference")
def update_reference(
    reference_id: uuid.UUID,
    body: ReferenceUpdate,
    session: SessionDep,
    admin: AdminUser,
    reader: SpaceGroupReaderDep,
) -> ReferenceRead:
    """Correct a reference's fields (admins only); a new material or phase is checked as on
    creation."""
    updated = references.update_reference(session, reference_id, body, read_space_group=reader)
    return ReferenceRead.model_validate(updated)


@router.delete("/{reference_id}", status_code=204, operation_id="references-delete_reference")
def delete_reference(reference_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> Response:
    """Delete a reference no metric was scored against (admins only; 409 otherwise)."""
    references.delete_reference(session, reference_id)
    return Response(status_code=204)
