"""A worker pool process connects and compiles the claim before its first message.

The warm-up claims nothing (it names no run) and never stops the process: with the database
down it logs a warning and the first run connects instead.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.session import reset_engine_cache
from backend.db.tables import Run
from backend.settings import get_settings
from workers.tasks.runs import _warm_up


def _runs_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Run.status, func.count()).group_by(Run.status)).tuples()
    return {str(status): n for status, n in rows}


def test_the_warm_up_claims_nothing(bootstrapped: None, db_session: Session) -> None:
    before = _runs_by_status(db_session)
    _warm_up()
    assert _runs_by_status(db_session) == before


def test_the_warm_up_survives_a_database_that_is_down(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:9/nowhere")
    get_settings.cache_clear()
    reset_engine_cache()
    try:
        with caplog.at_level(logging.WARNING):
            _warm_up()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_engine_cache()
    assert "could not warm up the database connection" in caplog.text
