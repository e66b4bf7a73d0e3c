from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from backend.domain.statuses import ModelStatus
from backend.schemas.common import INCONSISTENT, CheckedLaterSymbol
from backend.schemas.model_card import ModelCard

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"


class ModelCreate(BaseModel):
    """A model card and how to build the model (its adapter family and parameters)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, examples=["my-mlip"])
    version: str = Field("1", min_length=1, max_length=50, pattern=NAME_PATTERN)
    family: str = Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$", examples=["emt"])
    params: dict[str, Any] = Field(default_factory=dict)
    card: ModelCard = Field(
        default_factory=ModelCard,
        examples=[{"authors": ["A. Author"], "license": "MIT", "openness": "OSOD"}],
    )
    elements: list[CheckedLaterSymbol] | None = Field(
        None, description="Elements the model supports; runs outside them are skipped."
    )

    @model_validator(mode="after")
    def _card_names_this_model(self) -> ModelCreate:
        """The card's name, version and family are the record's: filled in, or must agree."""
        for field in ("name", "version", "family"):
            value, on_card = getattr(self, field), getattr(self.card, field)
            if on_card is None:
                setattr(self.card, field, value)
            elif on_card != value:
                raise PydanticCustomError(
                    INCONSISTENT,
                    "card.{field} {on_card} differs from {field} {value}",
                    {"field": field, "on_card": repr(on_card), "value": repr(value)},
                )
        return self


class ModelUpdate(BaseModel):
    """What an owner may change on a model; fields left out are kept."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] | None = None
    card: ModelCard | None = None
    elements: list[CheckedLaterSymbol] | None = None


class ModelVersionCreate(BaseModel):
    """A new version of a model: what differs from the version it starts from."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(
        None,
        min_length=1,
        max_length=50,
        pattern=NAME_PATTERN,
        description="The new version's name; default: the next number (or '<version>-2').",
    )
    params: dict[str, Any] | None = Field(None, description="Default: the source's params.")
    elements: list[CheckedLaterSymbol] | None = Field(
        None, description="Default: the source's elements."
    )
    card: ModelCard | None = Field(None, description="Default: the source's card.")
    keep_file: StrictBool = Field(
        True,
        description="Start with the source's model file (false: upload a new one with "
        "PUT /models/{id}/file before approval).",
    )


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: str
    family: str
    params: dict[str, Any]
    card: dict[str, Any]
    elements: list[CheckedLaterSymbol] | None
    is_baseline: bool
    status: ModelStatus
    version_hash: str = Field(
        description="sha256 of family, params, file sha256 and elements: what this version's "
        "results depend on. It never changes once the version is sealed."
    )
    sealed_at: datetime | None = Field(
        None,
        description="When params, elements and file were sealed: at the approval of a review "
        "or the first campaign that asked for this version. Changes then need a new version.",
    )
    packages: dict[str, str] | None = Field(
        None,
        description="The adapter's package versions, pinned by the first worker that ran this "
        "version; workers with other versions refuse its runs (environment_mismatch).",
    )
    artifact_sha256: str | None = Field(None, description="sha256 of the uploaded model file.")
    is_trusted: bool = Field(
        False, description="An admin allowed the file to be unpickled (arbitrary code)."
    )
    owner_id: uuid.UUID | None = None
    training_set_sha256: str | None = Field(
        None, description="sha256 of the uploaded training-set file (extxyz)."
    )
    training_n_structures: int | None = Field(
        None, description="Structures in the uploaded training set, counted by the platform."
    )
    training_element_counts: dict[str, int] | None = Field(
        None, description="Structures containing each element, counted by the platform."
    )
    created_at: datetime


class LeakedStructure(BaseModel):
    """A benchmark structure that is in a model's training set."""

    structure_id: uuid.UUID
    structure_set: str
    label: str
    formula: str
    content_hash: str
    match: Literal["identical", "within_tolerance"] = Field(
        "identical",
        description="identical: the same ASE JSON bytes; within_tolerance: the same "
        "structure up to rotation, translation, atom order, cell choice, supercell and 1e-3 Å "
        "(e.g. after extxyz rounding).",
    )


class LeakageRead(BaseModel):
    model_id: uuid.UUID
    training_n_structures: int | None = Field(
        None, description="None: no training set was uploaded, so nothing can be checked."
    )
    leaked: list[LeakedStructure]


class ModelTrust(BaseModel):
    """An admin's decision on whether a model's file may be unpickled with arbitrary code."""

    model_config = ConfigDict(extra="forbid")

    is_trusted: StrictBool = True
