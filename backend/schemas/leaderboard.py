"""Leaderboard read models: one row per model version, one entry per (model, material)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class MetricColumn(BaseModel):
    """A headline metric of the benchmark, compared with a reference."""

    name: str = Field(examples=["volume_per_atom"])
    label: str = Field(examples=["V0"])
    unit: str = Field(examples=["Å³/atom"])


class Interval(BaseModel):
    """A 95 % bootstrap percentile interval (resampling materials; docs/metrics.md)."""

    low: float
    high: float


class MetricSummary(BaseModel):
    """One model on one metric over its scored runs (succeeded, no quality flag): errors over
    those with a reference, and the mean value over all of them (with or without a reference,
    e.g. an NVE drift or a speed). Failed and flagged runs are counted on the row instead."""

    mae: float | None = Field(description="mean absolute error vs the reference, in the unit")
    mae_interval: Interval | None = Field(
        None, description="95 % bootstrap interval of the MAE over the model's materials"
    )
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
    failures: dict[str, int] = Field(
        default_factory=dict,
        description="failed and skipped runs by failure class",
        examples=[{"no_convergence": 2, "unsupported_elements": 3}],
    )
    n_materials: int = Field(
        0, description="the board's materials: those any model has a scored result on"
    )
    n_scored: int = Field(
        0, description="board materials this model has a scored result on (the rest are penalised)"
    )
    score: float | None = Field(
        None,
        description="mean over the board's materials of the rank metric's loss, failed, "
        "flagged and missing materials counted with the worst loss any model scored there "
        "(docs/metrics.md); null when nothing is scored",
    )
    score_interval: Interval | None = Field(None, description="95 % bootstrap interval of score")
    rank: int | None = Field(None, description="1 = smallest score; null when not ranked")
    rank_interval: list[int] | None = Field(
        None, description="95 % bootstrap interval of the rank, [best, worst]", examples=[[1, 3]]
    )
    tier: int | None = Field(
        None,
        description="models of one tier are statistically tied: the tier's first model does "
        "not have a smaller score in 95 % of the resamples",
    )
    fitted_to: list[str] = Field(
        default_factory=list,
        description="metrics of this board the model's card says it was fitted to (its "
        "errors there are not predictions)",
    )
    metrics: dict[str, MetricSummary]


class RankingInfo(BaseModel):
    """How the board ranks: one definition for the API, the pages and the exports."""

    metric: str = Field(examples=["bulk_modulus"])
    loss: str = Field(description="abs_error | abs_rel_error | value", examples=["abs_rel_error"])
    unit: str = Field(description="unit of score", examples=["%"])
    higher_is_better: bool = False
    description: str
    n_bootstrap: int
    confidence: float


class Protocol(BaseModel):
    """One parameter set of a benchmark version: a board of its own."""

    params_hash: str
    params: dict[str, Any]
    changed: dict[str, Any] = Field(
        default_factory=dict, description="the parameters that differ from the standard set"
    )
    is_default: bool = Field(description="the benchmark's standard parameter set")
    n_runs: int


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
    params_hash: str = Field("", description="the protocol (parameter set) of the run")
    status: str = Field("succeeded", description="succeeded | failed | skipped | ...")
    failure_class: str | None = None
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
    params_hash: str = Field("", description="the protocol this board holds")
    params: dict[str, Any] = Field(default_factory=dict, description="its full parameter set")
    is_default_protocol: bool = True
    protocols: list[Protocol] = Field(
        default_factory=list,
        description="every parameter set with runs on this benchmark version (each its own board)",
    )
    ranking: RankingInfo | None = None
    n_materials: int = Field(0, description="materials any model has a scored result on")
    notes: list[str] = Field(default_factory=list, description="what to keep in mind reading it")
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

    metric: str = Field(description="the benchmark's rank metric (docs/metrics.md)")
    score: float | None = Field(description="the model's score on that benchmark's default board")
    rank: int | None = Field(description="its rank on that board among the models combined")
    normalized_rank: float | None = Field(
        description="(rank - 1) / (n_ranked - 1) in [0, 1]; null when the model has no score"
    )
    weight: float


class CombinedRow(BaseModel):
    model_id: uuid.UUID
    model_name: str
    model_version: str
    family: str
    score: float | None = Field(
        description="weighted mean of the normalized ranks (0 = best on every benchmark, 1 = "
        "worst), only for models scored on every benchmark combined; null otherwise"
    )
    rank: int | None = Field(None, description="1 = smallest score; null when not ranked")
    n_benchmarks: int = Field(description="benchmarks on which the model has a score")
    scored_on: list[str] = Field(default_factory=list, description="those benchmarks")
    missing: list[str] = Field(
        default_factory=list, description="benchmarks combined on which it has no score"
    )
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
