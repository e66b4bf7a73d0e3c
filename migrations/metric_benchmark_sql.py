"""The SQL of ``metric.benchmark_id``: its run's benchmark, copied onto each metric row so a
board finds its metric rows on one index instead of one probe per run (migration
0018_add_metric_benchmark_id, which takes every constant here)::

    metric INSERT, UPDATE OF run_id (per row, before): metric_benchmark_set
        -> metric_benchmark_set() -> metric.benchmark_id (from its run)
    run UPDATE OF benchmark_id (per row): run_benchmark_moved -> run_benchmark_moved()
        -> metric.benchmark_id (the run's metrics)

Like ``migrations/leaderboard_sql.py``: a constant a migration uses never changes.
"""

from __future__ import annotations

from migrations.leaderboard_sql import Trigger

METRIC_BENCHMARK_FUNCTIONS = (
    """
CREATE FUNCTION metric_benchmark_set() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.benchmark_id := (SELECT benchmark_id FROM run WHERE id = NEW.run_id);
    RETURN NEW;
END $$;
""",
    """
CREATE FUNCTION run_benchmark_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE metric SET benchmark_id = NEW.benchmark_id WHERE run_id = NEW.id;
    RETURN NULL;
END $$;
""",
)
METRIC_BENCHMARK_TRIGGERS = (
    Trigger(
        "metric_benchmark_set",
        "metric",
        "BEFORE INSERT OR UPDATE OF run_id",
        "FOR EACH ROW",
        "metric_benchmark_set",
    ),
    Trigger(
        "run_benchmark_moved",
        "run",
        "AFTER UPDATE OF benchmark_id",
        "FOR EACH ROW WHEN (OLD.benchmark_id IS DISTINCT FROM NEW.benchmark_id)",
        "run_benchmark_moved",
    ),
)
# Metrics written before the migration that adds the column.
METRIC_BENCHMARK_FILL = (
    "UPDATE metric m SET benchmark_id = r.benchmark_id FROM run r WHERE r.id = m.run_id"
)
