"""The cross-run summary of the representation benchmark: read it, ask for a new one."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import AdminUser, SessionDep
from backend.schemas.representations import RepresentationSummaryRead, SummaryQueued
from backend.services import representations

router = APIRouter(prefix="/representations", tags=["representations"])


@router.get("", operation_id="representations-read_summary")
def read_summary(session: SessionDep) -> RepresentationSummaryRead:
    """The newest summary: probes, CKA, maps, failure atlas, novelty (404: none computed yet)."""
    return representations.latest_summary(session)


@router.post("/summary", status_code=202, operation_id="representations-request_summary")
def request_summary(admin: AdminUser) -> SummaryQueued:
    """Ask a worker to compute a new summary of every latest representation run."""
    return representations.request_summary()
