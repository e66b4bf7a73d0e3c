"""add run status summary and leaderboard versions (kept by triggers on run, metric, ...)

Revision ID: 0011_add_run_status_summary
Revises: 0010_add_structure_set_owner
Create Date: 2026-11-25 17:40:00.000000

``leaderboard_run_summary`` counts runs per (benchmark, model, structure set, status); statement
triggers on ``run`` add the insert/update/delete deltas in the writer's transaction (grouped,
in key order, so a bulk COPY costs one aggregate and two writers never lock rows in opposite
orders). Deletes only decrement existing rows (a model delete cascades to its runs and to its
summary rows in either order, so an upsert there could hit a deleted model).

``leaderboard_version`` holds one counter per benchmark, set from one sequence whenever
anything a board shows may have changed: its runs or metrics (per benchmark), or models,
references, structures, structure sets and metric edits (every benchmark). A board's ETag is
(benchmark id, counter, query), so a 304 is answered before the board is built. The functions
and triggers are in ``migrations/leaderboard_sql.py``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import leaderboard_sql as sql

revision: str = "0011_add_run_status_summary"
down_revision: str | None = "0010_add_structure_set_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = "leaderboard_run_summary"
    op.create_table(
        table,
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("mlip_model_id", sa.Uuid(), nullable=False),
        sa.Column("structure_set_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM(name="run_status", create_type=False),
            nullable=False,
        ),
        sa.Column("n", sa.Integer(), nullable=False),
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
            "mlip_model_id",
            "structure_set_id",
            "status",
            name=op.f("pk_leaderboard_run_summary"),
        ),
    )
    op.create_table(
        "leaderboard_version",
        sa.Column("benchmark_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["benchmark_id"],
            ["benchmark.id"],
            name=op.f("fk_leaderboard_version_benchmark_id_benchmark"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("benchmark_id", name=op.f("pk_leaderboard_version")),
    )
    op.execute("CREATE SEQUENCE leaderboard_version_seq")
    for function in sql.RUN_SUMMARY_FUNCTIONS:
        op.execute(function)
    for trigger in sql.RUN_SUMMARY_TRIGGERS:
        op.execute(trigger.create)
    # Runs and benchmarks written before this migration.
    op.execute(sql.RUN_SUMMARY_FILL)
    op.execute(sql.VERSION_FILL)


def downgrade() -> None:
    for trigger in reversed(sql.RUN_SUMMARY_TRIGGERS):
        op.execute(trigger.drop)
    for function in reversed(sql.RUN_SUMMARY_FUNCTIONS):
        name = function.split("FUNCTION ", 1)[1].split("(", 1)[0]
        op.execute(f"DROP FUNCTION {name}()")
    op.execute("DROP SEQUENCE leaderboard_version_seq")
    op.drop_table("leaderboard_version")
    op.drop_table("leaderboard_run_summary")
