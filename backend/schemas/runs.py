from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.statuses import RunStatus
from backend.schemas.results import SeriesIn
from backend.schemas.run_artifacts import RunArtifactRead


class MetricRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    value: float
    unit: str
    reference_id: uuid.UUID | None
    error: float | None = Field(description="value - reference, in the unit")
    rel_error: float | None = Field(None, description="error / |reference|; null without one")


class SeriesRead(SeriesIn):
    model_config = ConfigDict(from_attributes=True)


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mlip_model_id: uuid.UUID
    model_hash: str = Field(
        description="version_hash of the model version the run belongs to (part of its key)"
    )
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


class MetricWithReference(MetricRead):
    """A metric with the reference it was compared with (value, level of theory, citation)."""

    reference_value: float | None = None
    reference_unit: str | None = None
    reference_level_of_theory: str | None = None
    reference_source: str | None = None


class RunSummary(RunRead):
    """A run with the names a list needs: model, benchmark, material and structure set.

    ``metrics`` and ``series`` are filled only when the list is asked for them.
    """

    model_name: str
    model_version: str
    benchmark_key: str
    benchmark_version: str
    material: str
    formula: str
    elements: list[str]
    n_atoms: int
    structure_set: str
    metrics: list[MetricWithReference] | None = None
    series: list[SeriesRead] | None = None


class RunAttemptRead(BaseModel):
    """An earlier attempt of a run: an outcome a rerun replaced, a hard time limit kill, or
    an attempt given back because its worker stalled (status ``retried``)."""

    model_config = ConfigDict(from_attributes=True)

    attempt: int
    status: str
    failure_class: str | None
    failure_message: str | None
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None
    wall_s: float | None


class RunDetail(RunSummary):
    """One run in full: names, status, provenance, every metric, series and artifact."""

    metrics: list[MetricWithReference]
    series: list[SeriesRead]
    artifacts: list[RunArtifactRead] = Field(
        default_factory=list, description="files the run produced (trajectories), to download"
    )
    attempts: list[RunAttemptRead] = Field(
        default_factory=list,
        description="earlier attempts, oldest first (the current one is the run itself)",
    )
