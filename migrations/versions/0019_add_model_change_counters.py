"""add leaderboard_model_version: a change counter per benchmark and model, kept by triggers

Revision ID: 0019_add_model_change_counters
Revises: 0018_add_metric_benchmark_id
Create Date: 2026-12-04 19:00:00.000000

The benchmark's counter (0011) says that a board changed, not where: after one result lands
a board was read again in full (0.24 s at 10^6 metric rows). The same triggers now also set a
counter per (benchmark, model) pair a statement touched, from the same sequence, so a board
reads again only the models whose counter moved (backend/services/board_rows.py) and keeps
the others' numbers. Writes that may change every board (models, references, structures,
structure sets, metric edits, a truncated run table) set every pair's counter.

No foreign keys: the run triggers upsert a pair while cascaded deletes remove runs, and a
stale pair (a deleted model's) is never read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import leaderboard_sql as sql

revision: str = "0019_add_model_change_counters"
down_revision: str | None = "0018_add_metric_benchmark_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Writers wait while the table is filled and the functions replaced, so none is missed.
    op.execute("LOCK TABLE run, metric IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "leaderboard_model_version",
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("mlip_model_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("benchmark_id", "mlip_model_id"),
    )
    op.execute(sql.MODEL_VERSION_FILL)
    for function in sql.MODEL_VERSION_FUNCTIONS:
        op.execute(function)


def downgrade() -> None:
    for function in (
        sql.RUN_INSERTED,
        sql.RUN_UPDATED,
        sql.RUN_DELETED,
        sql.RUN_TRUNCATED,
        sql.METRIC_BUMP,
        sql.BUMP_ALL,
    ):
        op.execute(sql.or_replace(function))
    op.drop_table("leaderboard_model_version")
