"""add mlip_model is_trusted

Revision ID: 0003_add_mlip_model_is_trusted
Revises: 0002_add_run_leases_and_limits
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003_add_mlip_model_is_trusted"
down_revision: str | None = "0002_add_run_leases_and_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('mlip_model', sa.Column('is_trusted', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column('mlip_model', 'is_trusted')
