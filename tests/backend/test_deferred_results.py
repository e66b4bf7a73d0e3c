"""A pool process returns from a run's task before its result is written, and loses nothing.

The result's write (``workers.tasks.recorder``) overlaps with Celery handing the process its
next message. Against the session's Postgres, with the write held back by a lock the test
takes on the metric table (the claim does not touch it, the result's insert waits for it):

- in this process, deferring as a pool process does: the task returns while its result waits
  for the lock, the run still ``running``; the next task, claimed meanwhile, waits for that
  write before its own run, so when it returns the first run's result is in;
- a real ``mlipm worker`` told to stop (SIGTERM, Celery's warm shutdown) right after a run's
  task returned, its result still waiting for the lock: the pool process exits only once the
  result is written (the run succeeded, with its metrics);
- a write the database refuses to connect for is tried again (and given up after a lease,
  left to the sweeper); any other error is not retried;
- the task's soft time limit firing while it waits for the previous write ends the task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Connection, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from backend.db.session import session_scope
from backend.db.tables import Metric, Run
from backend.settings import get_settings
from tests.in_process_runs import one_run, own_queue_models
from tests.live import wait_until, worker_args
from workers.tasks import recorder as recorder_module
from workers.tasks import runs as run_tasks
from workers.tasks.recorder import LEFT_TO_THE_SWEEPER, Recorder, recorder
from workers.tasks.runs import execute_run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def made(bootstrapped: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[uuid.UUID]]:
    with own_queue_models(monkeypatch, "deferred") as ids:
        yield ids


@contextmanager
def metrics_locked(engine: Engine) -> Iterator[Connection]:
    """Every insert into ``metric`` waits until the block ends (SHARE conflicts with the
    inserts' ROW EXCLUSIVE; reads and run updates go on)."""
    with engine.connect() as connection:
        connection.execute(text("LOCK TABLE metric IN SHARE MODE"))
        try:
            yield connection
        finally:
            connection.rollback()


@contextmanager
def client_checks(engine: Engine) -> Iterator[None]:
    """New sessions of this database notice within 0.1 s that their client is gone, even
    while waiting for a lock (else a statement sent before the client died still commits)."""
    database = engine.url.database
    with engine.connect() as connection:
        connection.execute(
            text(f'ALTER DATABASE "{database}" SET client_connection_check_interval = 100')
        )
        connection.commit()
        try:
            yield
        finally:
            connection.execute(
                text(f'ALTER DATABASE "{database}" RESET client_connection_check_interval')
            )
            connection.commit()


def _status(run_id: uuid.UUID) -> str:
    with session_scope() as session:
        return str(session.get(Run, run_id).status)  # type: ignore[union-attr]


def _metric_count(run_id: uuid.UUID) -> int:
    with session_scope() as session:
        return len(session.scalars(select(Metric.id).where(Metric.run_id == run_id)).all())


def _waiting_for_the_lock() -> bool:
    """A session of this database waits for a lock on ``metric`` (a result's insert)."""
    with session_scope() as session:
        return bool(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'metric' AND NOT l.granted "
                    "AND l.database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        )


def test_the_task_returns_before_its_result_and_the_next_one_waits_for_it(
    made: list[uuid.UUID], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "defer", True)
    first, second = one_run(made, "emt", "eos"), one_run(made, "emt", "eos")
    # What the first run's status was when the second run's benchmark began: a run's time is
    # measured with no other run's write in the same process.
    seen: dict[uuid.UUID, str] = {}
    execute = run_tasks.execute_claimed

    def execute_claimed(job: Any, **kwargs: Any) -> Any:
        seen[job.run_id] = _status(first)
        return execute(job, **kwargs)

    monkeypatch.setattr(run_tasks, "execute_claimed", execute_claimed)
    try:
        with metrics_locked(engine):
            # (in threads: a task that wrote before returning would wait for the lock)
            first_done, first_outcome = _task(first)
            assert first_done.wait(30), "the task waited for its result's write"
            assert first_outcome == ["recording"]
            wait_until(_waiting_for_the_lock, 30, "the result's insert to wait for the lock")
            assert _status(first) == "running"
            assert _metric_count(first) == 0
            # The next task: its claim goes through, its run waits for the first's result.
            returned, outcome = _task(second)
            wait_until(lambda: _status(second) == "running", 30, "the second run's claim")
            assert not returned.wait(1.0)  # held until the first result is written
            assert _status(first) == "running"
        assert returned.wait(60)
        assert outcome == ["recording"]
        assert _status(first) == "succeeded"
        assert seen[second] == "succeeded"  # written before the second run's benchmark began
        assert _metric_count(first) > 0
        assert recorder.wait() == "succeeded"
        assert _status(second) == "succeeded"
    finally:
        recorder.wait()


def _task(run_id: uuid.UUID) -> tuple[threading.Event, list[str]]:
    """The run's task started in a thread: set when it returns, and what it returned."""
    returned = threading.Event()
    outcome: list[str] = []

    def task() -> None:
        outcome.append(execute_run.run(str(run_id)))
        returned.set()

    threading.Thread(target=task, daemon=True).start()
    return returned, outcome


def test_a_stopped_worker_writes_its_last_result_before_its_pool_process_exits(
    made: list[uuid.UUID], engine: Engine, tmp_path: Path
) -> None:
    queue = get_settings().celery_queue
    with metrics_locked(engine), client_checks(engine):
        worker = subprocess.Popen(
            [sys.executable, *worker_args(queue, f"deferred-{uuid.uuid4().hex[:6]}@%h")],
            cwd=REPO,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=(tmp_path / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            run_id = one_run(made, "emt", "eos")
            wait_until(_waiting_for_the_lock, 90, "the result's insert to wait for the lock")
            worker.send_signal(signal.SIGTERM)  # warm shutdown: the task has returned
            time.sleep(2.0)
            assert worker.poll() is None, "the worker exited with its result unwritten"
            assert _status(run_id) == "running"
        except BaseException:
            worker.kill()
            raise
    try:
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        print((tmp_path / "worker.log").read_text()[-3000:])
    assert _status(run_id) == "succeeded"
    assert _metric_count(run_id) > 0


def _refused_connection() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_a_write_is_tried_again_while_the_database_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recorder_module.time, "sleep", lambda _s: None)
    deferring = Recorder()
    deferring.defer = True
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _refused_connection()
        return "succeeded"

    assert deferring.record(flaky, what="run x") == "recording"
    assert deferring.wait() == "succeeded"
    assert len(calls) == 3
    assert deferring.wait() is None  # nothing in flight any more


def test_a_write_is_left_to_the_sweeper_after_a_lease_and_other_errors_are_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLIPM_RUN_LEASE_S", "1")
    get_settings.cache_clear()
    try:
        deferring = Recorder()
        deferring.defer = True
        calls: list[int] = []

        def down() -> str:
            calls.append(1)
            raise _refused_connection()

        deferring.record(down, what="run y")
        assert deferring.wait() == LEFT_TO_THE_SWEEPER
        assert 1 < len(calls) < 10  # tried again, then given up (pauses 0.5 s and more)

        def broken() -> str:
            calls.append(1)
            raise ValueError("a bug")

        calls.clear()
        deferring.record(broken, what="run z")
        assert deferring.wait() is None  # logged, left to the sweeper, not raised here
        assert len(calls) == 1
    finally:
        get_settings.cache_clear()


def test_in_process_the_task_writes_before_it_returns() -> None:
    inline = Recorder()
    assert inline.record(lambda: "succeeded", what="run w") == "succeeded"
    assert inline.wait() is None


def test_a_soft_time_limit_while_waiting_propagates_and_the_write_stays_in_flight() -> None:
    """The task's soft time limit (a signal raising in the task's thread, as billiard's does)
    ends the task even while it waits for the previous write; swallowed, the run would go on
    and the hard limit kill it, charging the kill to a run that only waited."""
    deferring = Recorder()
    deferring.defer = True
    release = threading.Event()
    deferring.record(lambda: "succeeded" if release.wait(30) else "never released", what="v")

    def soft_limit(_signum: int, _frame: Any) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, soft_limit)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(SoftTimeLimitExceeded):
            deferring.wait()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    release.set()
    assert deferring.wait() == "succeeded"  # still in flight after the interruption
