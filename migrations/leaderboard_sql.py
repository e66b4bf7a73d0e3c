"""The SQL of the leaderboard's triggers: one constant per PL/pgSQL function and trigger.

Statement triggers keep summary tables and change counters in the transaction of every write
(a bulk COPY costs one aggregate); the migrations that install them take their SQL from here.
Boards came to read their protocol's rows instead of the summaries, which 0021 drops, keeping
only the counters (``migrations/counters_sql.py``); the constants stay for the migrations.

Which write feeds which table (source table: trigger -> function -> table kept)::

    metric INSERT: metric_summary_insert -> leaderboard_metric_inserted()
        -> leaderboard_metric_summary (error sums), leaderboard_flag_summary (flagged runs),
           leaderboard_value_summary (value sums, from _V2)
    metric UPDATE, DELETE, TRUNCATE: metric_summary_rebuild -> leaderboard_summaries_rebuild()
    reference UPDATE OF value, level_of_theory, DELETE: reference_summary_rebuild
        -> leaderboard_summaries_rebuild()
        -> the same tables, rebuilt from every metric under an EXCLUSIVE lock
    run INSERT, UPDATE, DELETE, TRUNCATE: run_summary_{insert,update,delete,truncate}
        -> leaderboard_run_{inserted,updated,deleted,truncated}()
        -> leaderboard_run_summary (runs per status), leaderboard_version (their benchmarks)
    metric INSERT: metric_version_insert -> leaderboard_metric_bump()
        -> leaderboard_version (the new metrics' benchmarks)
    metric UPDATE, DELETE, TRUNCATE; any write to mlip_model, reference, structure,
    structure_set: <table>_version_change -> leaderboard_bump_all()
        -> leaderboard_version (every benchmark)
    benchmark INSERT, UPDATE (per row): benchmark_version_change
        -> leaderboard_benchmark_changed() -> leaderboard_version (its row)

From 0019 the run and metric functions above also set leaderboard_model_version, a counter
per (benchmark, model), for the pairs their statement touched; ``leaderboard_bump_all()`` and
a truncated run table set every pair's.

A migration must build the same schema whenever it runs, so a constant that a migration uses
never changes: a later migration that redefines a function adds the next ``_V<n>`` constant.

    0005_add_leaderboard_summaries: METRIC_INSERTED_V1, SUMMARIES_REBUILD_V1,
        METRIC_SUMMARY_TRIGGERS, METRIC_SUMMARY_FILL, FLAG_SUMMARY_FILL
    0011_add_run_status_summary: RUN_SUMMARY_FUNCTIONS, RUN_SUMMARY_TRIGGERS, RUN_SUMMARY_FILL,
        VERSION_FILL
    0012_add_value_summary: METRIC_INSERTED_V2, SUMMARIES_REBUILD_V2, VALUE_SUMMARY_FILL
        (its downgrade restores the _V1 functions)
    0019_add_model_change_counters: MODEL_VERSION_FUNCTIONS (the 0011 functions, each with its
        pairs' bump), MODEL_VERSION_FILL (its downgrade restores the 0011 functions)

Not a summary but kept the same way by triggers: ``metric.benchmark_id`` (0018), in
``migrations/metric_benchmark_sql.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger on ``table`` that runs ``function()``; ``when`` and ``each`` as in SQL."""

    name: str
    table: str
    when: str
    each: str
    function: str

    @property
    def create(self) -> str:
        return (
            f"CREATE TRIGGER {self.name} {self.when} ON {self.table} {self.each} "
            f"EXECUTE FUNCTION {self.function}()"
        )

    @property
    def drop(self) -> str:
        return f"DROP TRIGGER {self.name} ON {self.table}"


def or_replace(function: str) -> str:
    """``CREATE FUNCTION`` as ``CREATE OR REPLACE FUNCTION`` (to restore an earlier body)."""
    return function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


# --- Error, flag and value summaries (metric, reference) ----------------------------------

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

