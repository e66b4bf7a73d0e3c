from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk


class StructureSet(UuidPk, TimestampMixin, Base):
    __tablename__ = "structure_set"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")


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
