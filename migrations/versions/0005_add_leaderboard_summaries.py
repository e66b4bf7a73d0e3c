"""add leaderboard summary tables (kept by triggers on metric and reference) and read indexes

Revision ID: 0005_add_leaderboard_summaries
Revises: 0004_add_model_training_sets
Create Date: 2026-11-25 17:00:00.000000

The summaries are updated in the transaction that writes the metrics (a statement-level
trigger with a transition table, so a bulk COPY costs one aggregate, not one upsert per row);
an UPDATE or DELETE of metrics or an edit of a reference's value rebuilds them under an
EXCLUSIVE lock, so they never disagree with the rows they sum. The functions and triggers
are in ``migrations/leaderboard_sql.py`` (the ``_V1`` functions).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import leaderboard_sql as sql

revision: str = "0005_add_leaderboard_summaries"
down_revision: str | None = "0004_add_model_training_sets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    op.execute(sql.METRIC_INSERTED_V1)
    op.execute(sql.SUMMARIES_REBUILD_V1)
    for trigger in sql.METRIC_SUMMARY_TRIGGERS:
        op.execute(trigger.create)
    # Results written before this migration.
    op.execute(sql.METRIC_SUMMARY_FILL)
    op.execute(sql.FLAG_SUMMARY_FILL)


def downgrade() -> None:
    for trigger in reversed(sql.METRIC_SUMMARY_TRIGGERS):
        op.execute(trigger.drop)
    op.execute("DROP FUNCTION leaderboard_summaries_rebuild()")
    op.execute("DROP FUNCTION leaderboard_metric_inserted()")
    op.drop_table('leaderboard_flag_summary')
    op.drop_table('leaderboard_metric_summary')
    op.drop_index('ix_run_benchmark_id_finished_at', table_name='run')
    op.drop_index('ix_run_benchmark_id_mlip_model_id_status', table_name='run')
