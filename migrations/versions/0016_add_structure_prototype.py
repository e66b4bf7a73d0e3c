"""add structure.prototype: the crystal prototype a board can be filtered to

Revision ID: 0016_add_structure_prototype
Revises: 0015_add_user_disabled_at
Create Date: 2026-12-04 00:10:00.000000

- ``structure.prototype``: the ``crystal_structure`` the structure's ASE JSON carries in its
  ``info`` ("fcc", "rocksalt", "zincblende", ...; the built-in sets set it, an uploaded
  extended XYZ may), cut to 50 characters; null when it carries none. A stored generated
  column: every insert path fills it and existing rows get theirs when it is added.
- ``structure_prototype(text)``: reads it. A JSON text Postgres's jsonb cannot hold (a
  ``\u0000`` escape, which a stored label may carry) gives null instead of refusing the row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_add_structure_prototype"
down_revision: str | None = "0015_add_user_disabled_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION structure_prototype(data text) RETURNS varchar
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN left((data::jsonb -> 'info') ->> 'crystal_structure', 50);
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$
"""
PROTOTYPE = "structure_prototype(data)"


def upgrade() -> None:
    op.execute(FUNCTION)
    op.add_column(
        "structure",
        sa.Column("prototype", sa.String(50), sa.Computed(PROTOTYPE, persisted=True)),
    )
    op.create_index("ix_structure_prototype", "structure", ["prototype"])


def downgrade() -> None:
    op.drop_index("ix_structure_prototype", table_name="structure")
    op.drop_column("structure", "prototype")
    op.execute("DROP FUNCTION structure_prototype(text)")
