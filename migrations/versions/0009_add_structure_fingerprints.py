"""add structure fingerprints for leakage matching within a tolerance

Revision ID: 0009_add_structure_fingerprints
Revises: 0008_add_projection_table
Create Date: 2026-11-25 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_add_structure_fingerprints"
down_revision: str | None = "0008_add_projection_table"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('structure', 'training_structure_hash')


def upgrade() -> None:
    # Rows written before this revision keep NULL and are matched by content hash only;
    # the bootstrap fills the catalog's fingerprints on its next run.
    for table in TABLES:
        op.add_column(table, sa.Column('fingerprint_key', sa.String(length=200), nullable=True))
        op.add_column(
            table, sa.Column('fingerprint', postgresql.ARRAY(sa.Float()), nullable=True)
        )
    op.create_index(
        op.f('ix_structure_fingerprint_key'), 'structure', ['fingerprint_key'], unique=False
    )
    op.create_index(
        op.f('ix_training_structure_hash_mlip_model_id_fingerprint_key'),
        'training_structure_hash',
        ['mlip_model_id', 'fingerprint_key'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f('ix_training_structure_hash_mlip_model_id_fingerprint_key'),
        table_name='training_structure_hash',
    )
    op.drop_index(op.f('ix_structure_fingerprint_key'), table_name='structure')
    for table in TABLES:
        op.drop_column(table, 'fingerprint')
        op.drop_column(table, 'fingerprint_key')
