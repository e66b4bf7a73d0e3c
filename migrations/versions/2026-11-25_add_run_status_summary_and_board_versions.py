"""add run status summary and leaderboard versions (kept by triggers on run, metric, ...)

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-25 17:40:00.000000

``leaderboard_run_summary`` counts runs per (benchmark, model, structure set, status); statement
triggers on ``run`` add the insert/update/delete deltas in the writer's transaction (grouped,
in key order, so a bulk COPY costs one aggregate and two writers never lock rows in opposite
orders). Deletes only decrement existing rows (a model delete cascades to its runs and to its
summary rows in either order, so an upsert there could hit a deleted model).

``leaderboard_version`` holds one counter per benchmark, set from one sequence whenever
anything a board shows may have changed: its runs or metrics (per benchmark), or models,
references, structures, structure sets and metric edits (every benchmark). A board's ETag is
(benchmark id, counter, query), so a 304 is answered before the board is built.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = "benchmark_id, mlip_model_id, structure_set_id, status"
# Runs of a transition table `{t}` counted per summary key, with a sign.
_COUNT = """
    SELECT r.benchmark_id, r.mlip_model_id, st.structure_set_id, r.status, {sign} AS d
    FROM {t} r JOIN structure st ON st.id = r.structure_id
"""


def _bump(benchmarks: str) -> str:
    """Set the counter of the benchmarks selected by ``benchmarks``, locking in id order."""
    return f"""
    UPDATE leaderboard_version v SET version = nextval('leaderboard_version_seq')
    FROM (SELECT benchmark_id FROM leaderboard_version
          WHERE benchmark_id IN ({benchmarks}) ORDER BY benchmark_id FOR UPDATE) l
    WHERE v.benchmark_id = l.benchmark_id;
    """


_ALL = "SELECT benchmark_id FROM leaderboard_version"
_MOVED = (
    "({o}.status, {o}.mlip_model_id, {o}.benchmark_id, {o}.structure_id) IS DISTINCT FROM "
    "({n}.status, {n}.mlip_model_id, {n}.benchmark_id, {n}.structure_id)"
)
_CHANGED = (
    "SELECT b FROM old_rows o JOIN new_rows n ON n.id = o.id, "
    "LATERAL (VALUES (o.benchmark_id), (n.benchmark_id)) AS v(b) "
    "WHERE " + _MOVED.format(o="o", n="n") + " OR o.finished_at IS DISTINCT FROM n.finished_at"
)

FUNCTIONS = [
    f"""
CREATE FUNCTION leaderboard_run_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leaderboard_run_summary AS s ({_KEY}, n)
    SELECT {_KEY}, sum(d) FROM ({_COUNT.format(t="new_rows", sign=1)}) c
    GROUP BY {_KEY} ORDER BY {_KEY}
    ON CONFLICT ({_KEY}) DO UPDATE SET n = s.n + excluded.n;
    {_bump("SELECT DISTINCT benchmark_id FROM new_rows")}
    RETURN NULL;
END $$;
""",
    f"""
CREATE FUNCTION leaderboard_run_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Every UPDATE of run fires this (a trigger with transition tables takes no column
    -- list); only rows whose key changed move between counts, and only those or a new
    -- finish time change a board.
    INSERT INTO leaderboard_run_summary AS s ({_KEY}, n)
    SELECT {_KEY}, sum(d) FROM (
        {_COUNT.format(t="old_rows", sign=-1)}
        JOIN new_rows x ON x.id = r.id WHERE {_MOVED.format(o="r", n="x")}
        UNION ALL
        {_COUNT.format(t="new_rows", sign=1)}
        JOIN old_rows x ON x.id = r.id WHERE {_MOVED.format(o="x", n="r")}
    ) c
    GROUP BY {_KEY} HAVING sum(d) <> 0 ORDER BY {_KEY}
    ON CONFLICT ({_KEY}) DO UPDATE SET n = s.n + excluded.n;
    {_bump(_CHANGED)}
    RETURN NULL;
