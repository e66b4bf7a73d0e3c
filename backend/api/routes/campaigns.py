from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from backend.api.deps import AdminUser, SessionDep
from backend.schemas.campaigns import CampaignCreate, CampaignRead
from backend.schemas.common import Page
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
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[CampaignRead]:
    """Campaigns, newest first, with progress counts."""
    items = campaigns.list_campaigns(session, limit=limit, offset=offset)
    return Page(items=items, limit=limit, offset=offset)


@router.get("/{campaign_id}", operation_id="campaigns-read_campaign")
def read_campaign(campaign_id: uuid.UUID, session: SessionDep) -> CampaignRead:
    """A campaign with its run counts per status."""
    return campaigns.read_campaign(session, campaign_id)
