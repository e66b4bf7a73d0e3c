"""add structure.space_group: the space group of a stored structure, read once at ingestion

Revision ID: 0020_add_structure_space_group
Revises: 0019_add_model_change_counters
Create Date: 2026-12-05 00:50:00.000000

A result is compared only with references of its structure's phase, so its writer needs the
space group of the run's input. Workers read it with spglib on each structure they meet (3-7 ms,
once per structure and worker process: on a campaign of short runs over many structures, about
1.4 ms of every run). Structures now carry it from their upload (the parser that checks them
reads it); 0 means not a periodic crystal, NULL not read (rows stored before this migration, for
which a worker reads it as before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_add_structure_space_group"
down_revision: str | None = "0019_add_model_change_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("structure", sa.Column("space_group", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("structure", "space_group")
