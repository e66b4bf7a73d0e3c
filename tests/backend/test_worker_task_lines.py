"""Celery's per-task INFO lines are off in workers unless MLIPM_WORKER_LOG_TASKS is set.

Through Celery's own tracer (what a pool process runs for each task), built after the worker's
logging hook ran: by default a task that succeeds logs no "succeeded in" line, and one that
fails still logs its error; with the setting on, the line is back. The hook leaves the
loggers as they were when the setting is on. A shipped `mlipm worker`'s log holds no per-task
line: tests/backend/test_queue_recovery.py reads one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from celery import Celery
from celery.app.trace import build_tracer

from backend.settings import get_settings
from workers.celery_app import PER_TASK_LOGGERS, _per_task_lines


@pytest.fixture
def levels() -> Iterator[None]:
    """The per-task loggers' levels restored after the test."""
    saved = {name: logging.getLogger(name).level for name in PER_TASK_LOGGERS}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    get_settings.cache_clear()


def _trace(app: Celery, succeed: bool, caplog: pytest.LogCaptureFixture) -> str:
    @app.task(name=f"lines.{'ok' if succeed else 'fails'}")
    def task() -> str:
        if not succeed:
            raise RuntimeError("the model raised")
        return "done"

    caplog.clear()
    with caplog.at_level(logging.DEBUG):  # as the worker's --loglevel, before tracers are built
        tracer = build_tracer(task.name, task, app=app, eager=False)
        tracer("task-id", (), {}, request={"id": "task-id"})
    return caplog.text


def test_no_succeeded_line_by_default_errors_still_logged(
    levels: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLIPM_WORKER_LOG_TASKS", raising=False)
    get_settings.cache_clear()
    _per_task_lines()
    app = Celery("lines-default")
    assert "succeeded in" not in _trace(app, True, caplog)
    assert "the model raised" in _trace(app, False, caplog)


def test_the_setting_brings_the_lines_back(
    levels: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    monkeypatch.setenv("MLIPM_WORKER_LOG_TASKS", "true")
    get_settings.cache_clear()
    _per_task_lines()
    assert all(logging.getLogger(n).level == logging.NOTSET for n in PER_TASK_LOGGERS)
    assert "succeeded in" in _trace(Celery("lines-on"), True, caplog)
