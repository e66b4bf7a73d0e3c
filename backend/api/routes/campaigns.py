from __future__ import annotations

import uuid
from enum import StrEnum

from fastapi import APIRouter, Query

from backend.api.deps import AdminUser, OptionalUser, SessionDep
from backend.domain.statuses import RunStatus
from backend.schemas.campaigns import CampaignCreate, CampaignRead
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.schemas.runs import RunRead
from backend.services import campaigns, runs
from backend.services.campaigns import RERUNNABLE
from shared_kernel.errors import InvalidInput
from shared_kernel.failures import FailureClass

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


def _listing(values: tuple[StrEnum, ...], *, empty: bool = False) -> str:
    """The pattern of a comma-separated list of ``values`` (``empty``: or nothing)."""
    one = f"[ ]*(?:{'|'.join(v.value for v in values)})[ ]*"
    listing = f"{one}(?:,{one})*"
    return f"^(?:{listing})?$" if empty else f"^{listing}$"


def _items(text: str, values: tuple[StrEnum, ...], *, what: str, where: str) -> list[str]:
    """The items of a comma-separated list, each one of ``values`` (422 naming the first that
    is not)."""
    items = [part.strip(" ") for part in text.split(",")]
    known = {v.value for v in values}
    for i, item in enumerate(items):
        if item not in known:
            raise InvalidInput(
                f"unknown {what} {item!r} (give {', '.join(sorted(known))})",
                where=f"{where}[{i}]",
            )
    return items


@router.post("", status_code=201, operation_id="campaigns-create_campaign")
def create_campaign(body: CampaignCreate, session: SessionDep, user: AdminUser) -> CampaignRead:
    """Expand models x benchmarks x structure sets into runs and queue them (admins only).

    A run is one model version on one benchmark version, input and parameter set: runs that
    exist are reused (``reused`` counts them by status), except cancelled ones, which are
    queued again (``requeued``).
    """
    launch = campaigns.launch_campaign(session, body, owner=user)
    session.flush()
    read = campaigns.read_campaign(session, launch.campaign.id)
    return read.model_copy(update={"reused": launch.reused, "requeued": launch.requeued})


@router.post("/{campaign_id}/rerun", operation_id="campaigns-rerun_campaign")
def rerun_campaign(
    campaign_id: uuid.UUID,
    session: SessionDep,
    user: AdminUser,
    status: str = Query(
        "failed",
        description="comma-separated statuses to run again: failed, cancelled",
        max_length=100,
        json_schema_extra={"pattern": _listing(RERUNNABLE)},  # checked below, naming the item
    ),
    failure_class: str | None = Query(
        None,
        description="comma-separated failure classes (e.g. timeout,worker_lost); default all",
        max_length=500,
        json_schema_extra={"pattern": _listing(tuple(FailureClass), empty=True)},
    ),
) -> CampaignRead:
    """Run the campaign's failed or cancelled runs again (admins only), e.g. after approving
    or trusting a model. Earlier attempts stay in each run's history; a cancelled campaign
    runs again."""
    statuses = []
    for i, name in enumerate(part.strip(" ") for part in status.split(",")):
        try:
            statuses.append(RunStatus(name))
        except ValueError:
            raise InvalidInput(
                f"unknown status {name!r} (give failed and/or cancelled)",
                where=f"query.status[{i}]",
            ) from None
    classes = None
    if failure_class:
        where = "query.failure_class"
        classes = _items(failure_class, tuple(FailureClass), what="failure class", where=where)
    requeued = campaigns.rerun(session, campaign_id, statuses=statuses, failure_classes=classes)
    session.flush()
    return campaigns.read_campaign(session, campaign_id).model_copy(update={"requeued": requeued})


@router.get("", operation_id="campaigns-list_campaigns")
def list_campaigns(
    session: SessionDep,
    user: OptionalUser,
    limit: int = Query(50, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[CampaignRead]:
    """Campaigns, newest first, with progress counts (of the runs the caller may see)."""
    items, total = campaigns.list_campaigns(
        session, limit=limit, offset=offset, viewer=runs.viewer_of(user)
    )
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/{campaign_id}", operation_id="campaigns-read_campaign")
def read_campaign(campaign_id: uuid.UUID, session: SessionDep, user: OptionalUser) -> CampaignRead:
    """A campaign with its run counts per status (of the runs the caller may see: a run of a
    model that is not approved counts for its owner and admins only)."""
    return campaigns.read_campaign(session, campaign_id, viewer=runs.viewer_of(user))


@router.post("/{campaign_id}/cancel", operation_id="campaigns-cancel_campaign")
def cancel_campaign(campaign_id: uuid.UUID, session: SessionDep, user: AdminUser) -> CampaignRead:
    """Cancel queued runs now; running ones stop at their next step (admins only)."""
    return campaigns.cancel_campaign(session, campaign_id)


@router.get("/{campaign_id}/runs", operation_id="campaigns-list_campaign_runs")
def list_campaign_runs(
    campaign_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUser,
    status: RunStatus | None = Query(None, description="only runs in this state"),
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[RunRead]:
    """The campaign's runs, newest finished first, with failure class and message (runs of a
    model that is not approved: for its owner and admins only)."""
    items, total = runs.list_campaign_runs(
        session, campaign_id, viewer=runs.viewer_of(user), status=status, limit=limit,
        offset=offset,
    )  # fmt: skip
    return Page(items=items, limit=limit, offset=offset, total=total)
