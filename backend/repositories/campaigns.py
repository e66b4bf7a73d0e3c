"""SQL for campaigns and the runs they link to."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.models import Campaign, CampaignRun, Run, RunStatus


def add_campaign(session: Session, **fields: Any) -> Campaign:
    campaign = Campaign(**fields)
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, campaign_id: uuid.UUID) -> Campaign | None:
    return session.get(Campaign, campaign_id)


def list_campaigns(session: Session, *, limit: int = 50, offset: int = 0) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.created_at.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def link_runs(session: Session, campaign_id: uuid.UUID, run_ids: Iterable[uuid.UUID]) -> None:
    rows = [{"campaign_id": campaign_id, "run_id": run_id} for run_id in run_ids]
    if rows:
        session.execute(insert(CampaignRun).values(rows).on_conflict_do_nothing())


def status_counts(
    session: Session, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[RunStatus, int]]:
    """Run counts per status for each campaign."""
    query = (
        select(CampaignRun.campaign_id, Run.status, func.count())
        .join(Run, Run.id == CampaignRun.run_id)
        .where(CampaignRun.campaign_id.in_(campaign_ids))
        .group_by(CampaignRun.campaign_id, Run.status)
    )
    counts: dict[uuid.UUID, dict[RunStatus, int]] = {cid: {} for cid in campaign_ids}
    for campaign_id, status, n in session.execute(query):
        counts[campaign_id][status] = n
    return counts
