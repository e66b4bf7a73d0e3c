"""The cross-run representation summary as the API returns it, and what the summary task gets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_PROBE = {"mean": 0.58, "std": 0.12, "n": 41}
_TWIN_PROBE = {"mean": -3.15, "std": 1.9, "n": 41}
_POINT = {"structure_id": "0b9c1c52-7a4e-4f19-9a8d-3c4b2f0e6d11", "formula": "Cu"}
EXAMPLE: dict[str, Any] = {
    "summary_id": "5f0e2a8c-3d1b-4b6e-8f7a-2c9d0e1f3a4b",
    "created_at": "2026-12-04T12:00:00Z",
    "version": 1,
    "computed_at": "2026-12-04T12:00:00+00:00",
    "n_runs": 82,
    "models": [
        {"id": "8a1f0c3e-2b4d-4e6f-9a0b-1c2d3e4f5a6b", "name": "CHGNet-0.3.0", "width": 64,
         "n_structures": 41, "n_rows": 287, "control": False},
        {"id": "9b2e1d4f-3c5e-4f70-8b1c-2d3e4f5a6b7c", "name": "CHGNet-random-weights",
         "width": 64, "n_structures": 41, "n_rows": 287, "control": True},
    ],
    "probes": {
        "targets": ["electronegativity", "group", "period", "volume_strain"],
        "folds": "5 folds of whole base structures, averaged over 10 seeded splits",
        "r2": {
            "CHGNet-0.3.0": {"electronegativity": _PROBE, "group": _PROBE, "period": _PROBE,
                             "volume_strain": _PROBE},
            "CHGNet-random-weights": {"electronegativity": _TWIN_PROBE, "group": _TWIN_PROBE,
                                      "period": _TWIN_PROBE, "volume_strain": _TWIN_PROBE},
        },
        "random_twin": {"CHGNet-0.3.0": "CHGNet-random-weights", "CHGNet-random-weights": None},
        "gain": {
            "CHGNet-0.3.0": dict.fromkeys(
                ("electronegativity", "group", "period", "volume_strain"), 3.73
            ),
            "CHGNet-random-weights": dict.fromkeys(
                ("electronegativity", "group", "period", "volume_strain")
            ),
        },
    },
    "cka": {"models": ["CHGNet-0.3.0", "CHGNet-random-weights"], "matrix": [[1.0, 0.39],
            [0.39, 1.0]], "n_common": 287, "order": "average-linkage on 1-CKA"},
    "maps": {"CHGNet-0.3.0": {"pca": {"x": [0.4], "y": [-1.2], "explained_variance": [0.5, 0.2]},
                              "umap": None, "phate": None,
                              "points": [{**_POINT, "variant": "scale_1.00", "elements": ["Cu"],
                                          "group": 11.0, "period": 4.0,
                                          "electronegativity": 1.9}]}},
    "structure_map": None,
    "atlas": {"CHGNet-0.3.0": [{**_POINT, "mean_abs_rel_error": 0.03,
                                "failures": [{"benchmark": "phonons",
                                              "failure_class": "nan_or_inf"}],
                                "flags": ["flag_drift"]}]},
    "novelty": {"CHGNet-0.3.0": {"points": [{**_POINT, "novelty": 2.1, "error": 0.03}],
                                 "spearman": 0.31, "n": 41, "reference": "benchmark structures"}},
}  # fmt: skip


class SummaryModel(BaseModel):
    """A model in the summary: its width (embedding size), structures and rows (variants)."""

    id: uuid.UUID
    name: str
    width: int
    n_structures: int
    n_rows: int
    control: bool = Field(description="a random-weight control of an architecture")


class RepresentationSummaryRead(BaseModel):
    """The newest cross-run summary of the ``representation`` benchmark, as computed.

    Every probe holds out whole structures (5 folds of whole base structures, averaged over 10
    seeded splits); ``gain`` is a model's R² less its random-weight twin's. Approved models only.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EXAMPLE]})

    summary_id: uuid.UUID
    created_at: datetime
    version: int
    computed_at: str
    n_runs: int
    models: list[SummaryModel]
    probes: dict[str, Any] = Field(description="targets, folds, r2, random_twin, gain")
    cka: dict[str, Any] = Field(description="models (clustering order), matrix, n_common")
    maps: dict[str, Any] = Field(description="per model: pca, umap, phate (or null), points")
    structure_map: dict[str, Any] | None = None
    atlas: dict[str, Any] = Field(description="per model: error, failures, flags per structure")
    novelty: dict[str, Any] = Field(description="per model: points, spearman, n, reference")


class SummaryQueued(BaseModel):
    """A summary was asked for; the worker stores it (read it with GET /representations)."""

    queued: bool


@dataclass(frozen=True, slots=True)
class SummaryStored:
    """A summary the task stored."""

    id: uuid.UUID
    created_at: datetime
    n_runs: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EmbeddingRun:
    """A model's latest ``representation`` run on a structure and its pooled embeddings."""

    model: str
    model_id: str
    structure_id: str
    formula: str
    run_id: str
    data: dict[str, Any]
    family: str
    control: bool


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A model's latest run of another benchmark on a structure, as the atlas shows it."""

    model_id: str
    structure_id: str
    benchmark: str
    status: str
    failure_class: str | None
    flags: list[str]
    abs_rel_error: float | None


@dataclass(frozen=True, slots=True)
class SummaryInputs:
    """What a summary reads: runs, other outcomes, and the structures' ASE JSON by id."""

    runs: list[EmbeddingRun]
    outcomes: list[RunOutcome]
    structures: dict[str, str]