END $$;
""",
    f"""
CREATE FUNCTION leaderboard_run_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leaderboard_run_summary s SET n = s.n - c.n
    FROM (SELECT {_KEY}, count(*) AS n FROM ({_COUNT.format(t="old_rows", sign=1)}) x
          GROUP BY {_KEY} ORDER BY {_KEY}) c
    WHERE (s.benchmark_id, s.mlip_model_id, s.structure_set_id, s.status)
        = (c.benchmark_id, c.mlip_model_id, c.structure_set_id, c.status);
    {_bump("SELECT DISTINCT benchmark_id FROM old_rows")}
    RETURN NULL;
END $$;
""",
    f"""
CREATE FUNCTION leaderboard_run_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM leaderboard_run_summary;
    {_bump(_ALL)}
    RETURN NULL;
END $$;
""",
    f"""
CREATE FUNCTION leaderboard_metric_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_bump("SELECT DISTINCT r.benchmark_id FROM new_rows m JOIN run r ON r.id = m.run_id")}
    RETURN NULL;
END $$;
""",
    f"""
CREATE FUNCTION leaderboard_bump_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_bump(_ALL)}
    RETURN NULL;
END $$;
""",
    """
CREATE FUNCTION leaderboard_benchmark_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leaderboard_version (benchmark_id, version)
    VALUES (NEW.id, nextval('leaderboard_version_seq'))
    ON CONFLICT (benchmark_id) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END $$;
""",
]

TRIGGERS = [
    (
        "run_summary_insert",
        "run",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "leaderboard_run_inserted",
    ),
    (
        "run_summary_update",
        "run",
        "AFTER UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT",
        "leaderboard_run_updated",
    ),
    (
        "run_summary_delete",
        "run",
        "AFTER DELETE",
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
        "leaderboard_run_deleted",
    ),
    (
        "run_summary_truncate",
        "run",
        "AFTER TRUNCATE",
        "FOR EACH STATEMENT",
        "leaderboard_run_truncated",
    ),
    (
        "metric_version_insert",
        "metric",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "leaderboard_metric_bump",
    ),
    (
        "metric_version_change",
        "metric",
        "AFTER UPDATE OR DELETE OR TRUNCATE",
        "FOR EACH STATEMENT",
        "leaderboard_bump_all",
    ),
    *(
        (
            f"{table}_version_change",
            table,
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE",
            "FOR EACH STATEMENT",
            "leaderboard_bump_all",
        )
        for table in ("mlip_model", "reference", "structure", "structure_set")
    ),
    (
        "benchmark_version_change",
        "benchmark",
        "AFTER INSERT OR UPDATE",
        "FOR EACH ROW",
        "leaderboard_benchmark_changed",
    ),
]


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
    for function in FUNCTIONS:
        op.execute(function)
    for name, table_name, when, each, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {table_name} {each} EXECUTE FUNCTION {function}()"
        )
    # Runs and benchmarks written before this migration.
    op.execute(
        f"INSERT INTO leaderboard_run_summary ({_KEY}, n) "
        f"SELECT r.benchmark_id, r.mlip_model_id, st.structure_set_id, r.status, count(*) "
        f"FROM run r JOIN structure st ON st.id = r.structure_id GROUP BY 1, 2, 3, 4"
    )
    op.execute(
        "INSERT INTO leaderboard_version (benchmark_id, version) "
        "SELECT id, nextval('leaderboard_version_seq') FROM benchmark"
    )


def downgrade() -> None:
    for name, table_name, *_ in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER {name} ON {table_name}")
    for function in reversed(FUNCTIONS):
        name = function.split("FUNCTION ", 1)[1].split("(", 1)[0]
        op.execute(f"DROP FUNCTION {name}()")
    op.execute("DROP SEQUENCE leaderboard_version_seq")
    op.drop_table("leaderboard_version")
    op.drop_table("leaderboard_run_summary")
