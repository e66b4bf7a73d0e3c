"""add structure.space_group: the space group of a built-in structure, read once at bootstrap

Revision ID: 0020_add_structure_space_group
Revises: 0019_add_model_change_counters
Create Date: 2026-12-05 00:50:00.000000

A result is compared only with references of its structure's phase, so its writer needs the
space group of the run's input. Workers read it with spglib on each structure they meet (3-7 ms,
once per structure and worker process: on a campaign of short runs over many structures, about
1.4 ms of every run). The built-in sets' structures now carry it, read by the bootstrap (which
fills it for rows stored before); 0 means not a periodic crystal, NULL not read, for which a
worker reads it as before: uploaded structures, since spglib's time grows with the square of
the atoms (0.2 s at 500 atoms, 12 s at 4,000 for a rattled cell) and an upload may hold 2,000
structures of up to 10,000 atoms.
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
