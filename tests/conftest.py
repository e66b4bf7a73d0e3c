"""Shared fixtures: a throwaway Postgres database per test session, migrated with Alembic,
and (for integration and browser tests) the real API and a real Celery worker on Redis."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.db.session import reset_engine_cache
from backend.settings import get_settings

SERVER_URL = os.environ.get(
    "MLIPM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("MLIPM_TEST_REDIS", "redis://127.0.0.1:6379/0")
#: The slowest modules (a few minutes each on 2 cores), collected first: `make test` runs the
#: suite on two pytest-xdist workers, one module per worker at a time (``--dist loadfile``),
#: so a long module started last would leave one worker finishing alone.
SLOW_FIRST = (
    "tests/frontend/test_demo_tour.py",
    "tests/backend/test_schemathesis.py",
    "tests/workers/test_compounds_controls.py",
    "tests/frontend/test_model_phonons.py",
    "tests/workers/test_nve.py",
    "tests/backend/test_orb_environment.py",
    "tests/backend/test_worker_environments.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the modules of :data:`SLOW_FIRST` first, each module's tests in their order."""
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def new_database_url(prefix: str = "mlipm_test") -> str:
    """A URL of a database that does not exist yet on the test server."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The session's throwaway database, migrated to head; every process in the test uses it."""
    url = new_database_url()
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "MLIPM_CELERY_QUEUE")}
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = REDIS_URL
    # A private queue, so that workers of other sessions on the same Redis never take our runs.
    os.environ["MLIPM_CELERY_QUEUE"] = f"test-{uuid.uuid4().hex[:8]}"
    get_settings.cache_clear()
    reset_engine_cache()
    yield url
    reset_engine_cache()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
    dbadmin.drop_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def bootstrapped(engine: Engine) -> None:
    """References, the elemental crystals, benchmark versions and baselines, committed."""
    from backend.bootstrap import bootstrap

    with Session(engine) as session:
        bootstrap(session)
        session.commit()


@pytest.fixture
def db_session(engine: Engine, bootstrapped: None) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def client(db_session: Session) -> Iterator[TestClient]:
    """The API in-process, its request sessions joined to the test's rolled-back transaction."""
    from backend.api.board_bodies import BODIES
    from backend.api.deps import get_session
    from backend.main import create_app
    from backend.services import leaderboard

    app = create_app()

    def _session() -> Iterator[Session]:
        yield db_session
        db_session.flush()

    app.dependency_overrides[get_session] = _session
    # the boards' fast path reads change counters on the test's transaction too
    app.state.board_etag_reader = functools.partial(
        leaderboard.current_etag, connection=db_session.connection()
    )
    # Boards built from this test's transaction (rolled back after it) stay in this process:
    # through Redis a live API on the same database would serve them as its own.
    sharing, BODIES.sharing = BODIES.sharing, False
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        BODIES.sharing = sharing


pytest_plugins = ["tests.live"]
