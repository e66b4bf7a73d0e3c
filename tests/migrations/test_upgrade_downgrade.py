from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import backend.db.tables  # noqa: F401
from backend import dbadmin
from backend.db.base import Base
from tests.conftest import new_database_url

TABLES = {
    "user",
    "api_token",
    "mlip_model",
    "structure_set",
    "structure",
    "reference",
    "benchmark",
    "campaign",
    "campaign_run",
    "run",
    "metric",
    "series",
}


@pytest.fixture
def empty_database() -> Iterator[str]:
    url = new_database_url("mlipm_migr")
    dbadmin.ensure_database(url)
    yield url
    dbadmin.drop_database(url)


def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_database: str) -> None:
    engine = create_engine(empty_database)
    try:
        dbadmin.upgrade(empty_database)
        assert set(inspect(engine).get_table_names()) >= TABLES
        dbadmin.downgrade(empty_database, "base")
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) <= {"alembic_version"}
        assert not inspector.get_enums()
        dbadmin.upgrade(empty_database)
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_the_migrations_build_exactly_the_orm_schema(empty_database: str) -> None:
    dbadmin.upgrade(empty_database)
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
