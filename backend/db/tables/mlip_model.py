from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk
from backend.domain.statuses import ModelStatus
from shared_kernel.hashing import model_version_hash


class MlipModel(UuidPk, TimestampMixin, Base):
    """A model version: family (adapter), parameters, optional file, and its card.

    What its runs depend on (family, params, file sha256, elements) is hashed into
    ``version_hash``; once sealed (``sealed_at``: approved by an admin's review, or first
    asked for by a campaign) those never change, so every result stays bound to the inputs
    that produced it. A change is a new version (a new row).
    """

    __tablename__ = "mlip_model"
    __table_args__ = (UniqueConstraint("name", "version"),)

    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50), default="1")
    family: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    card: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # None: the family decides at run time; a list: runs outside it are skipped up front.
    elements: Mapped[list[str] | None] = mapped_column(ARRAY(String(3)))
    # Store-relative key of the uploaded file (shared_kernel.artifacts), never a host path.
    artifact_key: Mapped[str | None] = mapped_column(String(500))
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    is_baseline: Mapped[bool] = mapped_column(default=False)
    # shared_kernel.hashing.model_version_hash of family, params, artifact_sha256 and elements.
    version_hash: Mapped[str] = mapped_column(String(64), default=lambda ctx: _inserted_hash(ctx))
    # From its review's approval or its first campaign on, the inputs above never change.
    sealed_at: Mapped[datetime | None]
    # The adapter's package versions, pinned by the first worker that runs this version; a
    # worker with other versions refuses its runs (failure class environment_mismatch).
    packages: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    # Set by an admin only: the uploaded file may then be unpickled with arbitrary code
    # execution (torch.load(weights_only=False)); reset whenever a new file is uploaded.
    is_trusted: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[ModelStatus] = mapped_column(
        Enum(ModelStatus, name="model_status", values_callable=lambda e: [m.value for m in e]),
        default=ModelStatus.PENDING,
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # The uploaded training set (extxyz), summarized by the platform, not by the author.
    training_set_key: Mapped[str | None] = mapped_column(String(500))
    training_set_sha256: Mapped[str | None] = mapped_column(String(64))
    training_n_structures: Mapped[int | None]
    training_element_counts: Mapped[dict[str, int] | None] = mapped_column(JSONB)


def _inserted_hash(context: Any) -> str:
    """The version hash of a row being inserted without one (the services always set it)."""
    row = context.get_current_parameters()
    return model_version_hash(
        row["family"], row.get("params") or {}, row.get("artifact_sha256"), row.get("elements")
    )


class TrainingStructureHash(Base):
    """The content hash of one structure of a model's uploaded training set (leakage check)."""

    __tablename__ = "training_structure_hash"
    __table_args__ = (
        Index(
            "ix_training_structure_hash_mlip_model_id_fingerprint_key",
            "mlip_model_id",
            "fingerprint_key",
        ),
    )

    mlip_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mlip_model.id", ondelete="CASCADE"), primary_key=True
    )
    # Same hash as structure.content_hash: sha256 of the structure's ASE JSON.
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    # The structure's fingerprint (workers.fingerprints), compared with structure.fingerprint.
    fingerprint_key: Mapped[str | None] = mapped_column(String(200))
    fingerprint: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
