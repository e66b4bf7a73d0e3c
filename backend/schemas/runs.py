from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from backend.db.models.run import RunStatus
from backend.schemas.results import SeriesIn


class MetricRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    value: float
    unit: str
    reference_id: uuid.UUID | None
    error: float | None


class SeriesRead(SeriesIn):
    model_config = ConfigDict(from_attributes=True)


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mlip_model_id: uuid.UUID
    benchmark_id: uuid.UUID
    structure_id: uuid.UUID
    params: dict[str, Any]
    params_hash: str
    status: RunStatus
    attempt: int
    failure_class: str | None
    failure_message: str | None
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None
    wall_s: float | None
    cpu_s: float | None
    peak_memory_mb: float | None
    provenance: dict[str, Any]


class RunDetail(RunRead):
    metrics: list[MetricRead]
    series: list[SeriesRead]
