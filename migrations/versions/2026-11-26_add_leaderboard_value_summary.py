"""add leaderboard value summary (sums of metric values, kept by the metric summary triggers)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 09:00:00.000000

``leaderboard_value_summary`` holds, per (benchmark, metric, model, structure set), how many
metric values there are and their sum, with or without a reference, so a board shows the mean
value of metrics that have no reference (NVE drift, speed) without reading the metrics. The
two trigger functions of migration 0007 are replaced by ones that also keep this table: the
insert trigger adds the new rows' aggregate, the rebuild (on a metric update/delete or a
reference edit) recomputes it under the same EXCLUSIVE lock. Metric rows map to benchmark,
model and structure set exactly as in 0007 (metric -> run -> structure).
"""

from collections.abc import Sequence
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _migration_0007() -> ModuleType:
    """The migration that made the trigger functions (its SQL fragments, its bodies)."""
    path = Path(__file__).with_name("2026-11-25_add_leaderboard_summaries_and_read_indexes.py")
    spec = spec_from_file_location("_migration_0007_leaderboard_summaries", path)
    assert spec is not None
    assert spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_M7 = _migration_0007()

_KEY = "benchmark_id, name, mlip_model_id, structure_set_id"
_VALUE_COLS = f"{_KEY}, n, sum_value"
# The aggregate of a set of metric rows `m` (the new ones, or all of them), in key order.
_VALUE_AGG = """
    SELECT r.benchmark_id, m.name, r.mlip_model_id, st.structure_set_id, count(*), sum(m.value)
    FROM {source} m
    JOIN run r ON r.id = m.run_id
    JOIN structure st ON st.id = r.structure_id
    GROUP BY r.benchmark_id, m.name, r.mlip_model_id, st.structure_set_id
    ORDER BY 1, 2, 3, 4
"""

INSERTED = f"""
CREATE OR REPLACE FUNCTION leaderboard_metric_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leaderboard_metric_summary AS s ({_M7._METRIC_COLS})
    {_M7._METRIC_AGG.format(source="new_rows")}
    ON CONFLICT (benchmark_id, level_of_theory, name, mlip_model_id, structure_set_id)
    DO UPDATE SET n = s.n + excluded.n,
                  sum_abs_error = s.sum_abs_error + excluded.sum_abs_error,
                  sum_abs_rel_error = s.sum_abs_rel_error + excluded.sum_abs_rel_error;
    INSERT INTO leaderboard_flag_summary AS f ({_M7._FLAG_COLS})
    {_M7._FLAG_AGG_NEW}
    ON CONFLICT (benchmark_id, mlip_model_id, structure_set_id)
    DO UPDATE SET n_flagged = f.n_flagged + excluded.n_flagged;
    INSERT INTO leaderboard_value_summary AS v ({_VALUE_COLS})
    {_VALUE_AGG.format(source="new_rows")}
    ON CONFLICT ({_KEY})
    DO UPDATE SET n = v.n + excluded.n, sum_value = v.sum_value + excluded.sum_value;
    RETURN NULL;
END $$;
"""

REBUILD = f"""
CREATE OR REPLACE FUNCTION leaderboard_summaries_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait (their trigger needs ROW EXCLUSIVE), so no delta is lost or counted twice.
    LOCK TABLE leaderboard_metric_summary, leaderboard_flag_summary, leaderboard_value_summary
        IN EXCLUSIVE MODE;
    DELETE FROM leaderboard_metric_summary;
    DELETE FROM leaderboard_flag_summary;
    DELETE FROM leaderboard_value_summary;
    INSERT INTO leaderboard_metric_summary ({_M7._METRIC_COLS})
    {_M7._METRIC_AGG.format(source="metric")};
    INSERT INTO leaderboard_flag_summary ({_M7._FLAG_COLS}) {_M7._FLAG_AGG_ALL};
    INSERT INTO leaderboard_value_summary ({_VALUE_COLS}) {_VALUE_AGG.format(source="metric")};
    RETURN NULL;
END $$;
"""


def _or_replace(function: str) -> str:
    return function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


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
    op.execute(INSERTED)
    op.execute(REBUILD)
    # Metrics written before this migration.
    op.execute(f"INSERT INTO {table} ({_VALUE_COLS}) {_VALUE_AGG.format(source='metric')}")


def downgrade() -> None:
    op.execute(_or_replace(_M7.REBUILD))
    op.execute(_or_replace(_M7.INSERTED))
    op.drop_table("leaderboard_value_summary")
