from __future__ import annotations

import uuid

from fastapi import APIRouter

from backend.api.deps import SessionDep
from backend.schemas.runs import RunDetail
from backend.services import runs

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("/{run_id}", operation_id="runs-read_run")
def read_run(run_id: uuid.UUID, session: SessionDep) -> RunDetail:
    """A run with its status, provenance, metrics and series."""
    return runs.read_run(session, run_id)
