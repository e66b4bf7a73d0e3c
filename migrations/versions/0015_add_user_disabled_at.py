"""add user.disabled_at: an admin disables a user, whose tokens stop at once

Revision ID: 0015_add_user_disabled_at
Revises: 0014_bind_runs_to_model_versions
Create Date: 2026-12-04 10:00:00.000000

- ``user.disabled_at``: when an admin disabled the user (null: enabled). Authentication refuses
  every token of a disabled user; enabling the user makes the unrevoked ones work again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_add_user_disabled_at"
down_revision: str | None = "0014_bind_runs_to_model_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("user", "disabled_at")
