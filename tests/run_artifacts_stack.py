"""A real API (uvicorn) and a real Celery worker sharing a private artifact store, for the tests
of the files runs produce (trajectories): the worker writes them, the API serves them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.services import users
from backend.settings import get_settings
from tests.factories import crystal_subset
from tests.live import _serve_api, _stop, wait_until, worker_args

REPO = Path(__file__).resolve().parents[1]
#: nve on the 8-atom Cu supercell for 0.4 ps: these tests are about storing and serving a
#: trajectory, not about its physics (the standard protocol runs 125 atoms for 0.6 ps).
SMALL_NVE = {"key": "nve", "params": {"min_atoms": 8, "duration_ps": 0.4}}


@dataclass
class ArtifactStack:
    api_url: str
    admin: dict[str, str]  # Authorization header of an admin
    store: Path  # the artifact store's directory (file:// URL of both processes)
    structure_set: str  # holds fcc Cu only
    log_dir: Path

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30)

    def finished_runs(self, *benchmarks: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Run EMT on the given benchmarks over Cu to the end; the runs by benchmark key."""
        body = {
            "name": f"artifacts {uuid.uuid4().hex[:6]}",
            "models": [{"name": "EMT"}],
            "benchmarks": list(benchmarks),
            "structure_sets": [self.structure_set],
        }
        with self.http() as http:
            created = http.post("/campaigns", json=body, headers=self.admin)
            assert created.status_code == 201, created.text
            campaign_id = created.json()["id"]

            def finished() -> bool:
                return bool(http.get(f"/campaigns/{campaign_id}").json()["status"] == "finished")

            try:
                wait_until(finished, 180, "the campaign to finish", interval_s=0.5)
            except AssertionError:
                print((self.log_dir / "worker.log").read_text()[-5000:])
                raise
            page = http.get("/runs", params={"campaign_id": campaign_id}).json()
        return {run["benchmark_key"]: run for run in page["items"]}


@contextmanager
def artifact_stack(engine: Engine) -> Iterator[ArtifactStack]:
    """Start the worker and the API on a fresh store and a private queue; stop them after."""
    tmp = Path(tempfile.mkdtemp(prefix="mlipm-run-artifacts-"))
    tag = uuid.uuid4().hex[:6]
    env = {
        "MLIPM_ARTIFACT_URL": (tmp / "store").as_uri(),
        "MLIPM_ARTIFACT_CACHE_DIR": str(tmp / "cache"),
        "MLIPM_CELERY_QUEUE": f"artifacts-{tag}",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    get_settings.cache_clear()
    set_name = f"run artifacts Cu {tag}"
    with Session(engine) as session:
        token = users.ensure_user_with_token(session, name=f"artifacts-{tag}", role=Role.ADMIN)
        crystal_subset(session, set_name, ("Cu",))
        session.commit()
    worker = subprocess.Popen(
        [sys.executable, *worker_args(env["MLIPM_CELERY_QUEUE"], f"artifacts-{tag}@%h")],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=(tmp / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = None
    try:
        api_url, api = _serve_api(tmp, env)
        admin = {"Authorization": f"Bearer {token.token}"}
        yield ArtifactStack(api_url, admin, tmp / "store", set_name, tmp)
    finally:
        _stop(worker)
        if api is not None:
            _stop(api)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