_VALUE_KEY = "benchmark_id, name, mlip_model_id, structure_set_id"
_VALUE_COLS = f"{_VALUE_KEY}, n, sum_value"
# The aggregate of a set of metric rows `m` (the new ones, or all of them), in key order.
_VALUE_AGG = """
    SELECT r.benchmark_id, m.name, r.mlip_model_id, st.structure_set_id, count(*), sum(m.value)
    FROM {source} m
    JOIN run r ON r.id = m.run_id
    JOIN structure st ON st.id = r.structure_id
    GROUP BY r.benchmark_id, m.name, r.mlip_model_id, st.structure_set_id
    ORDER BY 1, 2, 3, 4
"""

METRIC_INSERTED_V1 = f"""
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

SUMMARIES_REBUILD_V1 = f"""
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

# V2 also keeps leaderboard_value_summary (metric values with or without a reference).
METRIC_INSERTED_V2 = f"""
CREATE OR REPLACE FUNCTION leaderboard_metric_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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
    INSERT INTO leaderboard_value_summary AS v ({_VALUE_COLS})
    {_VALUE_AGG.format(source="new_rows")}
    ON CONFLICT ({_VALUE_KEY})
    DO UPDATE SET n = v.n + excluded.n, sum_value = v.sum_value + excluded.sum_value;
    RETURN NULL;
END $$;
"""

SUMMARIES_REBUILD_V2 = f"""
CREATE OR REPLACE FUNCTION leaderboard_summaries_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait (their trigger needs ROW EXCLUSIVE), so no delta is lost or counted twice.
    LOCK TABLE leaderboard_metric_summary, leaderboard_flag_summary, leaderboard_value_summary
        IN EXCLUSIVE MODE;
    DELETE FROM leaderboard_metric_summary;
    DELETE FROM leaderboard_flag_summary;
    DELETE FROM leaderboard_value_summary;
    INSERT INTO leaderboard_metric_summary ({_METRIC_COLS})
    {_METRIC_AGG.format(source="metric")};
    INSERT INTO leaderboard_flag_summary ({_FLAG_COLS}) {_FLAG_AGG_ALL};
    INSERT INTO leaderboard_value_summary ({_VALUE_COLS}) {_VALUE_AGG.format(source="metric")};
    RETURN NULL;
END $$;
"""

METRIC_SUMMARY_TRIGGERS = (
    Trigger(
        "metric_summary_insert",
        "metric",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "leaderboard_metric_inserted",
    ),
    Trigger(
        "metric_summary_rebuild",
        "metric",
        "AFTER UPDATE OR DELETE OR TRUNCATE",
        "FOR EACH STATEMENT",
        "leaderboard_summaries_rebuild",
    ),
    Trigger(
        "reference_summary_rebuild",
        "reference",
        "AFTER UPDATE OF value, level_of_theory OR DELETE",
        "FOR EACH STATEMENT",
        "leaderboard_summaries_rebuild",
    ),
)

# The summaries of rows written before the migration that adds each table.
METRIC_SUMMARY_FILL = (
    f"INSERT INTO leaderboard_metric_summary ({_METRIC_COLS}) {_METRIC_AGG.format(source='metric')}"
)
FLAG_SUMMARY_FILL = f"INSERT INTO leaderboard_flag_summary ({_FLAG_COLS}) {_FLAG_AGG_ALL}"
VALUE_SUMMARY_FILL = (
    f"INSERT INTO leaderboard_value_summary ({_VALUE_COLS}) {_VALUE_AGG.format(source='metric')}"
)


# --- Run status summary and change counters (run, metric, and what every board shows) -----

_RUN_KEY = "benchmark_id, mlip_model_id, structure_set_id, status"
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

RUN_INSERTED = f"""
CREATE FUNCTION leaderboard_run_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leaderboard_run_summary AS s ({_RUN_KEY}, n)
    SELECT {_RUN_KEY}, sum(d) FROM ({_COUNT.format(t="new_rows", sign=1)}) c
    GROUP BY {_RUN_KEY} ORDER BY {_RUN_KEY}
    ON CONFLICT ({_RUN_KEY}) DO UPDATE SET n = s.n + excluded.n;
    {_bump("SELECT DISTINCT benchmark_id FROM new_rows")}
    RETURN NULL;
END $$;
"""

