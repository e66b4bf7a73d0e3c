"""add the owner of an uploaded structure set

Revision ID: 0010_add_structure_set_owner
Revises: 0009_add_structure_fingerprints
Create Date: 2026-11-25 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_add_structure_set_owner"
down_revision: str | None = "0009_add_structure_fingerprints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: a built-in set (the bootstrap's), which only admins may extend.
    op.add_column("structure_set", sa.Column("owner_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_structure_set_owner_id_user"),
        "structure_set",
        "user",
        ["owner_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_structure_set_owner_id"), "structure_set", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_structure_set_owner_id"), table_name="structure_set")
    op.drop_constraint(op.f("fk_structure_set_owner_id_user"), "structure_set", type_="foreignkey")
    op.drop_column("structure_set", "owner_id")
