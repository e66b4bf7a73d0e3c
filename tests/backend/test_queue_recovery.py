"""Queue recovery: one message per run, one sweeper at a time, recovered runs first, and no
files left behind by attempts that never committed. On a real Redis and Postgres (a private
database) and, where delivery order matters, a real worker.

The Redis is the module's own redis-server where one is installed (else the shared one): which
messages are in flight is read from kombu's ``unacked`` keys, global to a Redis database, which
on the shared Redis every other module's live workers write to (and restore from) as well.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import pools
from kombu.utils.collections import eqhash
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.cli.localservices import RedisServer
from backend.db.session import reset_engine_cache, session_scope
from backend.db.tables import Campaign, CampaignRun, Run, User
from backend.domain.statuses import Role, RunStatus
from backend.repositories import dispatch as dispatch_repo
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from backend.schemas.run_artifacts import EXTXYZ_MEDIA_TYPE, RunArtifactIn
from backend.services import campaigns, queue, run_artifacts, users
from backend.settings import get_settings
from tests.conftest import REDIS_URL, new_database_url
from tests.factories import crystal_subset
from tests.live import wait_until, worker_args
from workers.celery_app import celery_app
from workers.tasks import sweeper
from workers.tasks.artifacts import remove_orphaned_files

METALS = ("Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al")  # all within EMT's elements
SET = "recovery metals"
HOUR = 3600.0


@dataclass
class Stack:
    engine: Engine
    broker: redis.Redis
    queue_name: str
    owner_id: uuid.UUID
    store: Path
    env: dict[str, str]

    def lists(self) -> tuple[str, str]:
        """The queue's broker lists: recovered runs (popped first), launched runs."""
        return self.queue_name, f"{self.queue_name}{queue.PRIORITY_SEP}{queue.NORMAL_PRIORITY}"

    def waiting_messages(self) -> int:
        return sum(int(self.broker.llen(name)) for name in self.lists())

    def sent(self) -> int:
        return int(self.broker.get(queue.key("messages-sent")) or 0)


def _point_celery_at(url: str, *, close_old: bool) -> None:
    """Send the imported Celery app's next connections and producers to ``url``. The pools it
    built on its broker so far are forgotten; with ``close_old`` also closed and dropped from
    kombu's registry (else kept there, and found again once the app is pointed back)."""
    if close_old:
        old = celery_app.connection_for_write()
        for group in (pools.producers, pools.connections):  # producers hold connections
            pool = dict.pop(group, eqhash(old), None)
            if pool is not None:
                pool.force_close_all()
        old.release()
    vars(celery_app)["_pool"] = None  # Celery.pool and AMQP.producer_pool build them anew
    vars(celery_app.amqp)["_producer_pool"] = None
    celery_app.conf.broker_url = url


@contextlib.contextmanager
def _private_redis(root: Path) -> Iterator[str]:
    """The URL of a redis-server of this module's own (the shared Redis where none is
    installed); the in-process Celery app uses it meanwhile."""
    if shutil.which("redis-server") is None:
        yield REDIS_URL
        return
    server = RedisServer(root)
    server.start()
    saved = celery_app.conf.broker_url
    try:
        _point_celery_at(server.url(), close_old=False)
        yield server.url()
    finally:
        _point_celery_at(saved, close_old=True)
        for ident in [i for i in queue._CLIENTS if i[1] == server.url()]:
            queue._CLIENTS.pop(ident).close()
        server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with _private_redis(tmp_path_factory.mktemp("redis")) as redis_url:
        yield from _stack(tmp_path_factory, redis_url)


def _stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    url = new_database_url("mlipm_recovery")
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        from backend.bootstrap import bootstrap

        bootstrap(session)
        owner = users.ensure_user_with_token(session, name="recovery", role=Role.ADMIN).user
        crystal_subset(session, SET, METALS)
        session.commit()
        owner_id = owner.id
    store = tmp_path_factory.mktemp("store")
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "MLIPM_CELERY_QUEUE": f"recovery-{uuid.uuid4().hex[:8]}",
        "MLIPM_RUN_LEASE_S": "3",
        "MLIPM_SWEEP_INTERVAL_S": "1",
        "MLIPM_ARTIFACT_URL": store.as_uri(),
        "MLIPM_ORPHAN_SWEEP_INTERVAL_S": "3600",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    reset_engine_cache()
    broker = redis.Redis.from_url(redis_url)
    try:
        yield Stack(engine, broker, env["MLIPM_CELERY_QUEUE"], owner_id, store, env)
    finally:
        broker.delete(*_stack_keys(env["MLIPM_CELERY_QUEUE"]))
        broker.close()
        reset_engine_cache()
        for k, value in saved.items():
            if value is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = value
        get_settings.cache_clear()
        engine.dispose()
        dbadmin.drop_database(url)


