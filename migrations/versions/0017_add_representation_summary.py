"""add representation_summary: stored cross-run summaries of the representation benchmark

Revision ID: 0017_add_representation_summary
Revises: 0016_add_structure_prototype
Create Date: 2026-12-04 12:00:00.000000

- ``representation_summary``: one row per summary the summary task computed (probes, CKA,
  maps, failure atlas, novelty of every approved model's latest ``representation`` runs),
  its body stored whole as JSONB and served as is; ``created_at`` indexed for the newest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_add_representation_summary"
down_revision: str | None = "0016_add_structure_prototype"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "representation_summary",
        sa.Column("n_runs", sa.Integer(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_representation_summary")),
    )
    op.create_index(
        "ix_representation_summary_created_at",
        "representation_summary",
        ["created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_representation_summary_created_at", table_name="representation_summary")
    op.drop_table("representation_summary")
