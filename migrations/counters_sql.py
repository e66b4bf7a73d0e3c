"""The run triggers' functions once the summary tables are gone (0021_drop_unread_summaries).

Boards read their protocol's runs and metrics since daec691 (no board reads a summary table),
while the triggers of ``migrations/leaderboard_sql.py`` still kept four summary tables at
every claim, result and launch: about 0.5 ms of a result's 2 ms on the server, nearly all of
it the metric summaries (``pg_stat_user_functions`` on the campaign harness; the run counts
cost 0.03 ms a claim or result). From 0021 the run functions only set the change counters, the
benchmark's and each (benchmark, model) pair's, exactly as the 0019 functions did; the
metric summary functions and their triggers are dropped with the tables.
"""

from __future__ import annotations

from migrations.leaderboard_sql import (
    _ALL,
    _BUMP_ALL_MODELS,
    _CHANGED,
    _CHANGED_PAIRS,
    _bump,
    _bump_models,
)


def _function(name: str, *statements: str) -> str:
    body = "".join(statements)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {body}
    RETURN NULL;
END $$;
"""


_NEW_PAIRS = "SELECT DISTINCT benchmark_id, mlip_model_id FROM {t}"

RUN_COUNTER_FUNCTIONS = (
    _function(
        "leaderboard_run_inserted",
        _bump("SELECT DISTINCT benchmark_id FROM new_rows"),
        _bump_models(_NEW_PAIRS.format(t="new_rows")),
    ),
    _function("leaderboard_run_updated", _bump(_CHANGED), _bump_models(_CHANGED_PAIRS)),
    _function(
        "leaderboard_run_deleted",
        _bump("SELECT DISTINCT benchmark_id FROM old_rows"),
        _bump_models(_NEW_PAIRS.format(t="old_rows")),
    ),
    _function("leaderboard_run_truncated", _bump(_ALL), _BUMP_ALL_MODELS),
)

# Dropped with the tables (and made again by the downgrade): the metric summaries' functions.
SUMMARY_FUNCTIONS = ("leaderboard_summaries_rebuild", "leaderboard_metric_inserted")
SUMMARY_TABLES = (
    "leaderboard_run_summary",
    "leaderboard_value_summary",
    "leaderboard_flag_summary",
    "leaderboard_metric_summary",
)
