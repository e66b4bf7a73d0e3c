"""store the relative error per metric

``metric.rel_error`` = error / |reference| (dimensionless, the sign of the error), written
with the metric, so that no reader recomputes it. Existing rows are filled from their
reference; a metric without a reference, or whose reference is 0, keeps NULL.

Revision ID: 0007_store_relative_error
Revises: 0006_store_artifact_keys
Create Date: 2026-11-25 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_store_relative_error"
down_revision: str | None = "0006_store_artifact_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('metric', sa.Column('rel_error', sa.Float(), nullable=True))
    op.execute(sa.text(
        "UPDATE metric SET rel_error = metric.error / abs(reference.value) "
        "FROM reference WHERE reference.id = metric.reference_id "
        "AND metric.error IS NOT NULL AND reference.value <> 0"
    ))


def downgrade() -> None:
    op.drop_column('metric', 'rel_error')
