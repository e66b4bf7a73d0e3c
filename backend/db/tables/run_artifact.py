"""Files a run produced (a subsampled MD trajectory, an optimisation path), in the artifact store.

One row per (run, name): a retried run replaces its row. ``key`` is relative to the artifact
store (MLIPM_ARTIFACT_URL), never a host path; ``sha256`` and ``size_bytes`` describe the file
as written, so a reader can verify what it fetched.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk


class RunArtifact(UuidPk, TimestampMixin, Base):
    __tablename__ = "run_artifact"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    media_type: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    n_frames: Mapped[int]
