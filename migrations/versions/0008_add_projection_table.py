"""add projection table (landscape planes and maps of a run)

Revision ID: 0008_add_projection_table
Revises: 0007_store_relative_error
Create Date: 2026-11-25 17:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_add_projection_table"
down_revision: str | None = "0007_store_relative_error"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'projection',
        sa.Column('run_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('method', sa.String(length=50), nullable=False),
        sa.Column('plane_hash', sa.String(length=64), nullable=True),
        sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['run_id'], ['run.id'], name=op.f('fk_projection_run_id_run'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_projection')),
        sa.UniqueConstraint('run_id', 'name', name=op.f('uq_projection_run_id_name')),
    )
    op.create_index(op.f('ix_projection_run_id'), 'projection', ['run_id'], unique=False)
    op.create_index(op.f('ix_projection_kind'), 'projection', ['kind'], unique=False)
    op.create_index(op.f('ix_projection_plane_hash'), 'projection', ['plane_hash'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_projection_plane_hash'), table_name='projection')
    op.drop_index(op.f('ix_projection_kind'), table_name='projection')
    op.drop_index(op.f('ix_projection_run_id'), table_name='projection')
    op.drop_table('projection')
