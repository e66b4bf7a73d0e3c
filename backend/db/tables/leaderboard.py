"""Leaderboard change counters, set by triggers (their SQL: migrations/leaderboard_sql.py and,
from 0021, migrations/counters_sql.py).

Boards read their protocol's runs and metrics (backend/repositories/boards.py) and derive
their ETags from these counters. The summary tables that triggers kept beside them (error,
flag and value sums, run counts) were read by no board and are dropped by migration
0021_drop_unread_summaries.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base


class LeaderboardVersion(Base):
    """A counter per benchmark, set from a sequence whenever its boards may have changed.

    Bumped by triggers (migration 0011_add_run_status_summary) on run and metric writes of the
    benchmark, and on any write to models, references, structures, structure sets or metric
    edits (every benchmark); boards derive their ETag from it without building themselves.
    """

    __tablename__ = "leaderboard_version"

    benchmark_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(BigInteger)


class LeaderboardModelVersion(Base):
    """A counter per (benchmark, model), set from the benchmark counters' sequence whenever
    that model's boards of the benchmark may have changed (migration
    0019_add_model_change_counters; every pair on writes that may change every board).

    A board reads again only the models whose counter moved since it last read them.
    """

    __tablename__ = "leaderboard_model_version"

    benchmark_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    mlip_model_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
