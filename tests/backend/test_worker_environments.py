"""Two worker environments on one machine: families whose packages conflict run apart.

mace-torch 0.3.16 pins e3nn 0.4.4 while sevenn (in .venv) needs e3nn >= 0.5, so the 'mace'
family runs on a worker started from .venv-mace (``make install-mace``) that listens on its own
queue; MLIPM_FAMILY_QUEUES routes the family there. Real processes: one Celery worker from each
environment, the session's throwaway database, the real Redis, private queues.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.db.tables import CampaignRun, Metric, MlipModel, Run, Series
from backend.domain.statuses import Role, RunStatus
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from backend.schemas.models import ModelCreate
from backend.services import campaigns, models, users
from backend.settings import get_settings
from shared_kernel import artifacts
from tests.factories import EOS_CORE_METRICS, crystal_subset
from tests.live import wait_until, worker_args

REPO = Path(__file__).resolve().parents[2]
MACE_PYTHON = REPO / ".venv-mace" / "bin" / "python"
MAKE_MODEL = REPO / "tests" / "make_random_mace_model.py"
#: seed whose random-weights model has an E(V) minimum for fcc Cu inside the eos scan
MODEL_SEED = "1"
#: a non-default eos parameter, so no run of another test in this session is reused
EOS_PARAMS = {"volume_range": 0.19}

pytestmark = pytest.mark.skipif(
    not MACE_PYTHON.exists(), reason="needs the mace worker environment: make install-mace"
)


def _start_worker(
    python: Path, queue: str, name: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(python), *worker_args(queue, name)],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with its pool below
    )


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Warm shutdown, then SIGKILL whatever is left of the worker's process group."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # pool children that outlived their parent
    if proc.poll() is None:
        proc.wait()


@pytest.fixture
def routed_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Private queues for this test: the default one and one the 'mace' family is routed to;
    a private artifact store that both workers share."""
    queues = {
        "MLIPM_CELERY_QUEUE": f"cpu-{uuid.uuid4().hex[:8]}",
        "MLIPM_FAMILY_QUEUES": json.dumps({"mace": f"mace-{uuid.uuid4().hex[:8]}"}),
        "MLIPM_ARTIFACT_URL": tmp_path_factory.mktemp("store").as_uri(),
    }
    saved = {key: os.environ.get(key) for key in queues}
    os.environ.update(queues)
    get_settings.cache_clear()
    try:
        yield queues
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _register(
    session: Session, admin_name: str, model_file: Path, set_name: str
) -> tuple[str, str]:
    """Two 'mace' models on the same file, one trusted by an admin, one not; a Cu set."""
    admin = users.ensure_user_with_token(session, name=admin_name, role=Role.ADMIN).user
    sha256 = hashlib.sha256(model_file.read_bytes()).hexdigest()
    suffix = uuid.uuid4().hex[:6]
    trusted, untrusted = f"mace-random-{suffix}", f"mace-random-untrusted-{suffix}"
    for name, trust in ((trusted, True), (untrusted, False)):
        model = models.submit_model(
            session, ModelCreate(name=name, family="mace", elements=["Al", "Cu"]), owner=admin
        )
        stored = artifacts.store_file(model_file, store_url=get_settings().artifact_url)
        assert stored.sha256 == sha256
        models.attach_model_file(session, model.id, key=stored.key, sha256=sha256, user=admin)
        models.set_model_trust(session, model.id, is_trusted=trust)
    crystal_subset(session, set_name, ("Cu",))
    session.commit()
    return trusted, untrusted


