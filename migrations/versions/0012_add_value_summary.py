"""add leaderboard value summary (sums of metric values, kept by the metric summary triggers)

Revision ID: 0012_add_value_summary
Revises: 0011_add_run_status_summary
Create Date: 2026-11-26 09:00:00.000000

``leaderboard_value_summary`` holds, per (benchmark, metric, model, structure set), how many
metric values there are and their sum, with or without a reference, so a board shows the mean
value of metrics that have no reference (NVE drift, speed) without reading the metrics. The
two trigger functions of migration 0005_add_leaderboard_summaries are replaced by ones that
also keep this table (``_V2`` in ``migrations/leaderboard_sql.py``): the insert trigger adds the
new rows' aggregate, the rebuild (on a metric update/delete or a reference edit) recomputes it
under the same EXCLUSIVE lock. Metric rows map to benchmark, model and structure set exactly as
in 0005 (metric -> run -> structure).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import leaderboard_sql as sql

revision: str = "0012_add_value_summary"
down_revision: str | None = "0011_add_run_status_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = "leaderboard_value_summary"
    op.create_table(
        table,
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("mlip_model_id", sa.Uuid(), nullable=False),
        sa.Column("structure_set_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sum_value", sa.Float(), nullable=False),
        *(
            sa.ForeignKeyConstraint(
                [column],
                [f"{target}.id"],
                name=op.f(f"fk_{table}_{column}_{target}"),
                ondelete="CASCADE",
            )
            for column, target in (
                ("benchmark_id", "benchmark"),
                ("mlip_model_id", "mlip_model"),
                ("structure_set_id", "structure_set"),
            )
        ),
        sa.PrimaryKeyConstraint(
            "benchmark_id",
            "name",
            "mlip_model_id",
            "structure_set_id",
            name=op.f("pk_leaderboard_value_summary"),
        ),
    )
    # Writers wait while the functions change and the table is filled, so none is missed.
    op.execute("LOCK TABLE metric IN SHARE ROW EXCLUSIVE MODE")
    op.execute(sql.METRIC_INSERTED_V2)
    op.execute(sql.SUMMARIES_REBUILD_V2)
    # Metrics written before this migration.
    op.execute(sql.VALUE_SUMMARY_FILL)


def downgrade() -> None:
    op.execute(sql.or_replace(sql.SUMMARIES_REBUILD_V1))
    op.execute(sql.or_replace(sql.METRIC_INSERTED_V1))
    op.drop_table("leaderboard_value_summary")
