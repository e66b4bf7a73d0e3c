"""Structure sets and their structures: public reads; signed-in users create and fill sets."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Query, Request

from backend.api.body_limit import streams_own_body
from backend.api.deps import CurrentUser, SessionDep, StructureParserDep
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.schemas.structures import (
    PrototypeRead,
    StructureDetail,
    StructureRead,
    StructureSetCreate,
    StructureSetRead,
    StructureUploadRead,
)
from backend.services import structure_uploads, structures

router = APIRouter(tags=["structures"])


@router.post("/structure-sets", status_code=201, operation_id="structures-create_structure_set")
def create_structure_set(
    body: StructureSetCreate, session: SessionDep, user: CurrentUser
) -> StructureSetRead:
    """Create an empty structure set owned by the caller (names are unique: 409)."""
    return structures.create_structure_set(session, body, owner=user)


@router.get("/structure-sets", operation_id="structures-list_structure_sets")
def list_structure_sets(
    session: SessionDep,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[StructureSetRead]:
    """Structure sets by name, with how many structures each holds."""
    items, total = structures.list_structure_sets(session, limit=limit, offset=offset)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/prototypes", operation_id="structures-list_prototypes")
def list_prototypes(session: SessionDep) -> list[PrototypeRead]:
    """The crystal prototypes of the stored structures (what boards' ``prototype`` filter
    takes), with how many structures carry each; a few dozen at most."""
    return structures.prototypes(session)


@router.get("/structure-sets/{set_id}", operation_id="structures-read_structure_set")
def read_structure_set(set_id: uuid.UUID, session: SessionDep) -> StructureSetRead:
    """One structure set."""
    return structures.read_structure_set(session, set_id)


@router.get("/structure-sets/{set_id}/structures", operation_id="structures-list_structures")
def list_structures(
    set_id: uuid.UUID,
    session: SessionDep,
    element: list[str] = Query(
        default_factory=list, description="only structures containing all of these elements"
    ),
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[StructureRead]:
    """The set's structures by label (without their coordinates; see GET /structures/{id})."""
    items, total = structures.list_structures(
        session, set_id, elements=element, limit=limit, offset=offset
    )
    return Page(
        items=[StructureRead.model_validate(s) for s in items],
        limit=limit,
        offset=offset,
        total=total,
    )


@router.get("/structures/{structure_id}", operation_id="structures-read_structure")
def read_structure(structure_id: uuid.UUID, session: SessionDep) -> StructureDetail:
    """One structure with its data (ASE JSON)."""
    return StructureDetail.model_validate(structures.get_structure(session, structure_id))


_FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The structure file's bytes as the raw request body (CIF, POSCAR, "
        "extxyz or ASE JSON; one or many structures).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/structure-sets/{set_id}/structures",
    status_code=201,
    operation_id="structures-upload_structures",
    openapi_extra=_FILE_BODY,
)
@streams_own_body  # MLIPM_MAX_STRUCTURE_FILE_MB
async def upload_structures(
    set_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    parser: StructureParserDep,
    format: Literal["cif", "poscar", "extxyz", "json"] | None = Query(
        None, description="the file format; when left out, taken from `filename`"
    ),
    filename: str | None = Query(
        None,
        max_length=255,
        description="the file's name: its extension (.cif, .vasp, .xyz, .extxyz, .json) or a "
        "POSCAR/CONTCAR name gives the format",
        examples=["NaCl.cif"],
    ),
) -> StructureUploadRead:
    """Add the structures of one file to a set (its owner or an admin); all or nothing.

    The body is the file itself (``curl --data-binary @NaCl.cif``), streamed to a temporary
    file under ``MLIPM_MAX_STRUCTURE_FILE_MB`` (413). Every structure is checked before any is
    stored (422 naming the line or structure): unknown elements, atoms closer than 0.5 Å
    (periodic images included), zero-volume or non-finite cells and positions, more atoms than
    ``MLIPM_MAX_STRUCTURE_ATOMS``, more structures than ``MLIPM_MAX_STRUCTURES_PER_UPLOAD``,
    empty or unreadable files. Structures already in the set
    (same content hash) are skipped and listed; ones stored in other sets are listed too.
    """
    return await structure_uploads.upload_structures(
        session,
        set_id,
        request.stream(),
        declared_length=request.headers.get("content-length", ""),
        user=user,
        parser=parser,
        fmt=format,
        filename=filename,
    )
