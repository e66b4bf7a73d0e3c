from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UuidPk


class Reference(UuidPk, TimestampMixin, Base):
    """A reference value (experiment, CCSD(T), DFT) of a material's property, with its source."""

    __tablename__ = "reference"
    __table_args__ = (UniqueConstraint("material", "property", "level_of_theory", "dataset"),)

    material: Mapped[str] = mapped_column(String(200), index=True)
    property: Mapped[str] = mapped_column(String(100))
    value: Mapped[float]
    unit: Mapped[str] = mapped_column(String(40))
    uncertainty: Mapped[float | None]
    level_of_theory: Mapped[str] = mapped_column(String(50))
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source: Mapped[str] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(String(100))
