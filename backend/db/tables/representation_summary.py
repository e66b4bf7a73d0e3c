"""Cross-run summaries of the ``representation`` benchmark, each stored whole as computed.

The summary task (workers/tasks/representations.py) writes one row per summary; the API serves
the newest (``GET /representations``). Only the newest few are kept.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk


class RepresentationSummary(UuidPk, TimestampMixin, Base):
    __tablename__ = "representation_summary"
    __table_args__ = (Index("ix_representation_summary_created_at", "created_at"),)

    n_runs: Mapped[int]
    # workers.representation_summary.summarize's body: probes, CKA, maps, atlas, novelty
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
