"""drop the leaderboard summary tables no board reads; the run triggers keep only the counters

Revision ID: 0021_drop_unread_summaries
Revises: 0020_add_structure_space_group
Create Date: 2026-12-05 10:30:00.000000

Boards read their protocol's runs and metrics (daec691), yet every claim, result, launch and
metric edit still kept four summary tables in the writer's transaction (the error, flag and
value sums of 0005/0012, the run counts of 0011): about 0.5 ms of each result's 2 ms on the
server. The tables, the metric summary triggers and their functions are dropped; the run
functions keep setting the change counters as before (``migrations/counters_sql.py``). The
downgrade makes the tables, functions and triggers of 0020 again and fills the tables from
the rows, as the migrations that added them did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import counters_sql, leaderboard_sql as sql

revision: str = "0021_drop_unread_summaries"
down_revision: str | None = "0020_add_structure_space_group"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Writers wait while the functions change, so none sees a function without its table.
    op.execute("LOCK TABLE run, metric, reference IN SHARE ROW EXCLUSIVE MODE")
    for trigger in reversed(sql.METRIC_SUMMARY_TRIGGERS):
        op.execute(trigger.drop)
    for function in counters_sql.SUMMARY_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}()")
    for function in counters_sql.RUN_COUNTER_FUNCTIONS:
        op.execute(function)
    for table in counters_sql.SUMMARY_TABLES:
        op.drop_table(table)


def downgrade() -> None:
    op.execute("LOCK TABLE run, metric, reference IN SHARE ROW EXCLUSIVE MODE")
    _table(
        "leaderboard_metric_summary",
        ("benchmark_id", "level_of_theory", "name", "mlip_model_id", "structure_set_id"),
        sa.Column("level_of_theory", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sum_abs_error", sa.Float(), nullable=False),
        sa.Column("sum_abs_rel_error", sa.Float(), nullable=False),
    )
    _table(
        "leaderboard_flag_summary",
        ("benchmark_id", "mlip_model_id", "structure_set_id"),
        sa.Column("n_flagged", sa.Integer(), nullable=False),
    )
    _table(
        "leaderboard_run_summary",
        ("benchmark_id", "mlip_model_id", "structure_set_id", "status"),
        sa.Column("status", postgresql.ENUM(name="run_status", create_type=False), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    _table(
        "leaderboard_value_summary",
        ("benchmark_id", "name", "mlip_model_id", "structure_set_id"),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sum_value", sa.Float(), nullable=False),
    )
    op.execute(sql.METRIC_INSERTED_V2)
    op.execute(sql.SUMMARIES_REBUILD_V2)
    for trigger in sql.METRIC_SUMMARY_TRIGGERS:
        op.execute(trigger.create)
    for function in sql.MODEL_VERSION_FUNCTIONS:  # the 0019 bodies (summaries and counters)
        op.execute(function)
    for fill in (
        sql.METRIC_SUMMARY_FILL,
        sql.FLAG_SUMMARY_FILL,
        sql.VALUE_SUMMARY_FILL,
        sql.RUN_SUMMARY_FILL,
    ):
        op.execute(fill)


def _table(name: str, key: tuple[str, ...], *columns: sa.Column) -> None:
    """A summary table as its migration made it: the key's ids, ``columns`` (in the order
    the first migration gave them), foreign keys cascading from the three parents."""
    by_name = {c.name: c for c in columns}
    ids = ("benchmark_id", "mlip_model_id", "structure_set_id")
    order = [*key, *(c.name for c in columns if c.name not in key)]
    op.create_table(
        name,
        *(by_name[c] if c in by_name else sa.Column(c, sa.Uuid(), nullable=False) for c in order),
        *(
            sa.ForeignKeyConstraint(
                [column],
                [f"{column.removesuffix('_id')}.id"],
                name=op.f(f"fk_{name}_{column}_{column.removesuffix('_id')}"),
                ondelete="CASCADE",
            )
            for column in ids
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}")),
    )
