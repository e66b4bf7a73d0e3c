from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk
from backend.domain.statuses import CampaignStatus


class Campaign(UuidPk, TimestampMixin, Base):
    """Models x benchmarks x structure sets; its runs are linked through campaign_run."""

    __tablename__ = "campaign"

    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(
            CampaignStatus, name="campaign_status", values_callable=lambda e: [m.value for m in e]
        ),
        default=CampaignStatus.RUNNING,
    )
    n_reused: Mapped[int] = mapped_column(default=0)
    cancelled_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class CampaignRun(Base):
    """A run belongs to every campaign that asked for it: identical work is shared, not redone."""

    __tablename__ = "campaign_run"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("run.id", ondelete="CASCADE"), primary_key=True, index=True
    )
