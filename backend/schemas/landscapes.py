"""Landscape projections as the API returns them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProjectionRead(BaseModel):
    """A stored plane (grid, path, minima, curvatures) or 2-D map (coordinates, colours)."""

    model_config = ConfigDict(from_attributes=True)

    run_id: uuid.UUID
    name: str = Field(examples=["plane", "map_umap"])
    kind: str = Field(examples=["plane", "map"])
    method: str = Field(examples=["pca-mass-weighted", "umap"])
    plane_hash: str | None
    settings: dict[str, Any]
    data: dict[str, Any]
    created_at: datetime


class PlaneSummary(BaseModel):
    """One model's plane: which run, model and structure, and which plane (hash)."""

    run_id: uuid.UUID
    plane_hash: str | None
    plane_source: str | None
    plane_reference: str | None
    run_status: str
    model_id: uuid.UUID
    model_name: str
    model_version: str
    structure_id: uuid.UUID
    structure_label: str
    material: str


class PlaneDifference(BaseModel):
    """A - B of two models' relative energies on the same plane (eV) and its RMSE."""

    run_a: uuid.UUID
    run_b: uuid.UUID
    plane_hash: str
    a: list[float]
    b: list[float]
    difference_ev: list[list[float | None]] = Field(description="rows follow b, columns a")
    rmse_mev_atom: float | None
    max_abs_difference_mev_atom: float | None
    n_atoms: int
