"""add model training sets and their structure hashes

Revision ID: 0004_add_model_training_sets
Revises: 0003_add_mlip_model_is_trusted
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_add_model_training_sets"
down_revision: str | None = "0003_add_mlip_model_is_trusted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('mlip_model', sa.Column('training_set_path', sa.String(length=500), nullable=True))
    op.add_column('mlip_model', sa.Column('training_set_sha256', sa.String(length=64), nullable=True))
    op.add_column('mlip_model', sa.Column('training_n_structures', sa.Integer(), nullable=True))
    op.add_column(
        'mlip_model',
        sa.Column('training_element_counts', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_table(
        'training_structure_hash',
        sa.Column('mlip_model_id', sa.Uuid(), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ['mlip_model_id'], ['mlip_model.id'],
            name=op.f('fk_training_structure_hash_mlip_model_id_mlip_model'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('mlip_model_id', 'content_hash', name=op.f('pk_training_structure_hash')),
    )
    op.create_index(
        op.f('ix_training_structure_hash_content_hash'), 'training_structure_hash', ['content_hash'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_training_structure_hash_content_hash'), table_name='training_structure_hash')
    op.drop_table('training_structure_hash')
    op.drop_column('mlip_model', 'training_element_counts')
    op.drop_column('mlip_model', 'training_n_structures')
    op.drop_column('mlip_model', 'training_set_sha256')
    op.drop_column('mlip_model', 'training_set_path')