def _stack_keys(queue_name: str) -> list[str]:
    names = ("waiting", "messages-sent", "sweep-lock", "due:orphan-files")
    return [queue_name, *(f"{queue_name}{queue.PRIORITY_SEP}{p}" for p in queue.PRIORITY_STEPS)] + [
        queue.key(n) for n in names
    ]


@pytest.fixture(autouse=True)
def clean(stack: Stack) -> Iterator[None]:
    """Each test starts with no unfinished run, no message and no lock."""
    yield
    with stack.engine.begin() as conn:
        conn.execute(
            update(Run)
            .where(Run.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]))
            .values(status=RunStatus.CANCELLED)
        )
    stack.broker.delete(*_stack_keys(stack.queue_name))


def _launch(stack: Stack, name: str, n_points: list[int]) -> list[uuid.UUID]:
    """EMT on eos over the metals, one parameter set per value; the ids of its runs."""
    spec = CampaignCreate(
        name=name,
        models=[ModelRef(name="EMT")],
        benchmarks=[BenchmarkRef(key="eos", params={"n_points": n}) for n in n_points],
        structure_sets=[SET],
    )
    with session_scope() as session:
        owner = session.get(User, stack.owner_id)
        assert owner is not None
        campaigns.launch_campaign(session, spec, owner=owner)
    with Session(stack.engine) as session:
        query = (
            select(Run.id)
            .join(CampaignRun, CampaignRun.run_id == Run.id)
            .join(Campaign, Campaign.id == CampaignRun.campaign_id)
            .where(Campaign.name == name)
        )
        ids = set(session.scalars(query))
    assert len(ids) == len(METALS) * len(n_points)
    return sorted(ids)


def _waiting(stack: Stack) -> dict[Any, float]:
    marks: list[Any] = stack.broker.zrange(queue.key("waiting"), 0, -1, withscores=True)
    return dict(marks)


def _age(stack: Stack, seconds: float) -> None:
    """Move every queued run's creation and send, and every waiting mark, into the past."""
    with stack.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE run SET created_at = created_at - make_interval(secs => :s), "
                "enqueued_at = enqueued_at - make_interval(secs => :s) WHERE status = 'queued'"
            ),
            {"s": seconds},
        )
    marks = _waiting(stack)
    if marks:
        stack.broker.zadd(queue.key("waiting"), {m: s - seconds for m, s in marks.items()})


def _sweep(stack: Stack) -> int:
    """One sweep now (the lock of an earlier sweep in this test released)."""
    stack.broker.delete(queue.key("sweep-lock"))
    return sweeper.sweep()


def _recover() -> queue.Recovery:
    with session_scope() as session:
        return queue.runs_to_recover(session)


