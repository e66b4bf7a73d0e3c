"""SQL for campaigns and the runs they link to."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.tables import Campaign, CampaignRun, MlipModel, Run
from backend.domain.statuses import CampaignStatus, RunStatus
from backend.repositories.runs import Viewer, visible_to


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


def count_campaigns(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Campaign)) or 0


def link_runs(session: Session, campaign_id: uuid.UUID, run_ids: Iterable[uuid.UUID]) -> None:
    rows = [{"campaign_id": campaign_id, "run_id": run_id} for run_id in run_ids]
    if rows:
        session.execute(insert(CampaignRun).on_conflict_do_nothing(), rows)  # see insert_runs


def status_counts(
    session: Session, campaign_ids: list[uuid.UUID], viewer: Viewer
) -> dict[uuid.UUID, dict[RunStatus, int]]:
    """Run counts per status for each campaign, of the runs ``viewer`` may see."""
    query = (
        select(CampaignRun.campaign_id, Run.status, func.count())
        .join(Run, Run.id == CampaignRun.run_id)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .where(CampaignRun.campaign_id.in_(campaign_ids), visible_to(viewer))
        .group_by(CampaignRun.campaign_id, Run.status)
    )
    counts: dict[uuid.UUID, dict[RunStatus, int]] = {cid: {} for cid in campaign_ids}
    for campaign_id, status, n in session.execute(query):
        counts[campaign_id][status] = n
    return counts


def run_ids_query(campaign_id: uuid.UUID, *, failure_classes: list[str] | None = None) -> Any:
    """A query of the campaign's run ids (only those of ``failure_classes`` if given)."""
    query = select(CampaignRun.run_id).where(CampaignRun.campaign_id == campaign_id)
    if failure_classes:
        query = query.join(Run, Run.id == CampaignRun.run_id).where(
            Run.failure_class.in_(failure_classes)
        )
    return query


def cancel_queued_runs(session: Session, campaign_id: uuid.UUID) -> int:
    """Cancel this campaign's queued runs that no other live campaign still wants."""
    still_wanted = (
        select(CampaignRun.run_id)
        .join(Campaign, Campaign.id == CampaignRun.campaign_id)
        .where(CampaignRun.run_id == Run.id, Campaign.status != CampaignStatus.CANCELLED)
        .exists()
    )
    mine = select(CampaignRun.run_id).where(CampaignRun.campaign_id == campaign_id)
    stmt = (
        update(Run)
        .where(Run.id.in_(mine), Run.status == RunStatus.QUEUED, ~still_wanted)
        .values(
            status=RunStatus.CANCELLED,
            failure_class="cancelled",
            failure_message="campaign cancelled before the run started",
            finished_at=func.now(),
        )
        .returning(Run.id)
    )
    return len(session.execute(stmt).all())


def throughput(
    session: Session, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, float]]:
    """Per campaign: runs executed so far and the seconds from the first start to the last end."""
    query = (
        select(
            CampaignRun.campaign_id,
            func.count(),
            func.extract("epoch", func.max(Run.finished_at) - func.min(Run.started_at)),
        )
        .join(Run, Run.id == CampaignRun.run_id)
        .where(
            CampaignRun.campaign_id.in_(campaign_ids),
            Run.started_at.is_not(None),
            Run.finished_at.is_not(None),
        )
        .group_by(CampaignRun.campaign_id)
    )
    return {cid: (n, float(span or 0.0)) for cid, n, span in session.execute(query)}
