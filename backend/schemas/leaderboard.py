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
    """One model on one metric: errors over every material that has a reference, and the mean
    value over every value (with or without a reference, e.g. an NVE drift or a speed)."""

    mae: float | None = Field(description="mean absolute error vs the reference, in the unit")
    mape_percent: float | None = Field(description="mean absolute percentage error")
    n: int = Field(description="number of materials compared")
    mean: float | None = Field(
        None,
        description="mean of the metric's values over the model's succeeded runs on the "
        "board (with or without a reference), in the unit; null when there is none",
        examples=[0.0021],
    )
    n_values: int = Field(0, description="number of values averaged in mean", examples=[12])


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
    rel_error: float | None = Field(None, description="error / |reference| (dimensionless)")


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
    """One page of a board: rows sorted by ``sort``, ``total`` rows match the filters."""

    benchmark: str = Field(examples=["eos"])
    version: str = Field(examples=["1.0"])
    level_of_theory: str = Field(examples=["experiment"])
    columns: list[MetricColumn]
    rows: list[LeaderboardRow]
    entries: list[LeaderboardEntry] = Field(
        description="per-material numbers of the models on this page (only with "
        "include_entries=true)"
    )
    updated_at: datetime | None = Field(description="when the newest result was written")
    elements: list[str] = Field(
        default_factory=list,
        description="sorted chemical symbols of every structure that a model of the board "
        "(passing the filters, on any page) has a run on",
        examples=[["Al", "Cu", "Ni"]],
    )
    total: int = Field(0, description="rows matching the filters, over every page")
    limit: int = 100
    offset: int = 0
    sort: str = Field("", examples=["metrics.bulk_modulus.mape_percent", "-failure_rate"])
    filters: dict[str, str] = Field(
        default_factory=dict, examples=[{"openness": "OSOD", "element": "Cu"}]
    )


class CombinedPart(BaseModel):
    """One benchmark's share of a model's combined score."""

    metric: str = Field(description="the metric ranked: the benchmark's first headline metric")
    mape_percent: float | None
    rank: int | None = Field(description="1 = smallest MAPE among the models ranked")
    normalized_rank: float = Field(
        description="(rank - 1) / (n_ranked - 1) in [0, 1]; 1 when the model has no value"
    )
    weight: float


class CombinedRow(BaseModel):
    model_id: uuid.UUID
    model_name: str
    model_version: str
    family: str
    score: float = Field(
        description="weighted mean of the normalized ranks: 0 = best on every benchmark, 1 = worst"
    )
    n_benchmarks: int = Field(description="benchmarks on which the model has a ranked value")
    parts: dict[str, CombinedPart]


class CombinedLeaderboardRead(BaseModel):
    """Several benchmarks in one score that does not depend on their units or scales."""

    benchmarks: list[str] = Field(examples=[["eos", "elastic"]])
    weights: dict[str, float] = Field(examples=[{"eos": 2.0, "elastic": 1.0}])
    level_of_theory: str
    method: str = Field(description="how the score is computed")
    rows: list[CombinedRow]
    total: int
    limit: int
    offset: int
    sort: str
    filters: dict[str, str] = Field(default_factory=dict)
    updated_at: datetime | None
