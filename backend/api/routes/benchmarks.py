from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, computed_field

from backend.api.deps import SessionDep
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.services import catalog
from shared_kernel.hashing import params_hash

router = APIRouter(prefix="/benchmarks", tags=["benchmarks"])


class BenchmarkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str = Field(examples=["eos"])
    version: str = Field(examples=["1.0"])
    description: str
    default_params: dict[str, Any] = Field(examples=[{"n_points": 11, "max_strain": 0.2}])
    headline_metrics: list[dict[str, str]] = Field(
        examples=[[{"name": "bulk_modulus", "label": "B0", "unit": "GPa"}]]
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="params hash of the standard parameter set: the protocol of the default "
        "board (docs/metrics.md)"
    )
    @property
    def default_params_hash(self) -> str:
        return params_hash(self.key, self.version, self.default_params)


@router.get("", operation_id="benchmarks-list_benchmarks")
def list_benchmarks(
    session: SessionDep,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[BenchmarkRead]:
    """Every benchmark protocol version with its default parameters."""
    items, total = catalog.list_benchmarks(session, limit=limit, offset=offset)
    return Page(
        items=[BenchmarkRead.model_validate(b) for b in items],
        limit=limit,
        offset=offset,
        total=total,
    )
