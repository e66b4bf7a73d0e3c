"""Stored projections of a run: an energy plane or a 2-D map of configurations.

A landscape run writes one ``plane`` row (grid, projected path, minima, curvatures, the plane's
basis and hash) and one ``map`` row per projection method (coordinates, colours, descriptor and
projection settings), so the dashboard reads them and never recomputes anything.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk


class Projection(UuidPk, TimestampMixin, Base):
    __tablename__ = "projection"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    method: Mapped[str] = mapped_column(String(50))
    # For a plane, settings["plane_hash"] identifies the configurations: equal hash, same grid.
    plane_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
