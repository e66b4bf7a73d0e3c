from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class MetricRow(BaseModel):
    """One stored metric with what it measured and what it is compared with."""

    run_id: uuid.UUID
    model_id: uuid.UUID
    model_name: str = Field(examples=["EMT"])
    model_version: str = Field(examples=["1"])
    benchmark: str = Field(examples=["eos"])
    benchmark_version: str = Field(examples=["1.0"])
    structure_label: str = Field(examples=["Cu"])
    material: str = Field(examples=["Cu"])
    name: str = Field(examples=["bulk_modulus"])
    value: float = Field(examples=[134.2])
    unit: str = Field(examples=["GPa"])
    reference: float | None = Field(None, description="the reference value compared with")
    level_of_theory: str | None = Field(None, examples=["experiment"])
    error: float | None = Field(None, description="value - reference, in the unit")
