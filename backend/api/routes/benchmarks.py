from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from backend.api.deps import SessionDep
from backend.repositories import benchmarks as benchmark_repo

router = APIRouter(prefix="/benchmarks", tags=["benchmarks"])


class BenchmarkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    version: str
    description: str
    default_params: dict[str, Any]
    headline_metrics: list[dict[str, str]]


@router.get("", operation_id="benchmarks-list_benchmarks")
def list_benchmarks(session: SessionDep) -> list[BenchmarkRead]:
    """Every benchmark protocol version with its default parameters."""
    return [BenchmarkRead.model_validate(b) for b in benchmark_repo.list_benchmarks(session)]
