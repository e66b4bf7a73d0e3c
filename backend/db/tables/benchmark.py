from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk


class Benchmark(UuidPk, TimestampMixin, Base):
    """A benchmark protocol at one version; a protocol change is a new row, never an edit."""

    __tablename__ = "benchmark"
    __table_args__ = (UniqueConstraint("key", "version"),)

    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    default_params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # [{"name", "label", "unit"}]: the metrics a leaderboard shows, compared with references.
    headline_metrics: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)
    # Wall-clock limits of one run; exceeding the soft one fails the run as `timeout`.
    soft_time_limit_s: Mapped[int] = mapped_column(default=600, server_default="600")
    time_limit_s: Mapped[int] = mapped_column(default=660, server_default="660")
