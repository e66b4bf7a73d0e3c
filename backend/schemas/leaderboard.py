"""Leaderboard read models: one row per model version, one entry per (model, material)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class MetricColumn(BaseModel):
    """A headline metric of the benchmark, compared with a reference."""

    name: str = Field(examples=["volume_per_atom"])
    label: str = Field(examples=["V0"])
    unit: str = Field(examples=["Å³/atom"])


class MetricSummary(BaseModel):
    """Errors of one model on one metric over every material that has a reference."""

    mae: float | None = Field(description="mean absolute error vs the reference, in the unit")
    mape_percent: float | None = Field(description="mean absolute percentage error")
    n: int = Field(description="number of materials compared")


class LeaderboardRow(BaseModel):
    """One model version on one benchmark version."""

    model_id: uuid.UUID
    model_name: str
    model_version: str
    family: str
    n_runs: int
    n_succeeded: int
    n_failed: int
    n_skipped: int
    n_pending: int
    failure_rate: float | None = Field(description="failed / (succeeded + failed)")
    n_flagged: int = Field(0, description="succeeded runs with at least one quality flag raised")
    metrics: dict[str, MetricSummary]


class EntryValue(BaseModel):
    value: float
    unit: str
    reference: float | None
    error: float | None = Field(description="value - reference, in the unit")


class LeaderboardEntry(BaseModel):
    """The numbers of one model on one material."""

    model_id: uuid.UUID
    model_name: str
    material: str
    run_id: uuid.UUID
    values: dict[str, EntryValue]
    flags: list[str] = Field(
        default_factory=list,
        description="quality flags the run raised (e.g. flag_window_sensitive): what makes "
        "its numbers doubtful",
    )


class LeaderboardRead(BaseModel):
    benchmark: str
    version: str
    level_of_theory: str
    columns: list[MetricColumn]
    rows: list[LeaderboardRow]
    entries: list[LeaderboardEntry]
    updated_at: datetime | None = Field(description="when the newest result was written")
