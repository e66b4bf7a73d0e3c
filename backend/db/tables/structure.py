from __future__ import annotations

import uuid

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk


class StructureSet(UuidPk, TimestampMixin, Base):
    __tablename__ = "structure_set"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    # Who uploaded the set (may add structures to it); NULL for the built-in sets (admins only).
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )


class Structure(UuidPk, TimestampMixin, Base):
    """One structure, stored losslessly as ASE JSON, with what queries need beside it."""

    __tablename__ = "structure"
    __table_args__ = (
        UniqueConstraint("structure_set_id", "label"),
        Index("ix_structure_elements", "elements", postgresql_using="gin"),
    )

    structure_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("structure_set.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200))
    material: Mapped[str] = mapped_column(String(200), index=True)
    formula: Mapped[str] = mapped_column(String(200))
    elements: Mapped[list[str]] = mapped_column(ARRAY(String(3)))
    n_atoms: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[str] = mapped_column(Text)
    # workers.fingerprints: equal keys and values within a tolerance mean the same structure
    # (leakage check); NULL for rows loaded before the fingerprint existed.
    fingerprint_key: Mapped[str | None] = mapped_column(String(200), index=True)
    fingerprint: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
