"""A worker's database sessions get the workers' options (``use_worker_session_options``).

Started the way a worker starts (Celery's ``worker_init`` signal), every connection the
process makes afterwards commits asynchronously and has the planner price a random page at
1.1 (its default 4 had the result's trigger statements hash whole small tables, measured in
docs/performance.md); MLIPM_WORKER_SYNCHRONOUS_COMMIT keeps commits durable. Checked on the
session's Postgres with ``SHOW``, against a process without them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.signals import worker_init
from sqlalchemy import Engine, event, text

from backend.db.session import make_engine
from backend.settings import get_settings
from workers.tasks import runs as run_tasks


@pytest.fixture
def worker_started() -> Iterator[None]:
    """This process as a worker after ``worker_init``; the listener removed afterwards (it
    applies to every engine of the process)."""
    worker_init.send(sender=None)
    yield
    event.remove(Engine, "do_connect", run_tasks._session_options)


def _settings(database_url: str) -> tuple[str, str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            page = connection.execute(text("SHOW random_page_cost")).scalar_one()
            commit = connection.execute(text("SHOW synchronous_commit")).scalar_one()
    finally:
        engine.dispose()
    return str(page), str(commit)


def test_a_process_without_them_has_the_servers_defaults(database_url: str) -> None:
    listening = event.contains(Engine, "do_connect", run_tasks._session_options)
    if listening:  # another test of this process started it as a worker
        event.remove(Engine, "do_connect", run_tasks._session_options)
    try:
        assert _settings(database_url) == ("4", "on")
    finally:
        if listening:
            event.listen(Engine, "do_connect", run_tasks._session_options)


@pytest.mark.usefixtures("worker_started")
def test_a_workers_sessions_commit_asynchronously_and_price_random_pages_at_1_1(
    database_url: str,
) -> None:
    assert _settings(database_url) == ("1.1", "off")


@pytest.mark.usefixtures("worker_started")
def test_durable_commits_when_asked(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLIPM_WORKER_SYNCHRONOUS_COMMIT", "true")
    get_settings.cache_clear()
    try:
        assert _settings(database_url) == ("1.1", "on")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
