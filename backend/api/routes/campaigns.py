from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from backend.api.deps import AdminUser, SessionDep
from backend.db.models import RunStatus
from backend.schemas.campaigns import CampaignCreate, CampaignRead
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.schemas.runs import RunRead
from backend.services import campaigns

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


@router.post("", status_code=201, operation_id="campaigns-create_campaign")
def create_campaign(body: CampaignCreate, session: SessionDep, user: AdminUser) -> CampaignRead:
    """Expand models x benchmarks x structure sets into runs and queue them (admins only)."""
    campaign = campaigns.launch_campaign(session, body, owner=user)
    session.flush()
    return campaigns.read_campaign(session, campaign.id)


@router.get("", operation_id="campaigns-list_campaigns")
def list_campaigns(
    session: SessionDep,
    limit: int = Query(50, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[CampaignRead]:
    """Campaigns, newest first, with progress counts."""
    items, total = campaigns.list_campaigns(session, limit=limit, offset=offset)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/{campaign_id}", operation_id="campaigns-read_campaign")
def read_campaign(campaign_id: uuid.UUID, session: SessionDep) -> CampaignRead:
    """A campaign with its run counts per status."""
    return campaigns.read_campaign(session, campaign_id)


@router.post("/{campaign_id}/cancel", operation_id="campaigns-cancel_campaign")
def cancel_campaign(campaign_id: uuid.UUID, session: SessionDep, user: AdminUser) -> CampaignRead:
    """Cancel queued runs now; running ones stop at their next step (admins only)."""
    return campaigns.cancel_campaign(session, campaign_id)


@router.get("/{campaign_id}/runs", operation_id="campaigns-list_campaign_runs")
def list_campaign_runs(
    campaign_id: uuid.UUID,
    session: SessionDep,
    status: RunStatus | None = Query(None, description="only runs in this state"),
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[RunRead]:
    """The campaign's runs, newest finished first, with failure class and message."""
    items, total = campaigns.list_runs(
        session, campaign_id, status=status, limit=limit, offset=offset
    )
    return Page(
        items=[RunRead.model_validate(r) for r in items], limit=limit, offset=offset, total=total
    )