def test_mace_runs_on_its_own_worker_environment(
    engine: Engine, bootstrapped: None, routed_env: dict[str, str], tmp_path: Path
) -> None:
    settings = get_settings()
    cpu_queue, mace_queue = settings.celery_queue, settings.queue_for("mace")
    assert mace_queue != cpu_queue
    assert mace_queue.startswith("mace-")
    env = {**os.environ, **routed_env, "OMP_NUM_THREADS": "1"}
    model_file = tmp_path / "random-mace.model"
    tag = uuid.uuid4().hex[:6]
    cpu_name, mace_name = f"cpu-{tag}", f"mace-{tag}"

    # The model file, written by .venv-mace (it holds mace), while both workers start.
    maker = subprocess.Popen(
        [str(MACE_PYTHON), str(MAKE_MODEL), str(model_file), "Cu", "Al", "--seed", MODEL_SEED],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    workers = [
        _start_worker(Path(sys.executable), cpu_queue, f"{cpu_name}@%h", env, tmp_path / "cpu.log"),
        _start_worker(MACE_PYTHON, mace_queue, f"{mace_name}@%h", env, tmp_path / "mace.log"),
    ]
    try:
        maker_out, _ = maker.communicate(timeout=120)
        assert maker.returncode == 0, maker_out.decode()[-3000:]

        with Session(engine) as session:
            trusted, untrusted = _register(
                session, f"envs-admin-{tag}", model_file, f"worker envs Cu {tag}"
            )
            admin = users.ensure_user_with_token(
                session, name=f"envs-admin-{tag}", role=Role.ADMIN
            ).user
            launch = campaigns.launch_campaign(
                session,
                CampaignCreate(
                    name=f"worker environments {tag}",
                    models=[ModelRef(name=n) for n in ("EMT", trusted, untrusted)],
                    benchmarks=[BenchmarkRef(key="eos", params=EOS_PARAMS)],
                    structure_sets=[f"worker envs Cu {tag}"],
                ),
                owner=admin,
            )
            campaign_id = launch.campaign.id
            session.commit()  # the messages go out after this commit

        # Meanwhile: the two environments really differ.
        no_mace = subprocess.run(
            [sys.executable, "-c", "import mace"], capture_output=True, text=True, timeout=60
        )
        assert no_mace.returncode != 0
        assert "No module named 'mace'" in no_mace.stderr
        in_mace = subprocess.run(
            [str(MACE_PYTHON), "-c", "import mace, e3nn, torch; print(e3nn.__version__)"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert in_mace.returncode == 0, in_mace.stderr[-2000:]
        assert in_mace.stdout.split()[-1] == "0.4.4"

        def finished() -> bool:
            with Session(engine) as session:
                return campaigns.read_campaign(session, campaign_id).status == "finished"

        try:
            wait_until(finished, 90, "the campaign to finish", interval_s=0.5)
        except AssertionError:
            for log in ("cpu.log", "mace.log"):
                print(log, (tmp_path / log).read_text(errors="replace")[-4000:])
            raise

        with Session(engine) as session:
            rows = session.execute(
                select(MlipModel.name, Run)
                .join(Run, Run.mlip_model_id == MlipModel.id)
                .join(CampaignRun, CampaignRun.run_id == Run.id)
                .where(CampaignRun.campaign_id == campaign_id)
            ).all()
            runs = dict(rows)
            assert set(runs) == {"EMT", trusted, untrusted}

            emt = runs["EMT"]
            assert emt.status == RunStatus.SUCCEEDED, emt.failure_message
            assert emt.worker is not None
            assert emt.worker.startswith(f"{cpu_name}@"), emt.worker

            mace_run = runs[trusted]
            assert mace_run.status == RunStatus.SUCCEEDED, mace_run.failure_message
            assert mace_run.worker is not None
            assert mace_run.worker.startswith(f"{mace_name}@"), mace_run.worker
            metrics = {
                m.name: m.value
                for m in session.scalars(select(Metric).where(Metric.run_id == mace_run.id))
            }
            assert set(metrics) >= EOS_CORE_METRICS, sorted(metrics)
            assert all(math.isfinite(v) for v in metrics.values()), metrics
            curve = session.scalars(
                select(Series).where(Series.run_id == mace_run.id, Series.name == "energy_volume")
            ).one()
            assert len(curve.x) == len(curve.y) == 11
            assert all(math.isfinite(v) for v in [*curve.x, *curve.y])
            packages = mace_run.provenance["packages"]
            assert packages.get("e3nn") == "0.4.4", packages

            refused = runs[untrusted]
            assert refused.status == RunStatus.FAILED
            assert refused.failure_class == "setup_error"
            assert refused.worker is not None
            assert refused.worker.startswith(f"{mace_name}@")
            message = refused.failure_message or ""
            assert "cannot be loaded safely" in message, message
            assert "mark the model trusted" in message, message
    finally:
        if maker.poll() is None:
            maker.kill()
            maker.wait()
        for worker in workers:
            _stop_group(worker)
    for worker in workers:
        assert worker.poll() is not None
