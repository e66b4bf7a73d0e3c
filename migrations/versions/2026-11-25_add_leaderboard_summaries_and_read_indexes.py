"""add leaderboard summary tables (kept by triggers on metric and reference) and read indexes

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-25 17:00:00.000000

The summaries are updated in the transaction that writes the metrics (a statement-level
trigger with a transition table, so a bulk COPY costs one aggregate, not one upsert per row);
an UPDATE or DELETE of metrics or an edit of a reference's value rebuilds them under an
EXCLUSIVE lock, so they never disagree with the rows they sum.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The aggregate of a set of metric rows `m` (the new ones, or all of them).
_METRIC_AGG = """
    SELECT r.benchmark_id, ref.level_of_theory, m.name, r.mlip_model_id, st.structure_set_id,
           count(*), sum(abs(m.value - ref.value)), sum(abs((m.value - ref.value) / ref.value))
    FROM {source} m
    JOIN run r ON r.id = m.run_id
    JOIN structure st ON st.id = r.structure_id
    JOIN reference ref ON ref.id = m.reference_id
    WHERE ref.value <> 0
    GROUP BY r.benchmark_id, ref.level_of_theory, m.name, r.mlip_model_id, st.structure_set_id
"""
_FLAGGED = "name LIKE 'flag\\_%' AND value > 0.5"
# Runs with a quality flag raised, counted once: on a full rebuild, every such run.
_FLAG_AGG_ALL = f"""
    SELECT r.benchmark_id, r.mlip_model_id, st.structure_set_id, count(*)
    FROM (SELECT DISTINCT run_id FROM metric WHERE {_FLAGGED}) m
    JOIN run r ON r.id = m.run_id
    JOIN structure st ON st.id = r.structure_id
    GROUP BY r.benchmark_id, r.mlip_model_id, st.structure_set_id
"""
# On insert, only runs whose every raised flag is among the new rows (not counted before):
# counts compared with hash joins, so a bulk COPY stays linear.
_FLAG_AGG_NEW = f"""
    WITH fresh AS (
        SELECT run_id, count(*) AS k FROM new_rows WHERE {_FLAGGED} GROUP BY run_id
    ), stored AS (
        SELECT o.run_id, count(*) AS k
        FROM metric o JOIN fresh USING (run_id)
        WHERE o.{_FLAGGED.replace(" AND value", " AND o.value")}
        GROUP BY o.run_id
    )
    SELECT r.benchmark_id, r.mlip_model_id, st.structure_set_id, count(*)
    FROM fresh f
    JOIN stored s ON s.run_id = f.run_id AND s.k = f.k
    JOIN run r ON r.id = f.run_id
    JOIN structure st ON st.id = r.structure_id
    GROUP BY r.benchmark_id, r.mlip_model_id, st.structure_set_id
"""
_METRIC_COLS = (
    "benchmark_id, level_of_theory, name, mlip_model_id, structure_set_id, "
    "n, sum_abs_error, sum_abs_rel_error"
)
_FLAG_COLS = "benchmark_id, mlip_model_id, structure_set_id, n_flagged"

INSERTED = f"""
CREATE FUNCTION leaderboard_metric_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leaderboard_metric_summary AS s ({_METRIC_COLS})
    {_METRIC_AGG.format(source="new_rows")}
    ON CONFLICT (benchmark_id, level_of_theory, name, mlip_model_id, structure_set_id)
    DO UPDATE SET n = s.n + excluded.n,
                  sum_abs_error = s.sum_abs_error + excluded.sum_abs_error,
                  sum_abs_rel_error = s.sum_abs_rel_error + excluded.sum_abs_rel_error;
    INSERT INTO leaderboard_flag_summary AS f ({_FLAG_COLS})
    {_FLAG_AGG_NEW}
    ON CONFLICT (benchmark_id, mlip_model_id, structure_set_id)
    DO UPDATE SET n_flagged = f.n_flagged + excluded.n_flagged;
    RETURN NULL;
