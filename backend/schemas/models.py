from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.db.models.mlip_model import ModelStatus

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"


class ModelCreate(BaseModel):
    """A model card and how to build the model (its adapter family and parameters)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, examples=["my-mlip"])
    version: str = Field("1", min_length=1, max_length=50, pattern=NAME_PATTERN)
    family: str = Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$", examples=["emt"])
    params: dict[str, Any] = Field(default_factory=dict)
    card: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"authors": ["A. Author"], "license": "MIT", "paper": "doi:..."}],
    )
    elements: list[str] | None = Field(
        None, description="Elements the model supports; runs outside them are skipped."
    )


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: str
    family: str
    params: dict[str, Any]
    card: dict[str, Any]
    elements: list[str] | None
    is_baseline: bool
    status: ModelStatus
    artifact_sha256: str | None = Field(None, description="sha256 of the uploaded model file.")
    is_trusted: bool = Field(
        False, description="An admin allowed the file to be unpickled (arbitrary code)."
    )
    created_at: datetime


class ModelTrust(BaseModel):
    """An admin's decision on whether a model's file may be unpickled with arbitrary code."""

    model_config = ConfigDict(extra="forbid")

    is_trusted: bool = True
