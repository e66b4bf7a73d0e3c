"""Structure sets and structures at the HTTP boundary."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

#: Postgres text cannot hold NUL characters.
NO_NUL = r"^[^\x00]*$"


class StructureSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL, examples=["my oxides"])
    description: str = Field("", max_length=10_000, pattern=NO_NUL)
    source: str = Field(
        "", max_length=2000, pattern=NO_NUL, description="where the structures come from"
    )


class StructureSetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    source: str
    owner_id: uuid.UUID | None = Field(description="null for the built-in sets")
    n_structures: int
    created_at: datetime


class StructureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    structure_set_id: uuid.UUID
    label: str
    material: str
    formula: str
    elements: list[str]
    n_atoms: int
    content_hash: str = Field(description="sha256 of the stored ASE JSON")
    prototype: str | None = Field(
        None,
        description="crystal prototype named by the structure's info (crystal_structure); "
        "boards can be filtered to it",
        examples=["rocksalt"],
    )
    created_at: datetime


class PrototypeRead(BaseModel):
    """A crystal prototype the stored structures carry, and how many carry it."""

    prototype: str = Field(examples=["zincblende"])
    n_structures: int


class StructureDetail(StructureRead):
    data: str = Field(description="the structure, losslessly, as ASE JSON")


class DuplicateStructure(BaseModel):
    """An uploaded structure whose content (hash) is already stored."""

    index: int = Field(description="position of the structure in the uploaded file")
    structure_id: uuid.UUID
    structure_set: str
    label: str


class StructureUploadRead(BaseModel):
    """What an upload did: all of it was stored, or (on any error) nothing was.

    A structure already in this set (same content hash), or repeated in the file, is not stored
    twice: it is listed in ``skipped_duplicates``. One stored in *other* sets is stored here too
    and listed in ``found_in_other_sets``.
    """

    structure_set_id: uuid.UUID
    format: str
    n_in_file: int
    added: list[StructureRead]
    skipped_duplicates: list[DuplicateStructure]
    found_in_other_sets: list[DuplicateStructure]
