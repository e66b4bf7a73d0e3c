"""Revision ids follow the chain; every way up ends with one schema; old stamps are rewritten."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from backend import dbadmin
from migrations.revision_ids import OLD_REVISION_IDS
from tests.conftest import new_database_url

# The schema as the catalog describes it, each part in a stable order.
_CATALOG = {
    "columns": """
        SELECT c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
               format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    "functions": """
        SELECT proname, pg_get_functiondef(oid) FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace AND prokind IN ('f', 'p') ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal ORDER BY 1, 2""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, increment_by, min_value, max_value, cycle
        FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1""",
    "enums": """
        SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY 1 ORDER BY 1""",
    "version": "SELECT version_num FROM alembic_version",
}


def _schema(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                part: [tuple(row) for row in conn.execute(text(query))]
                for part, query in _CATALOG.items()
            }
    finally:
        engine.dispose()


def _chain() -> list[str]:
    """Revision ids from the first migration to head."""
    script = ScriptDirectory.from_config(dbadmin.alembic_config("postgresql://unused"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


@pytest.fixture
def empty_database() -> Iterator[str]:
    url = new_database_url("mlipm_chain")
    dbadmin.ensure_database(url)
    yield url
    dbadmin.drop_database(url)


@pytest.fixture(scope="module")
def head_schema() -> Iterator[dict[str, list[tuple[object, ...]]]]:
    url = new_database_url("mlipm_chain_head")
    dbadmin.ensure_database(url)
    try:
        dbadmin.upgrade(url)
        yield _schema(url)
    finally:
        dbadmin.drop_database(url)


def test_revision_ids_follow_the_chain_and_name_their_files() -> None:
    chain = _chain()
    assert [rev.split("_", 1)[0] for rev in chain] == [f"{i:04d}" for i in range(1, len(chain) + 1)]
    assert all(len(rev) <= 32 for rev in chain)  # alembic_version.version_num is varchar(32)
    files = {path.stem for path in (dbadmin.MIGRATIONS / "versions").glob("*.py")}
    assert files == set(chain)
    # Every old id maps to one of the first 15 revisions (those written before the rename;
    # later ones never had an old id), and none is a new one (the rewrite is unambiguous).
    assert sorted(OLD_REVISION_IDS.values()) == chain[: len(OLD_REVISION_IDS)] == chain[:15]
    assert not set(OLD_REVISION_IDS) & set(chain)


def test_step_by_step_and_down_and_up_end_with_the_schema_of_head(
    empty_database: str, head_schema: dict[str, list[tuple[object, ...]]]
) -> None:
    chain = _chain()
    for previous, revision in zip(["base", *chain], chain, strict=False):
        dbadmin.upgrade(empty_database, revision)
        dbadmin.downgrade(empty_database, previous)
        dbadmin.upgrade(empty_database, revision)
    assert _schema(empty_database) == head_schema
    dbadmin.downgrade(empty_database, "base")
    dbadmin.upgrade(empty_database)
    assert _schema(empty_database) == head_schema


def test_a_database_stamped_with_an_old_id_is_rewritten_and_upgraded(
    empty_database: str,
    head_schema: dict[str, list[tuple[object, ...]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Old 0007 is the fifth migration; read by prefix, it would be 0007_store_relative_error
    # and the upgrade would skip the two migrations in between.
    old, new = "0007", OLD_REVISION_IDS["0007"]
    assert new.startswith("0005_")
    dbadmin.upgrade(empty_database, new)
    engine = create_engine(empty_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :old"), {"old": old})
    finally:
        engine.dispose()
    caplog.set_level(logging.INFO, logger="alembic.env")
    dbadmin.upgrade(empty_database)
    assert _schema(empty_database) == head_schema
    assert f"old revision id {old} in alembic_version to {new}" in caplog.text
