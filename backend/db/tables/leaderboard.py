"""Leaderboard summary tables and change counters, kept up to date by triggers (their SQL:
migrations/leaderboard_sql.py).

Every metric insert adds its absolute and relative error to one row per
(benchmark, level of theory, metric, model, structure set), in the same transaction, whatever
wrote it; an edit or delete of a metric or reference rebuilds them.

Boards no longer read the sums: a board is one protocol (params hash) and ranks models on the
same materials with bootstrap intervals, which needs each material's number
(backend/repositories/boards.py). The sums are still maintained and tested against a live
aggregate; dropping them with their triggers is left to the migration clean-up (issue 18).
``LeaderboardVersion`` is what boards use: their ETags derive from it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base
from backend.domain.statuses import RunStatus


class LeaderboardMetricSummary(Base):
    """Errors of one model's metric against one level of theory, summed over a structure set."""

    __tablename__ = "leaderboard_metric_summary"

    benchmark_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), primary_key=True
    )
    level_of_theory: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    mlip_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mlip_model.id", ondelete="CASCADE"), primary_key=True
    )
    structure_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("structure_set.id", ondelete="CASCADE"), primary_key=True
    )
    n: Mapped[int] = mapped_column(doc="metrics compared (reference value non-zero)")
    sum_abs_error: Mapped[float] = mapped_column(doc="sum of |value - reference|, in the unit")
    sum_abs_rel_error: Mapped[float] = mapped_column(doc="sum of |value - reference| / |reference|")


class LeaderboardValueSummary(Base):
    """Values of one model's metric, with or without a reference, summed over a structure set.

    Kept by the same triggers as the error sums (migration 0012_add_value_summary), so a board
    shows the mean value of metrics that have no reference (NVE drift, speed) without reading
    the metrics.
    """

    __tablename__ = "leaderboard_value_summary"

    benchmark_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    mlip_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mlip_model.id", ondelete="CASCADE"), primary_key=True
    )
    structure_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("structure_set.id", ondelete="CASCADE"), primary_key=True
    )
    n: Mapped[int] = mapped_column(doc="metric values")
    sum_value: Mapped[float] = mapped_column(doc="sum of the values, in the metric's unit")


class LeaderboardFlagSummary(Base):
    """Runs of one model on one benchmark and structure set with a quality flag raised."""

    __tablename__ = "leaderboard_flag_summary"

    benchmark_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), primary_key=True
    )
    mlip_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mlip_model.id", ondelete="CASCADE"), primary_key=True
    )
    structure_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("structure_set.id", ondelete="CASCADE"), primary_key=True
    )
    n_flagged: Mapped[int]


class LeaderboardRunSummary(Base):
    """Runs of one model on one benchmark and structure set in one status (migration
    0011_add_run_status_summary).

    Kept by statement triggers on run (insert, update of status/model/benchmark/structure,
    delete) in the writer's transaction; rows may reach n = 0 and stay.
    """

    __tablename__ = "leaderboard_run_summary"

    benchmark_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), primary_key=True
    )
    mlip_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mlip_model.id", ondelete="CASCADE"), primary_key=True
    )
    structure_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("structure_set.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[RunStatus] = mapped_column(
        Enum(
            RunStatus,
            name="run_status",
            values_callable=lambda e: [m.value for m in e],
            create_type=False,
        ),
        primary_key=True,
    )
    n: Mapped[int]


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
