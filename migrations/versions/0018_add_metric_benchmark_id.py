"""add metric.benchmark_id: the run's benchmark on each metric row, kept by triggers

Revision ID: 0018_add_metric_benchmark_id
Revises: 0017_add_representation_summary
Create Date: 2026-12-04 16:20:00.000000

A board reads the rank and headline metrics of every run of its protocol. Found through the
run, that is one index probe per run (about 7 us each, 0.13 s for the 2x10^4 runs of a board
at 10^6 metric rows); with the benchmark on the metric row it is one range of
``ix_metric_benchmark_id_name`` (and of the partial ``ix_metric_benchmark_id_flagged`` for the
raised quality flags). A BEFORE INSERT trigger copies the run's benchmark (a writer never sets
it) and a run moved to another benchmark moves its metrics
(``migrations/metric_benchmark_sql.py``).

``st_run_benchmark_id_params_hash`` tells the planner that a run's params hash follows from its
benchmark: without it a protocol's runs are estimated 5-100x too few and the board's join runs
as one metric probe per run again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import metric_benchmark_sql as sql

revision: str = "0018_add_metric_benchmark_id"
down_revision: str | None = "0017_add_representation_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGGED = "name LIKE 'flag\\_%' AND value > 0.5"


def upgrade() -> None:
    # Writers wait while the column is filled and the trigger installed, so none is missed.
    op.execute("LOCK TABLE metric IN SHARE ROW EXCLUSIVE MODE")
    op.add_column("metric", sa.Column("benchmark_id", sa.Uuid(), nullable=True))
    for function in sql.METRIC_BENCHMARK_FUNCTIONS:
        op.execute(function)
    for trigger in sql.METRIC_BENCHMARK_TRIGGERS:
        op.execute(trigger.create)
    # The fill changes no metric value: the summaries' update triggers need not run for it.
    op.execute("ALTER TABLE metric DISABLE TRIGGER metric_summary_rebuild")
    op.execute(sql.METRIC_BENCHMARK_FILL)
    op.execute("ALTER TABLE metric ENABLE TRIGGER metric_summary_rebuild")
    op.alter_column("metric", "benchmark_id", nullable=False)
    op.create_index("ix_metric_benchmark_id_name", "metric", ["benchmark_id", "name"])
    op.create_index(
        "ix_metric_benchmark_id_flagged",
        "metric",
        ["benchmark_id"],
        postgresql_where=sa.text(FLAGGED),
    )
    op.execute(
        "CREATE STATISTICS st_run_benchmark_id_params_hash (dependencies) "
        "ON benchmark_id, params_hash FROM run"
    )
    op.execute("ANALYZE run")


def downgrade() -> None:
    op.execute("DROP STATISTICS st_run_benchmark_id_params_hash")
    op.drop_index("ix_metric_benchmark_id_flagged", table_name="metric")
    op.drop_index("ix_metric_benchmark_id_name", table_name="metric")
    for trigger in reversed(sql.METRIC_BENCHMARK_TRIGGERS):
        op.execute(trigger.drop)
    for function in reversed(sql.METRIC_BENCHMARK_FUNCTIONS):
        name = function.split("FUNCTION ", 1)[1].split("(", 1)[0]
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_column("metric", "benchmark_id")
