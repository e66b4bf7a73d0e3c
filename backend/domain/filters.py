"""What lists are filtered by: plain values the routes build and the repositories read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricFilter:
    """The metrics of one run, model, benchmark or metric name (None: any)."""

    run_id: uuid.UUID | None = None
    model_id: uuid.UUID | None = None
    benchmark: str | None = None
    name: str | None = None
