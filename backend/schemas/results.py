"""What a worker hands to the result writer: typed, JSON-able, independent of ASE."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class MetricIn(BaseModel):
    name: str
    value: float
    unit: str
    compare_to_reference: bool = False


class SeriesIn(BaseModel):
    name: str
    x: list[float]
    y: list[float]
    x_label: str
    x_unit: str
    y_label: str
    y_unit: str


class RunTimings(BaseModel):
    wall_s: float
    cpu_s: float
    peak_memory_mb: float


class ProjectionIn(BaseModel):
    """A landscape plane or a 2-D map of configurations (see ``backend.db.tables.projection``)."""

    name: str
    kind: str
    method: str
    settings: dict[str, Any]
    data: dict[str, Any]
