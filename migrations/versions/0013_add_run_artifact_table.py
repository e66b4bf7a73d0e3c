"""add run_artifact table (files a run produced, such as trajectories, in the artifact store)

Revision ID: 0013_add_run_artifact_table
Revises: 0012_add_value_summary
Create Date: 2026-11-26 10:00:00.000000

One row per (run, name); the file lives in the artifact store under ``key`` (store-relative),
with its sha256, size and number of frames. Rows go with their run (ON DELETE CASCADE).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_add_run_artifact_table"
down_revision: str | None = "0012_add_value_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_artifact",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("n_frames", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_run_artifact_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_artifact")),
        sa.UniqueConstraint("run_id", "name", name=op.f("uq_run_artifact_run_id_name")),
    )


def downgrade() -> None:
    op.drop_table("run_artifact")
