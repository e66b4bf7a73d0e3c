from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.domain.statuses import RunStatus


class ModelRef(BaseModel):
    """A model version by id, or by name and optionally version (without: the newest
    approved version)."""

    model_config = ConfigDict(
        extra="forbid",
        # exactly one of id and name, as the validator below checks (null counts as absent)
        json_schema_extra={
            "oneOf": [
                {"required": ["id"], "properties": {"id": {"type": "string"}}},
                {"required": ["name"], "properties": {"name": {"type": "string"}}},
            ]
        },
    )

    id: uuid.UUID | None = None
    name: str | None = None
    version: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ModelRef:
        if (self.id is None) == (self.name is None):
            raise ValueError("give exactly one of 'id' or 'name'")
        return self


class BenchmarkRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(examples=["eos"])
    version: str | None = Field(None, description="protocol version; the newest if omitted")
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"n_points": 11}])


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["demo: eos on elemental crystals"])
    models: list[ModelRef] = Field(min_length=1, examples=[[{"name": "EMT"}]])
    benchmarks: list[BenchmarkRef] = Field(
        min_length=1, examples=[[{"key": "eos", "params": {"n_points": 11}}]]
    )
    structure_sets: list[str] = Field(min_length=1, examples=[["elemental crystals"]])
    materials: list[str] | None = Field(
        None,
        min_length=1,
        description="only the structures of the chosen sets with one of these labels or "
        "materials (each must name at least one); every structure of the sets if omitted",
        examples=[["Cu", "Al"]],
    )


class Progress(BaseModel):
    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    skipped: int
    cancelled: int
    done_fraction: float = Field(description="finished runs (any outcome) / total")
    eta_s: float | None = Field(
        None, description="seconds left at the throughput measured so far in this campaign"
    )

    @classmethod
    def from_counts(cls, counts: dict[RunStatus, int]) -> Progress:
        total = sum(counts.values())
        pending = counts.get(RunStatus.QUEUED, 0) + counts.get(RunStatus.RUNNING, 0)
        return cls(
            total=total,
            done_fraction=(total - pending) / total if total else 1.0,
            **{status.value: counts.get(status, 0) for status in RunStatus},
        )


class CampaignRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    status: str = Field(description="running, finished or cancelled")
    spec: dict[str, Any]
    n_reused: int = Field(description="runs already done by earlier campaigns, not recomputed")
    created_at: datetime
    progress: Progress
    reused: dict[str, int] | None = Field(
        None,
        description="Only in the answer to a launch: the runs that existed already (same model "
        "version, benchmark version, input and parameters), by status. Failed ones stay "
        "failed (POST /campaigns/{id}/rerun retries them); cancelled ones are queued again.",
    )
    requeued: int | None = Field(
        None,
        description="Only in the answer to a launch or a rerun: runs queued again (cancelled "
        "ones a launch asked for again; those a rerun chose).",
    )
