"""Migration 0021: the summary tables no board reads are dropped, the change counters that
boards' ETags come from still move on every claim, result and metric, and the downgrade makes
the tables again, filled from the rows (run counts per status, value sums)."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.db.tables import Metric
from migrations.counters_sql import SUMMARY_TABLES
from tests.migrations.test_leaderboard_value_migration import (
    empty_database,  # noqa: F401 (the fixture)
    two_runs,
)

BEFORE = "0020_add_structure_space_group"


def _counters(session: Session, benchmark_id: uuid.UUID, model_id: uuid.UUID) -> tuple[int, int]:
    """The benchmark's counter and the (benchmark, model) pair's."""
    return (
        session.execute(
            text("SELECT version FROM leaderboard_version WHERE benchmark_id = :b"),
            {"b": benchmark_id},
        ).scalar_one(),
        session.execute(
            text(
                "SELECT version FROM leaderboard_model_version "
                "WHERE benchmark_id = :b AND mlip_model_id = :m"
            ),
            {"b": benchmark_id, "m": model_id},
        ).scalar_one(),
    )


def _moved(before: tuple[int, int], after: tuple[int, int]) -> bool:
    return after[0] > before[0] and after[1] > before[1]


def test_the_summaries_go_the_counters_stay_and_the_downgrade_refills_them(
    empty_database: str,  # noqa: F811
) -> None:
    dbadmin.upgrade(empty_database, "0011_add_run_status_summary")
    engine = create_engine(empty_database)
    try:
        with Session(engine) as session:
            b_id, model_id, (done, queued) = two_runs(session)
            session.execute(text("UPDATE run SET status = 'queued' WHERE id = :r"), {"r": queued})
            session.add(Metric(run_id=done, name="x", value=2.0, unit="1"))
            session.commit()
        dbadmin.upgrade(empty_database)
        assert not set(SUMMARY_TABLES) & set(inspect(engine).get_table_names())
        with Session(engine) as session:
            start = _counters(session, b_id, model_id)
            claim = "UPDATE run SET status = 'running', attempt = attempt + 1 WHERE id = :r"
            session.execute(text(claim), {"r": queued})
            session.commit()
            claimed = _counters(session, b_id, model_id)
            assert _moved(start, claimed)
            session.execute(text("UPDATE run SET worker = 'w' WHERE id = :r"), {"r": queued})
            session.commit()
            assert _counters(session, b_id, model_id) == claimed  # no key moved: no bump
            session.execute(
                text("UPDATE run SET status = 'succeeded', finished_at = now() WHERE id = :r"),
                {"r": queued},
            )
            session.add(Metric(run_id=queued, name="x", value=3.5, unit="1"))
            session.commit()
            finished = _counters(session, b_id, model_id)
            assert _moved(claimed, finished)
            session.execute(text("DELETE FROM run WHERE id = :r"), {"r": done})
            session.commit()
            assert _moved(finished, _counters(session, b_id, model_id))
        dbadmin.downgrade(empty_database, BEFORE)
        with Session(engine) as session:
            runs = "SELECT status::text, n FROM leaderboard_run_summary WHERE n <> 0"
            assert session.execute(text(runs)).all() == [("succeeded", 1)]
            values = "SELECT name, n, sum_value FROM leaderboard_value_summary"
            assert session.execute(text(values)).all() == [("x", 1, 3.5)]
            session.add(Metric(run_id=queued, name="y", value=1.0, unit="1"))
            session.commit()  # the 0020 triggers keep the refilled tables again
            assert session.execute(text(values + " ORDER BY name")).all() == [
                ("x", 1, 3.5),
                ("y", 1, 1.0),
            ]
        dbadmin.upgrade(empty_database)
        assert not set(SUMMARY_TABLES) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
