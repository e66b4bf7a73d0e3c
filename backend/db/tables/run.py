from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Enum,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk
from backend.domain.statuses import RunStatus


class Run(UuidPk, TimestampMixin, Base):
    """One model on one benchmark version on one structure with one parameter set."""

    __tablename__ = "run"
    __table_args__ = (
        # The run key: one model version (id and the hash of its inputs), one benchmark
        # version, one input, one parameter set.
        UniqueConstraint(
            "mlip_model_id",
            "model_hash",
            "benchmark_id",
            "structure_id",
            "params_hash",
            name="uq_run_key",
        ),
        # Leaderboard reads (migration 0005_add_leaderboard_summaries): status counts per model
        # of one benchmark as an index-only scan, and the newest result of a benchmark.
        Index(
            "ix_run_benchmark_id_mlip_model_id_status", "benchmark_id", "mlip_model_id", "status"
        ),
        Index("ix_run_benchmark_id_finished_at", "benchmark_id", "finished_at"),
    )

    mlip_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mlip_model.id", ondelete="CASCADE"), index=True
    )
    # The model's version_hash when the run was created; the worker refuses a model whose
    # inputs no longer hash to it (failure class model_changed).
    model_hash: Mapped[str] = mapped_column(String(64))
    benchmark_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("benchmark.id"), index=True)
    structure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("structure.id"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    params_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[RunStatus] = mapped_column(
        Enum(RunStatus, name="run_status", values_callable=lambda e: [m.value for m in e]),
        default=RunStatus.QUEUED,
        index=True,
    )
    attempt: Mapped[int] = mapped_column(default=0)
    # Attempts made before the last rerun: the attempt cap counts the attempts above it.
    attempt_base: Mapped[int] = mapped_column(default=0, server_default="0")
    failure_class: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    # Renewed by the executing worker's heartbeat; an expired lease means the worker died and
    # the run may be claimed again (with a higher attempt number).
    lease_expires_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    wall_s: Mapped[float | None]
    cpu_s: Mapped[float | None]
    peak_memory_mb: Mapped[float | None]
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class RunAttempt(UuidPk, TimestampMixin, Base):
    """An earlier attempt of a run: the outcome a rerun replaced, a hard time limit kill, or
    an attempt released because its worker stalled."""

    __tablename__ = "run_attempt"
    __table_args__ = (UniqueConstraint("run_id", "attempt"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    failure_class: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    wall_s: Mapped[float | None]


class Metric(UuidPk, Base):
    __tablename__ = "metric"
    __table_args__ = (
        UniqueConstraint("run_id", "name"),
        # A board's metric rows in one range, its raised flags in another (migration
        # 0018_add_metric_benchmark_id).
        Index("ix_metric_benchmark_id_name", "benchmark_id", "name"),
        Index(
            "ix_metric_benchmark_id_flagged",
            "benchmark_id",
            postgresql_where=text("name LIKE 'flag\\_%' AND value > 0.5"),
        ),
    )

    # benchmark_id is not read back on insert (loaded when accessed): rows written against an
    # older schema (the migration tests) have no such column
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    #: The run's benchmark, set by a trigger on insert (never by a writer): a copy so a board
    #: finds its metric rows without one probe per run.
    benchmark_id: Mapped[uuid.UUID] = mapped_column(server_default=FetchedValue())
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float]
    unit: Mapped[str] = mapped_column(String(40))
    reference_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reference.id", ondelete="SET NULL")
    )
    error: Mapped[float | None] = mapped_column(Float, doc="value - reference, in the unit")
    rel_error: Mapped[float | None] = mapped_column(
        Float, doc="error / |reference| (dimensionless); null without a reference or if it is 0"
    )


class Series(UuidPk, Base):
    """A curve of a run (E(V), dimer curve, MD trace)."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    x: Mapped[list[float]] = mapped_column(ARRAY(Float))
    y: Mapped[list[float]] = mapped_column(ARRAY(Float))
    x_label: Mapped[str] = mapped_column(String(100))
    x_unit: Mapped[str] = mapped_column(String(40))
    y_label: Mapped[str] = mapped_column(String(100))
    y_unit: Mapped[str] = mapped_column(String(40))