RUN_UPDATED = f"""
CREATE FUNCTION leaderboard_run_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Every UPDATE of run fires this (a trigger with transition tables takes no column
    -- list); only rows whose key changed move between counts, and only those or a new
    -- finish time change a board.
    INSERT INTO leaderboard_run_summary AS s ({_RUN_KEY}, n)
    SELECT {_RUN_KEY}, sum(d) FROM (
        {_COUNT.format(t="old_rows", sign=-1)}
        JOIN new_rows x ON x.id = r.id WHERE {_MOVED.format(o="r", n="x")}
        UNION ALL
        {_COUNT.format(t="new_rows", sign=1)}
        JOIN old_rows x ON x.id = r.id WHERE {_MOVED.format(o="x", n="r")}
    ) c
    GROUP BY {_RUN_KEY} HAVING sum(d) <> 0 ORDER BY {_RUN_KEY}
    ON CONFLICT ({_RUN_KEY}) DO UPDATE SET n = s.n + excluded.n;
    {_bump(_CHANGED)}
    RETURN NULL;
END $$;
"""

RUN_DELETED = f"""
CREATE FUNCTION leaderboard_run_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leaderboard_run_summary s SET n = s.n - c.n
    FROM (SELECT {_RUN_KEY}, count(*) AS n FROM ({_COUNT.format(t="old_rows", sign=1)}) x
          GROUP BY {_RUN_KEY} ORDER BY {_RUN_KEY}) c
    WHERE (s.benchmark_id, s.mlip_model_id, s.structure_set_id, s.status)
        = (c.benchmark_id, c.mlip_model_id, c.structure_set_id, c.status);
    {_bump("SELECT DISTINCT benchmark_id FROM old_rows")}
    RETURN NULL;
END $$;
"""

RUN_TRUNCATED = f"""
CREATE FUNCTION leaderboard_run_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM leaderboard_run_summary;
    {_bump(_ALL)}
    RETURN NULL;
END $$;
"""

METRIC_BUMP = f"""
CREATE FUNCTION leaderboard_metric_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_bump("SELECT DISTINCT r.benchmark_id FROM new_rows m JOIN run r ON r.id = m.run_id")}
    RETURN NULL;
END $$;
"""

BUMP_ALL = f"""
CREATE FUNCTION leaderboard_bump_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_bump(_ALL)}
    RETURN NULL;
END $$;
"""

BENCHMARK_CHANGED = """
CREATE FUNCTION leaderboard_benchmark_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leaderboard_version (benchmark_id, version)
    VALUES (NEW.id, nextval('leaderboard_version_seq'))
    ON CONFLICT (benchmark_id) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END $$;
"""

RUN_SUMMARY_FUNCTIONS = (
    RUN_INSERTED,
    RUN_UPDATED,
    RUN_DELETED,
    RUN_TRUNCATED,
    METRIC_BUMP,
    BUMP_ALL,
    BENCHMARK_CHANGED,
)

RUN_SUMMARY_TRIGGERS = (
    Trigger(
        "run_summary_insert",
        "run",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "leaderboard_run_inserted",
    ),
    Trigger(
        "run_summary_update",
        "run",
        "AFTER UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT",
        "leaderboard_run_updated",
    ),
    Trigger(
        "run_summary_delete",
        "run",
        "AFTER DELETE",
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
        "leaderboard_run_deleted",
    ),
    Trigger(
        "run_summary_truncate",
        "run",
        "AFTER TRUNCATE",
        "FOR EACH STATEMENT",
        "leaderboard_run_truncated",
    ),
    Trigger(
        "metric_version_insert",
        "metric",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "leaderboard_metric_bump",
    ),
    Trigger(
        "metric_version_change",
        "metric",
        "AFTER UPDATE OR DELETE OR TRUNCATE",
        "FOR EACH STATEMENT",
        "leaderboard_bump_all",
    ),
    *(
        Trigger(
            f"{table}_version_change",
            table,
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE",
            "FOR EACH STATEMENT",
            "leaderboard_bump_all",
        )
        for table in ("mlip_model", "reference", "structure", "structure_set")
    ),
    Trigger(
        "benchmark_version_change",
        "benchmark",
        "AFTER INSERT OR UPDATE",
        "FOR EACH ROW",
        "leaderboard_benchmark_changed",
    ),
)

