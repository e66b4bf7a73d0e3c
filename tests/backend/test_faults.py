"""Campaigns that survive faults: real worker processes, a private Redis and a private Postgres
(started here, so restarting them disturbs nothing else), models that misbehave on purpose
(the example plugin in tests/plugins/faulty_models)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.cli.localservices import PostgresCluster, RedisServer, free_port, postgres_bindir
from backend.client import ApiClient
from backend.db.session import reset_engine_cache
from backend.db.tables import CampaignRun, Metric, Run, Series
from backend.domain.statuses import Role, RunStatus
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, CampaignRead, ModelRef
from backend.schemas.models import ModelCreate
from backend.services import models, users
from backend.settings import get_settings
from tests.factories import EOS_CORE_METRICS, crystal_subset
from tests.live import wait_until, worker_args

pytestmark = pytest.mark.skipif(
    postgres_bindir() is None or shutil.which("redis-server") is None,
    reason="needs Debian's postgresql and redis-server binaries",
)
METALS = ("Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al")
FAULT_ENV = {
    "MLIPM_CELERY_QUEUE": "faults",
    "MLIPM_RUN_LEASE_S": "3",
    "MLIPM_SWEEP_INTERVAL_S": "1",
    "MLIPM_BROKER_VISIBILITY_TIMEOUT_S": "10",
    # a slow_emt eos run takes ~4 s idle and 3-4x that on a loaded 2-core machine
    "MLIPM_RUN_SOFT_TIME_LIMIT_S": "20",
    "MLIPM_RUN_TIME_LIMIT_S": "30",
}


@dataclass
class FaultStack:
    postgres: PostgresCluster
    redis: RedisServer
    env: dict[str, str]
    log_dir: Path
    api_url: str
    admin: ApiClient
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        name = f"faults-{len(self.workers)}-{uuid.uuid4().hex[:4]}@%h"
        worker = subprocess.Popen(
            [sys.executable, *worker_args("faults", name, concurrency=2)],
            env=self.env,
            start_new_session=True,
            stderr=subprocess.STDOUT,
            stdout=(self.log_dir / f"worker-{len(self.workers)}.log").open("wb"),
        )
        self.workers.append(worker)
        return worker

    def kill_workers(self) -> None:
        """SIGKILL every worker with its pool processes: no chance to clean up."""
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

    def engine_session(self) -> Session:
        return Session(create_engine(self.postgres.url()))

    def campaign(self, name: str, model: str, n_points: list[int], structures: str) -> uuid.UUID:
        spec = CampaignCreate(
            name=name,
            models=[ModelRef(name=model)],
            benchmarks=[BenchmarkRef(key="eos", params={"n_points": n}) for n in n_points],
            structure_sets=[structures],
        )
        return self.admin.create_campaign(spec).id

    def wait_finished(self, campaign_id: uuid.UUID, timeout_s: float = 120) -> CampaignRead:
        def finished() -> CampaignRead | None:
            try:
                current = self.admin.campaign(campaign_id)
            except Exception:
                return None
            return current if current.status != "running" else None

        try:
            return wait_until(finished, timeout_s, "the campaign to finish", 0.5)  # type: ignore[no-any-return]
        except AssertionError:
            for log in sorted(self.log_dir.glob("worker-*.log")):
                print(log.name, log.read_text()[-3000:])
            raise


def _setup_database(url: str, setup: Callable[[Session], None] | None = None) -> str:
    from backend.bootstrap import bootstrap

    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        bootstrap(session)
        admin = users.ensure_user_with_token(session, name="fault-admin", role=Role.ADMIN)
        owner = admin.user
        for family, params in (
            ("slow_emt", {"sleep_s": 0.12}),
            ("nan_model", {"after_calls": 3}),
            ("raising_model", {}),
            ("hanging_model", {}),
            ("slow_emt", {"sleep_s": 0.6}),
        ):
            name = f"{family}-{params.get('sleep_s', '')}".rstrip("-")
            models.submit_model(
                session, ModelCreate(name=name, family=family, params=params), owner=owner
            )
        crystal_subset(session, "fault metals", METALS)
        crystal_subset(session, "fault Cu", ("Cu",))
        if setup is not None:
            setup(session)
        session.commit()
    engine.dispose()
    return admin.token


@pytest.fixture(scope="module")
def stack() -> Iterator[FaultStack]:
    with fault_stack() as started:
        yield started


@contextmanager
def fault_stack(
    setup: Callable[[Session], None] | None = None, env_overrides: dict[str, str] | None = None
) -> Iterator[FaultStack]:
    """A private Postgres and Redis, the API on them, no worker yet (``start_worker``); the
    database is bootstrapped with the control models, then ``setup`` adds what a test needs."""
    root = Path(tempfile.mkdtemp(prefix="mlipm-faults-"))
    root.chmod(0o755)  # the private cluster runs as the postgres user
    postgres, broker = PostgresCluster(root / "pg"), RedisServer(root / "redis")
    postgres.start()
    broker.start()
    settings_env = {**FAULT_ENV, **(env_overrides or {})}
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", *settings_env)}
    env = {**settings_env, "DATABASE_URL": postgres.url(), "REDIS_URL": broker.url()}
    os.environ.update(env)
    get_settings.cache_clear()
    reset_engine_cache()
    api = None
    try:
        token = _setup_database(postgres.url(), setup)
        port = free_port()
        full_env = {**os.environ, **env}
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "backend.main:app", "--port", str(port)],
            env=full_env,
            stdout=(root / "api.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        api_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{api_url}/health"), 60, "the API")
        fault_stack = FaultStack(
            postgres, broker, full_env, root, api_url, ApiClient(api_url, token)
        )
        yield fault_stack
    finally:
        if "fault_stack" in locals():
            fault_stack.kill_workers()
        if api is not None:
            api.terminate()
            api.wait(20)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        reset_engine_cache()
        broker.stop()
        postgres.stop("immediate")
        if not os.environ.get("MLIPM_KEEP_TEST_LOGS"):
            shutil.rmtree(root, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _runs(stack: FaultStack, campaign_id: uuid.UUID) -> list[Run]:
    with stack.engine_session() as session:
        query = select(Run).join(CampaignRun, CampaignRun.run_id == Run.id)
        return list(session.scalars(query.where(CampaignRun.campaign_id == campaign_id)))


def _rows_per_run(stack: FaultStack, table: Any, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    with stack.engine_session() as session:
        query = select(table.run_id, func.count()).where(table.run_id.in_(run_ids))
        return dict(session.execute(query.group_by(table.run_id)).all())  # type: ignore[arg-type]


def _assert_complete_and_single(stack: FaultStack, campaign_id: uuid.UUID, n_runs: int) -> None:
    """Every run succeeded once: no run lost, no metric or series row duplicated or partial."""
    runs = _runs(stack, campaign_id)
    assert len(runs) == n_runs
    assert {r.status for r in runs} == {RunStatus.SUCCEEDED}, {r.failure_message for r in runs}
    ids = [r.id for r in runs]
    with stack.engine_session() as session:
        names = session.execute(select(Metric.run_id, Metric.name).where(Metric.run_id.in_(ids)))
        per_run: dict[uuid.UUID, list[str]] = {}
        for run_id, name in names:
            per_run.setdefault(run_id, []).append(name)
    assert set(per_run) == set(ids)
    for run_names in per_run.values():
        assert len(run_names) == len(set(run_names))  # no metric written twice
        assert set(run_names) >= EOS_CORE_METRICS  # none missing: no partial result
    # the coarse E(V) scan and the fine one around V0, once each
    assert set(_rows_per_run(stack, Series, ids).values()) == {2}


def _progress_at_least(stack: FaultStack, campaign_id: uuid.UUID, fraction: float) -> bool:
    return stack.admin.campaign(campaign_id).progress.done_fraction >= fraction


def test_sigkilled_workers_lose_no_run_and_duplicate_nothing(stack: FaultStack) -> None:
    stack.start_worker()
    campaign_id = stack.campaign("kill points", "slow_emt-0.12", [7, 9, 11], "fault metals")
    n_runs = 3 * len(METALS)
    eta_seen = False
    for kill_point in (0.2, 0.45, 0.7):
        wait_until(
            lambda kp=kill_point: _progress_at_least(stack, campaign_id, kp),
            120,
            f"{kill_point:.0%} progress",
        )
        progress = stack.admin.campaign(campaign_id).progress
        eta_seen |= progress.eta_s is not None and progress.eta_s > 0
        assert progress.running > 0 or progress.queued > 0
        stack.kill_workers()  # mid-run: runs are 'running' with a lease nobody renews
        stack.start_worker()
    done = stack.wait_finished(campaign_id)
    assert done.status == "finished"
    assert eta_seen
    _assert_complete_and_single(stack, campaign_id, n_runs)
    # the killed runs were taken again, by a later attempt, and finished once
    assert max(r.attempt for r in _runs(stack, campaign_id)) >= 2


def test_a_redis_restart_that_loses_every_message_does_not_stop_the_campaign(
    stack: FaultStack,
) -> None:
    if not stack.workers or stack.workers[-1].poll() is not None:
        stack.start_worker()
    campaign_id = stack.campaign("redis restart", "slow_emt-0.12", [8, 10], "fault metals")
    wait_until(lambda: _progress_at_least(stack, campaign_id, 0.2), 120, "20 % progress")
    stack.redis.stop()
    time.sleep(2)
    stack.redis.start()  # empty: queued messages are gone
    stack.wait_finished(campaign_id, timeout_s=180)
    _assert_complete_and_single(stack, campaign_id, 2 * len(METALS))


def test_a_postgres_restart_gives_503_then_recovers_without_partial_rows(
    stack: FaultStack,
) -> None:
    if not stack.workers or stack.workers[-1].poll() is not None:
        stack.start_worker()
    campaign_id = stack.campaign("postgres restart", "slow_emt-0.12", [12, 13], "fault metals")
    wait_until(lambda: _progress_at_least(stack, campaign_id, 0.2), 120, "20 % progress")
    stack.postgres.stop("immediate")
    try:
        down = httpx.get(f"{stack.api_url}/campaigns/{campaign_id}", timeout=10)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "database_unavailable"
        ready = httpx.get(f"{stack.api_url}/ready", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["postgres"].startswith("unreachable")
        time.sleep(2)
    finally:
        stack.postgres.start()
    stack.wait_finished(campaign_id, timeout_s=180)
    _assert_complete_and_single(stack, campaign_id, 2 * len(METALS))
    assert httpx.get(f"{stack.api_url}/ready", timeout=10).status_code == 200


def test_models_that_return_nan_raise_or_hang_fail_with_their_class(stack: FaultStack) -> None:
    if not stack.workers or stack.workers[-1].poll() is not None:
        stack.start_worker()
    worker = stack.workers[-1]
    spec = CampaignCreate(
        name="faulty models",
        models=[
            ModelRef(name=n)
            for n in ("nan_model", "raising_model", "hanging_model", "slow_emt-0.12")
        ],
        benchmarks=[BenchmarkRef(key="eos", params={"n_points": 7})],
        structure_sets=["fault Cu"],
    )
    campaign_id = stack.admin.create_campaign(spec).id
    done = stack.wait_finished(campaign_id, timeout_s=120)
    assert (done.progress.failed, done.progress.succeeded) == (3, 1)
    with stack.engine_session() as session:
        query = (
            select(Run.status, Run.failure_class, Run.failure_message, Run.mlip_model_id)
            .join(CampaignRun, CampaignRun.run_id == Run.id)
            .where(CampaignRun.campaign_id == campaign_id)
        )
        outcome = {
            session.get(models.MlipModel, model_id).name: (status, cls, msg)  # type: ignore[union-attr]
            for status, cls, msg, model_id in session.execute(query)
        }
    assert outcome["nan_model"][1] == "nan_or_inf"
    assert outcome["raising_model"][1:] == (
        "exception",
        "RuntimeError: raising_model always raises",
    )
    assert outcome["hanging_model"][1] == "timeout"
    assert outcome["slow_emt-0.12"][0] == RunStatus.SUCCEEDED
    assert worker.poll() is None  # the same worker survived all of it


def test_cancel_stops_queued_runs_now_and_the_running_one_at_its_next_step(
    stack: FaultStack,
) -> None:
    if not stack.workers or stack.workers[-1].poll() is not None:
        stack.start_worker()
    campaign_id = stack.campaign("to cancel", "slow_emt-0.6", [11], "fault metals")
    wait_until(lambda: stack.admin.campaign(campaign_id).progress.running > 0, 60, "a run")
    cancelled = stack.admin.cancel_campaign(campaign_id)
    assert cancelled.status == "cancelled"
    assert cancelled.progress.queued == 0
    wait_until(
        lambda: stack.admin.campaign(campaign_id).progress.running == 0,
        20,
        "the running runs to stop",
    )
    runs = _runs(stack, campaign_id)
    assert {r.status for r in runs} <= {RunStatus.CANCELLED, RunStatus.SUCCEEDED}
    stopped = [r for r in runs if r.status == RunStatus.CANCELLED and r.started_at is not None]
    assert stopped, "a running run should have stopped at its next step"
    assert all("cancelled during eos" in (r.failure_message or "") for r in stopped)
    failed_list = httpx.get(
        f"{stack.api_url}/campaigns/{campaign_id}/runs", params={"status": "cancelled"}
    ).json()["items"]
    assert len(failed_list) == sum(r.status == RunStatus.CANCELLED for r in runs)
    assert stack.admin.cancel_campaign(campaign_id).status == "cancelled"  # idempotent
