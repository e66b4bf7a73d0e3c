from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk
from backend.domain.statuses import RunStatus


class Run(UuidPk, TimestampMixin, Base):
    """One model on one benchmark version on one structure with one parameter set."""

    __tablename__ = "run"
    __table_args__ = (
        UniqueConstraint("mlip_model_id", "benchmark_id", "structure_id", "params_hash"),
        # Leaderboard reads (migration 0007): status counts per model of one benchmark as an
        # index-only scan, and the newest result of a benchmark.
        Index(
            "ix_run_benchmark_id_mlip_model_id_status", "benchmark_id", "mlip_model_id", "status"
        ),
        Index("ix_run_benchmark_id_finished_at", "benchmark_id", "finished_at"),
    )

    mlip_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mlip_model.id", ondelete="CASCADE"), index=True
    )
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


class Metric(UuidPk, Base):
    __tablename__ = "metric"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
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