END $$;
"""

REBUILD = f"""
CREATE FUNCTION leaderboard_summaries_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait (their trigger needs ROW EXCLUSIVE), so no delta is lost or counted twice.
    LOCK TABLE leaderboard_metric_summary, leaderboard_flag_summary IN EXCLUSIVE MODE;
    DELETE FROM leaderboard_metric_summary;
    DELETE FROM leaderboard_flag_summary;
    INSERT INTO leaderboard_metric_summary ({_METRIC_COLS}) {_METRIC_AGG.format(source="metric")};
    INSERT INTO leaderboard_flag_summary ({_FLAG_COLS}) {_FLAG_AGG_ALL};
    RETURN NULL;
END $$;
"""


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'), ondelete='CASCADE'
    )


def upgrade() -> None:
    op.create_index(
        'ix_run_benchmark_id_mlip_model_id_status', 'run',
        ['benchmark_id', 'mlip_model_id', 'status'], unique=False,
    )
    op.create_index(
        'ix_run_benchmark_id_finished_at', 'run', ['benchmark_id', 'finished_at'], unique=False
    )
    table = 'leaderboard_metric_summary'
    op.create_table(
        table,
        sa.Column('benchmark_id', sa.Uuid(), nullable=False),
        sa.Column('level_of_theory', sa.String(length=50), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('mlip_model_id', sa.Uuid(), nullable=False),
        sa.Column('structure_set_id', sa.Uuid(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('sum_abs_error', sa.Float(), nullable=False),
        sa.Column('sum_abs_rel_error', sa.Float(), nullable=False),
        _fk(table, 'benchmark_id', 'benchmark'),
        _fk(table, 'mlip_model_id', 'mlip_model'),
        _fk(table, 'structure_set_id', 'structure_set'),
        sa.PrimaryKeyConstraint(
            'benchmark_id', 'level_of_theory', 'name', 'mlip_model_id', 'structure_set_id',
            name=op.f('pk_leaderboard_metric_summary'),
        ),
    )
    table = 'leaderboard_flag_summary'
    op.create_table(
        table,
        sa.Column('benchmark_id', sa.Uuid(), nullable=False),
        sa.Column('mlip_model_id', sa.Uuid(), nullable=False),
        sa.Column('structure_set_id', sa.Uuid(), nullable=False),
        sa.Column('n_flagged', sa.Integer(), nullable=False),
        _fk(table, 'benchmark_id', 'benchmark'),
        _fk(table, 'mlip_model_id', 'mlip_model'),
        _fk(table, 'structure_set_id', 'structure_set'),
        sa.PrimaryKeyConstraint(
            'benchmark_id', 'mlip_model_id', 'structure_set_id',
            name=op.f('pk_leaderboard_flag_summary'),
        ),
    )
    op.execute(INSERTED)
    op.execute(REBUILD)
    op.execute(
        "CREATE TRIGGER metric_summary_insert AFTER INSERT ON metric "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION leaderboard_metric_inserted()"
    )
    op.execute(
        "CREATE TRIGGER metric_summary_rebuild AFTER UPDATE OR DELETE OR TRUNCATE ON metric "
        "FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_summaries_rebuild()"
    )
    op.execute(
        "CREATE TRIGGER reference_summary_rebuild "
        "AFTER UPDATE OF value, level_of_theory OR DELETE ON reference "
        "FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_summaries_rebuild()"
    )
    # Results written before this migration.
    op.execute(
        f"INSERT INTO leaderboard_metric_summary ({_METRIC_COLS}) "
        f"{_METRIC_AGG.format(source='metric')}"
    )
    op.execute(
        f"INSERT INTO leaderboard_flag_summary ({_FLAG_COLS}) "
        f"{_FLAG_AGG_ALL}"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER reference_summary_rebuild ON reference")
    op.execute("DROP TRIGGER metric_summary_rebuild ON metric")
    op.execute("DROP TRIGGER metric_summary_insert ON metric")
    op.execute("DROP FUNCTION leaderboard_summaries_rebuild()")
    op.execute("DROP FUNCTION leaderboard_metric_inserted()")
    op.drop_table('leaderboard_flag_summary')
    op.drop_table('leaderboard_metric_summary')
    op.drop_index('ix_run_benchmark_id_finished_at', table_name='run')
    op.drop_index('ix_run_benchmark_id_mlip_model_id_status', table_name='run')