def _launch_with_a_sweep_midway(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, name: str, n_points: list[int], *, old: bool
) -> tuple[int, int]:
    """Launch a campaign whose sending takes an hour (a sweep runs in the middle of it);
    ``old``: the runs are marked sent only at the end, as before. Returns (runs, messages)."""
    send, calls, resent = celery_app.send_task, [0], [0]

    def slow_send(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 3:
            _age(stack, HOUR)
            if old:
                stack.broker.delete(queue.key("waiting"))
            resent[0] = _sweep(stack)
        return send(*args, **kwargs)

    monkeypatch.setattr(celery_app, "send_task", slow_send)
    before, waiting = stack.sent(), stack.waiting_messages()
    runs = _launch(stack, name, n_points)
    monkeypatch.setattr(celery_app, "send_task", send)
    # the counter counts every message sent
    assert stack.sent() - before == stack.waiting_messages() - waiting
    assert (resent[0] > 0) == old
    return len(runs), stack.sent() - before


def test_a_launch_longer_than_the_grace_period_sends_one_message_per_run(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_runs, messages = _launch_with_a_sweep_midway(stack, monkeypatch, "slow", [7], old=False)
    assert messages == n_runs
    # Control: marked sent only at the end, the same launch has its unsent runs sent twice.
    n_runs, messages = _launch_with_a_sweep_midway(stack, monkeypatch, "old", [8], old=True)
    assert messages > n_runs


def _unsent_runs(stack: Stack, monkeypatch: pytest.MonkeyPatch, name: str) -> int:
    """A campaign whose messages were never sent (the broker was down), an hour ago."""

    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery_app, "send_task", down)
    n_runs = len(_launch(stack, name, [9 if name == "locked" else 10]))
    monkeypatch.undo()
    assert stack.waiting_messages() == 0
    _age(stack, HOUR)
    return n_runs


def _two_sweepers_at_once(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Two sweeps started together; each waits (up to 2 s) for the other to read which runs
    wait in the broker before it sends any, so that without a lock both would send them."""
    arrived, both = [0], threading.Event()
    read = queue._scores

    def rendezvous(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        arrived[0] += 1
        if arrived[0] == 2:
            both.set()
        both.wait(2)
        return found

    monkeypatch.setattr(queue, "_scores", rendezvous)
    stack.broker.delete(queue.key("sweep-lock"))
    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(sweeper.sweep())) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(counts)


def test_only_one_of_two_concurrent_sweepers_resends(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_runs = _unsent_runs(stack, monkeypatch, "locked")
    assert _two_sweepers_at_once(stack, monkeypatch) == [0, n_runs]
    assert stack.waiting_messages() == n_runs
    # Control: without the lock both sweepers send every run.
    monkeypatch.undo()
    stack.broker.delete(*stack.lists())
    with stack.engine.begin() as conn:
        conn.execute(update(Run).where(Run.status == RunStatus.QUEUED).values(enqueued_at=None))
    stack.broker.delete(queue.key("waiting"))
    _age(stack, HOUR)
    monkeypatch.setattr(queue, "sweep_lock", lambda **_: uuid.uuid4().hex)
    assert _two_sweepers_at_once(stack, monkeypatch) == [n_runs, n_runs]
    assert stack.waiting_messages() == 2 * n_runs


def test_a_run_whose_message_waits_in_the_broker_is_not_sent_again(stack: Stack) -> None:
    runs = _launch(stack, "waiting", [11])
    _age(stack, 2 * HOUR)  # sent long ago, still waiting behind a long queue
    assert _recover().dispatches == []
    # A worker takes a message and dies before claiming its run (the message stays unacked),
    # and the mark of another run is lost: exactly those two are sent again. The lost mark is
    # that of the run sent last, whose message workers take last: a run without a mark is
    # sent again wherever its message is ("never sent"), so the message taken in flight below
    # (the next in line) must not be its.
    last_sent: list[Any] = stack.broker.lrange(stack.lists()[1], 0, 0)
    forgotten = next(r for r in runs if str(r).encode() in last_sent[0])
    with celery_app.connection_for_read() as conn:
        message = conn.default_channel.basic_get(stack.queue_name)
        taken = uuid.UUID(message.decode()[0][0])
        assert taken != forgotten
        stack.broker.zrem(queue.key("waiting"), str(forgotten))
        # A minute ago: past the grace period (6 s here), well inside the broker's visibility
        # timeout (1 h), so that no other test's live worker restores it to the queue first.
        stack.broker.zadd("unacked_index", {message.delivery_tag: time.time() - 60})
        recovery = _recover()
        assert {d[0] for d in recovery.dispatches} == {taken, forgotten}
        assert recovery.reasons == {"taken, never claimed": 1, "never sent": 1}
        message.ack()
    # Messages that left the queue some other way: once it is empty, they are sent again,
    # except one a worker has just taken (in flight, about to be claimed).
    with celery_app.connection_for_read() as conn:
        message = conn.default_channel.basic_get(stack.queue_name)
        in_flight = uuid.UUID(message.decode()[0][0])
        assert in_flight != forgotten
        stack.broker.delete(*stack.lists())
        _age(stack, HOUR)
        # taken just now: stamped again here, so a slow machine between the take and the
        # sweep (the grace period is 6 s here) cannot make it look abandoned
        stack.broker.zadd("unacked_index", {message.delivery_tag: time.time()})
        recovery = _recover()
        message.ack()
    assert in_flight not in {d[0] for d in recovery.dispatches}
    assert recovery.reasons == {"message gone": len(runs) - 2, "never sent": 1}


def _set_dead(stack: Stack, run_id: uuid.UUID) -> None:
    """The run was claimed by a worker that died (its message consumed, its lease expired)."""
    with stack.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE run SET status = 'running', attempt = 1, worker = 'dead@nowhere', "
                "started_at = now() - interval '2 minutes', "
                "lease_expires_at = now() - interval '1 minute' WHERE id = :id"
            ),
            {"id": run_id},
        )
    queue.message_taken(run_id)


def _take_message_of(stack: Stack, run_id: uuid.UUID) -> None:
    """Remove the run's waiting message from the broker (the dead worker took it)."""
    name = stack.lists()[1]
    messages: list[Any] = stack.broker.lrange(name, 0, -1)
    raw = next(m for m in messages if str(run_id).encode() in m)
    assert stack.broker.lrem(name, 1, raw) == 1


def _started(stack: Stack, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    with Session(stack.engine) as session:
        query = select(Run.id, Run.started_at).where(Run.id.in_(run_ids))
        return {row[0]: row[1] for row in session.execute(query)}


def _succeeded(stack: Stack, run_id: uuid.UUID) -> Callable[[], bool]:
    def done() -> bool:
        with Session(stack.engine) as session:
            return session.get(Run, run_id).status == RunStatus.SUCCEEDED  # type: ignore[union-attr]

    return done


def test_a_dead_workers_run_is_sent_once_and_runs_before_the_queue(
    stack: Stack, tmp_path: Path
) -> None:
    runs = _launch(stack, "dead worker", [12, 13])
    recovered, control, others = runs[0], runs[1], runs[2:]
    _take_message_of(stack, recovered)
    _set_dead(stack, recovered)
    before = stack.sent()
    assert _sweep(stack) == 1
    assert stack.broker.llen(stack.lists()[0]) == 1  # at the front
    assert _recover().dispatches == []  # sent once: the next sweep leaves it alone
    # Control: a dead worker's run sent as a launch is (the old sweeper's way) waits behind.
    _take_message_of(stack, control)
    _set_dead(stack, control)
    queue.enqueue(_dispatch_rows([control]))
    assert stack.sent() - before == 2
    worker = subprocess.Popen(
        [sys.executable, *worker_args(stack.queue_name, f"recovery-{uuid.uuid4().hex[:4]}@%h")],
        env={**os.environ, **stack.env},
        start_new_session=True,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(_succeeded(stack, control), 120, "the control run")
    except AssertionError:
        print((tmp_path / "worker.log").read_text()[-4000:])
        raise
    finally:
        worker.terminate()
        worker.wait(30)
    started = _started(stack, runs)
    assert all(started[recovered] < started[r] for r in others)
    assert all(started[control] > started[r] for r in others)  # the check fires on the control
    # The shipped worker logs no Celery line per task (MLIPM_WORKER_LOG_TASKS is off), its
    # own lines it does: the hook ran before its pool process built the task's tracer.
    log = (tmp_path / "worker.log").read_text()
    assert " ready." in log
    assert "succeeded in" not in log
    assert "Task runs.execute[" not in log


def _dispatch_rows(run_ids: list[uuid.UUID]) -> list[queue.Dispatch]:
    with session_scope() as session:
        return dispatch_repo.dispatch_rows(session, run_ids)


def _write(stack: Stack, key: str, *, age_s: float) -> Path:
    path = stack.store / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("1\n\nH 0 0 0\n")
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return path


def test_files_of_attempts_that_never_committed_are_removed(stack: Stack) -> None:
    committed, running = _launch(stack, "files", [14])[:2]
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == committed).values(attempt=2))
        session.execute(
            update(Run).where(Run.id == running).values(status=RunStatus.RUNNING, attempt=3)
        )
        key = run_artifacts.artifact_key(committed, 1, "trajectory", EXTXYZ_MEDIA_TYPE)
        row = RunArtifactIn(
            name="trajectory",
            media_type=EXTXYZ_MEDIA_TYPE,
            key=key,
            sha256="0" * 64,
            size_bytes=10,
            n_frames=1,
        )
        run_artifacts.record_run_artifacts(session, committed, [row])
    kept = [
        _write(stack, key, age_s=HOUR),  # referenced by its row (attempt 1 committed)
        _write(stack, f"runs/{running}/attempt-3/trajectory.extxyz", age_s=HOUR),  # live
        _write(stack, f"runs/{committed}/attempt-2/relaxation.extxyz", age_s=1),  # too young
        _write(stack, f"runs/{committed}/notes.txt", age_s=HOUR),  # not an attempt's file
    ]
    removed = [
        _write(stack, f"runs/{committed}/attempt-2/trajectory.extxyz", age_s=HOUR),
        _write(stack, f"runs/{running}/attempt-2/trajectory.extxyz", age_s=HOUR),
        _write(stack, f"runs/{uuid.uuid4()}/attempt-1/trajectory.extxyz", age_s=HOUR),
    ]
    assert remove_orphaned_files(grace_s=60) == len(removed)
    assert all(path.exists() for path in kept)
    assert not any(path.exists() for path in removed)
    assert remove_orphaned_files(grace_s=60) == 0