# Runs and benchmarks written before the migration that adds the tables.
RUN_SUMMARY_FILL = (
    f"INSERT INTO leaderboard_run_summary ({_RUN_KEY}, n) "
    f"SELECT r.benchmark_id, r.mlip_model_id, st.structure_set_id, r.status, count(*) "
    f"FROM run r JOIN structure st ON st.id = r.structure_id GROUP BY 1, 2, 3, 4"
)
VERSION_FILL = (
    "INSERT INTO leaderboard_version (benchmark_id, version) "
    "SELECT id, nextval('leaderboard_version_seq') FROM benchmark"
)


# --- A change counter per benchmark and model (0019) ---------------------------------------

# What the benchmark counter's functions do, and the same for each (benchmark, model) pair a
# statement touched: a board rebuilds only the models whose counter moved (see
# backend/services/board_rows.py). `{pairs}` selects distinct (benchmark id, model id).


def _bump_models(pairs: str) -> str:
    """Set the counter of each (benchmark, model) pair selected by ``pairs`` (distinct), a
    new row for a pair's first run; rows locked in key order, as the benchmark rows are."""
    return f"""
    INSERT INTO leaderboard_model_version AS v (benchmark_id, mlip_model_id, version)
    SELECT b, m, nextval('leaderboard_version_seq') FROM ({pairs}) p(b, m) ORDER BY b, m
    ON CONFLICT (benchmark_id, mlip_model_id) DO UPDATE SET version = excluded.version;
    """


_BUMP_ALL_MODELS = """
    UPDATE leaderboard_model_version v SET version = nextval('leaderboard_version_seq')
    FROM (SELECT benchmark_id, mlip_model_id FROM leaderboard_model_version
          ORDER BY benchmark_id, mlip_model_id FOR UPDATE) l
    WHERE (v.benchmark_id, v.mlip_model_id) = (l.benchmark_id, l.mlip_model_id);
"""
_CHANGED_PAIRS = (
    "SELECT DISTINCT p.b, p.m FROM old_rows o JOIN new_rows n ON n.id = o.id, "
    "LATERAL (VALUES (o.benchmark_id, o.mlip_model_id), (n.benchmark_id, n.mlip_model_id)) "
    "AS p(b, m) WHERE " + _MOVED.format(o="o", n="n") + " OR o.finished_at IS DISTINCT FROM "
    "n.finished_at"
)


def _with_model_bump(function: str, statement: str) -> str:
    """``function`` (a counter function above) as ``CREATE OR REPLACE``, with ``statement``
    run right after its benchmark bump (before ``RETURN NULL``)."""
    head, tail = or_replace(function).rsplit("RETURN NULL;", 1)
    return f"{head}{statement}\n    RETURN NULL;{tail}"


MODEL_VERSION_FUNCTIONS = (
    _with_model_bump(
        RUN_INSERTED, _bump_models("SELECT DISTINCT benchmark_id, mlip_model_id FROM new_rows")
    ),
    _with_model_bump(RUN_UPDATED, _bump_models(_CHANGED_PAIRS)),
    _with_model_bump(
        RUN_DELETED, _bump_models("SELECT DISTINCT benchmark_id, mlip_model_id FROM old_rows")
    ),
    _with_model_bump(RUN_TRUNCATED, _BUMP_ALL_MODELS),
    _with_model_bump(
        METRIC_BUMP,
        _bump_models(
            "SELECT DISTINCT r.benchmark_id, r.mlip_model_id FROM new_rows m "
            "JOIN run r ON r.id = m.run_id"
        ),
    ),
    _with_model_bump(BUMP_ALL, _BUMP_ALL_MODELS),
)
# The pairs with runs before the migration that adds the table.
MODEL_VERSION_FILL = (
    "INSERT INTO leaderboard_model_version (benchmark_id, mlip_model_id, version) "
    "SELECT benchmark_id, mlip_model_id, nextval('leaderboard_version_seq') "
    "FROM (SELECT DISTINCT benchmark_id, mlip_model_id FROM run) p"
)
