"""Files a run produced (trajectories, optimisation paths): what a worker records, what the API
lists. The store key stays on the server; clients download through the API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

#: The media type of extended XYZ files (as the structure exports).
EXTXYZ_MEDIA_TYPE = "chemical/x-extxyz"


class RunArtifactIn(BaseModel):
    """A file a worker wrote to the artifact store for a run."""

    name: str = Field(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    media_type: str = EXTXYZ_MEDIA_TYPE
    key: str = Field(max_length=500, description="store-relative key, never a host path")
    sha256: str = Field(min_length=64, max_length=64)
    size_bytes: int = Field(ge=0)
    n_frames: int = Field(ge=0)


class RunArtifactRead(BaseModel):
    """A stored file of a run; ``GET /runs/{run_id}/artifacts/{name}`` downloads it."""

    model_config = ConfigDict(from_attributes=True)

    run_id: uuid.UUID
    name: str = Field(examples=["trajectory"])
    media_type: str = Field(examples=[EXTXYZ_MEDIA_TYPE])
    filename: str = Field(examples=["run-<id>-trajectory.extxyz"])
    sha256: str
    size_bytes: int
    n_frames: int = Field(description="structures in the file (extxyz frames)")
    created_at: datetime
