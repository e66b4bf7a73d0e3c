"""add user.disabled_at: an admin disables a user, whose tokens stop at once

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 10:00:00.000000

- ``user.disabled_at``: when an admin disabled the user (null: enabled). Authentication refuses
  every token of a disabled user; enabling the user makes the unrevoked ones work again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("user", "disabled_at")
