"""Migration 0012: the value summary is filled from the metrics written before it, kept by
the replaced trigger functions, and dropped again with the 0011 functions restored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.db.tables import Benchmark, Metric
from tests.conftest import new_database_url


@pytest.fixture
def empty_database() -> Iterator[str]:
    url = new_database_url("mlipm_values")
    dbadmin.ensure_database(url)
    yield url
    dbadmin.drop_database(url)


def _add_model(session: Session, name: str) -> uuid.UUID:
    """An approved model in the schema of revision 0011 (the ORM's has later columns)."""
    model_id = uuid.uuid4()
    session.execute(
        text(
            "INSERT INTO mlip_model (id, name, version, family, params, card, is_baseline, "
            "is_trusted, status, created_at) VALUES (:id, :name, '1', 'lv-test', '{}', '{}', "
            "false, false, 'approved', now())"
        ),
        {"id": model_id, "name": name},
    )
    return model_id


def _add_structure(session: Session) -> uuid.UUID:
    """A structure (and its set) in the schema of revision 0011."""
    set_id, structure_id = uuid.uuid4(), uuid.uuid4()
    session.execute(
        text(
            "INSERT INTO structure_set (id, name, description, source, created_at) "
            "VALUES (:id, 's', '', '', now())"
        ),
        {"id": set_id},
    )
    session.execute(
        text(
            "INSERT INTO structure (id, structure_set_id, label, material, formula, elements, "
            "n_atoms, content_hash, data, created_at) VALUES (:id, :set, 'Cu', 'Cu', 'Cu', "
            "'{Cu}', 1, :h, '{}', now())"
        ),
        {"id": structure_id, "set": set_id, "h": uuid.uuid4().hex},
    )
    return structure_id


def _add_run(
    session: Session,
    model_id: uuid.UUID,
    benchmark_id: uuid.UUID,
    structure_id: uuid.UUID,
    params_hash: str,
) -> uuid.UUID:
    """A succeeded run in the schema of revision 0011."""
    run_id = uuid.uuid4()
    session.execute(
        text(
            "INSERT INTO run (id, mlip_model_id, benchmark_id, structure_id, params, "
            "params_hash, status, attempt, provenance, created_at) VALUES (:id, :m, :b, :s, "
            "'{}', :h, 'succeeded', 1, '{}', now())"
        ),
        {"id": run_id, "m": model_id, "b": benchmark_id, "s": structure_id, "h": params_hash},
    )
    return run_id


def _value_rows(session: Session) -> list[tuple[str, int, float]]:
    query = "SELECT name, n, sum_value FROM leaderboard_value_summary ORDER BY name"
    return [(r[0], r[1], r[2]) for r in session.execute(text(query))]


def two_runs(session: Session) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A benchmark, a model and two of its succeeded runs on one structure, in the schema of
    revision 0011: (benchmark id, model id, run ids)."""
    benchmark = Benchmark(key="b", version="1")
    session.add(benchmark)
    structure_id = _add_structure(session)
    model_id = _add_model(session, "m")
    runs = [_add_run(session, model_id, benchmark.id, structure_id, f"p{i}") for i in range(2)]
    return benchmark.id, model_id, runs


def test_the_migration_fills_the_sums_and_goes_down_and_up(empty_database: str) -> None:
    dbadmin.upgrade(empty_database, "0011_add_run_status_summary")
    engine = create_engine(empty_database)
    try:
        with Session(engine) as session:
            _, _, runs = two_runs(session)
            session.add_all(
                Metric(run_id=r, name="x", value=v, unit="1")
                for r, v in zip(runs, (1.0, 2.0), strict=True)
            )
            session.commit()
            dbadmin.upgrade(empty_database, "0012_add_value_summary")
            assert _value_rows(session) == [("x", 2, 3.0)]  # metrics written before it
            session.add(Metric(run_id=runs[0], name="y", value=4.5, unit="1"))
            session.commit()
            assert _value_rows(session) == [("x", 2, 3.0), ("y", 1, 4.5)]
            session.execute(text("UPDATE metric SET value = 5.0 WHERE name = 'x' AND value = 2"))
            session.commit()
            assert _value_rows(session) == [("x", 2, 6.0), ("y", 1, 4.5)]
            session.commit()  # no open transaction blocks the migrations
            dbadmin.downgrade(empty_database, "0011_add_run_status_summary")
            assert "leaderboard_value_summary" not in inspect(engine).get_table_names()
            session.add(Metric(run_id=runs[1], name="y", value=1.0, unit="1"))
            session.execute(text("DELETE FROM metric WHERE name = 'x' AND value = 5"))
            session.commit()  # the 0011 trigger functions work without the table
            error_rows = "SELECT count(*) FROM leaderboard_metric_summary"
            assert session.execute(text(error_rows)).scalar_one() == 0  # no references
            session.commit()
            dbadmin.upgrade(empty_database, "0020_add_structure_space_group")
            assert _value_rows(session) == [("x", 1, 1.0), ("y", 2, 5.5)]
    finally:
        engine.dispose()
