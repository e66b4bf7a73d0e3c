"""Real processes for integration and browser tests: uvicorn serving the API and a Celery
worker consuming a private queue on the real Redis, both on the session's throwaway database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.cli.localservices import free_port
from backend.client import ApiClient
from backend.domain.statuses import Role
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, CampaignRead, ModelRef
from backend.services import users
from tests.factories import crystal_subset

LIVE_MATERIALS = ("Cu", "Ag", "Al", "Fe", "Mg")
LIVE_SET = "live test metals"
BASELINES = ("EMT", "LJ-exp-fit", "Morse-GW-exp-fit")


@dataclass
class LiveStack:
    api_url: str
    admin_token: str
    submitter_token: str
    log_dir: Path

    def client(self, token: str | None = None) -> ApiClient:
        return ApiClient(self.api_url, token)


def _spawn(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_args(queue: str, name: str, *, concurrency: int = 1) -> list[str]:
    """Arguments (after the interpreter) of a test worker: the `mlipm worker` command that the
    demo and docker compose run, on a private queue, without waiting for peers at start."""
    return [
        "-m", "backend.cli", "worker", "--queue", queue, "--concurrency", str(concurrency),
        "--without-mingle", "--without-gossip", "-n", name,
    ]  # fmt: skip


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture(scope="session")
def live_stack(engine: Engine, bootstrapped: None) -> Iterator[LiveStack]:
    """The API (uvicorn) and one Celery worker as real processes."""
    with Session(engine) as session:
        admin = users.ensure_user_with_token(session, name="live-admin", role=Role.ADMIN).token
        submitter = users.ensure_user_with_token(
            session, name="live-submitter", role=Role.SUBMITTER
        ).token
        crystal_subset(session, LIVE_SET, LIVE_MATERIALS)
        session.commit()
    log_dir = Path(tempfile.mkdtemp(prefix="mlipm-live-"))
    api_url, api = _serve_api(log_dir)
    worker = _spawn(
        worker_args(os.environ["MLIPM_CELERY_QUEUE"], f"live-{uuid.uuid4().hex[:6]}@%h"),
        log_dir / "worker.log",
    )
    try:
        yield LiveStack(api_url, admin, submitter, log_dir)
    finally:
        _stop(worker)
        _stop(api)


@pytest.fixture(scope="session")
def finished_campaign(live_stack: LiveStack) -> CampaignRead:
    """The three baselines on eos over five metals, run to the end by the real worker."""
    client = live_stack.client(live_stack.admin_token)
    campaign = client.create_campaign(
        CampaignCreate(
            name="live: baselines on eos",
            models=[ModelRef(name=name) for name in BASELINES],
            benchmarks=[BenchmarkRef(key="eos")],
            structure_sets=[LIVE_SET],
        )
    )

    def _done() -> CampaignRead | None:
        current = client.campaign(campaign.id)
        return current if current.status == "finished" else None

    try:
        return wait_until(_done, 180, "the campaign to finish", interval_s=0.5)  # type: ignore[no-any-return]
    except AssertionError:
        print((live_stack.log_dir / "worker.log").read_text()[-5000:])
        raise


@pytest.fixture(scope="session")
def live_api_url(live_stack: LiveStack, finished_campaign: CampaignRead) -> str:
    """URL of a real API whose database holds a finished campaign."""
    return live_stack.api_url


def _serve_api(
    log_dir: Path, env: dict[str, str] | None = None, *, port: int | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """A real API (uvicorn) on a free port, or on ``port`` (started again there: its own log)."""
    port = port or free_port()
    log = log_dir / f"api-{port}.log"
    again = 1
    while log.exists():
        log, again = log_dir / f"api-{port}-{again}.log", again + 1
    api = _spawn(
        ["-m", "uvicorn", "backend.main:app", "--host", "127.0.0.1", "--port", str(port)], log, env
    )
    api_url = f"http://127.0.0.1:{port}"

    def _api_up() -> bool:
        assert api.poll() is None, log.read_text()
        try:
            return httpx.get(f"{api_url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(_api_up, 60, "the API to answer")
    return api_url, api


@pytest.fixture(scope="session")
def empty_api_url() -> Iterator[str]:
    """URL of a real API on a migrated database that has benchmarks but no results yet."""
    from sqlalchemy import create_engine

    from backend import dbadmin
    from backend.bootstrap import register_benchmarks
    from tests.conftest import new_database_url

    url = new_database_url("mlipm_empty")
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        register_benchmarks(session)
        session.commit()
    engine.dispose()
    api_url, api = _serve_api(Path(tempfile.mkdtemp(prefix="mlipm-empty-")), {"DATABASE_URL": url})
    try:
        yield api_url
    finally:
        _stop(api)
        dbadmin.drop_database(url)
