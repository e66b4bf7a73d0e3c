"""The artifact store shared across hosts: records hold store keys, every process resolves
them against its own MLIPM_ARTIFACT_URL, and workers load models from a local, sha256-verified
read-through cache.

Real processes where it matters: an HTTP server serving the store to another process (a read-only
store that is not a local directory), and a Celery worker with its own cache directory and no
path to the API's directory, running a model uploaded through the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.cli.localservices import free_port
from backend.db.tables import Metric, MlipModel, Run
from backend.domain.statuses import Role, RunStatus
from backend.services import users
from backend.settings import get_settings
from shared_kernel import artifacts
from shared_kernel.errors import PayloadTooLarge
from tests.conftest import new_database_url
from tests.factories import crystal_subset
from tests.live import wait_until, worker_args

REPO = Path(__file__).resolve().parents[2]
GPA = 160.21766208  # GPa per eV/Å³
#: the Birch-Murnaghan parameters baked into the uploaded model: what eos must give back
V0_A3, B0_GPA, BP = 11.5, 140.0, 4.5


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def _chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _store(data: bytes, url: str, max_bytes: int = 1 << 20) -> artifacts.StoredArtifact:
    return asyncio.run(artifacts.store_stream(_chunks(data), store_url=url, max_bytes=max_bytes))


@pytest.mark.parametrize("chain", ["", "simplecache::"])
def test_store_is_content_addressed_atomic_and_keyed_relative(tmp_path: Path, chain: str) -> None:
    root = tmp_path / "store"
    url = chain + root.as_uri()
    data = b"\x00weights" * 3000
    first = _store(data, url)
    assert first.key == f"{_sha(data)[:2]}/{_sha(data)}"  # relative: no host path in records
    assert first.created
    assert first.size_bytes == len(data)
    assert _files(root) == [root / first.key]
    assert (root / first.key).read_bytes() == data
    again = _store(data, url)
    assert (again.key, again.created) == (first.key, False)  # stored once
    with pytest.raises(PayloadTooLarge):
        _store(b"y" * 5000, url, max_bytes=4096)
    assert _files(root) == [root / first.key]  # nothing half-written, no temporary left
    artifacts.discard(again)  # not created by that upload: kept
    assert (root / first.key).is_file()
    artifacts.discard(first)
    assert _files(root) == []


def test_local_copy_refetches_a_corrupt_cache_and_names_key_and_store(tmp_path: Path) -> None:
    url = (tmp_path / "store").as_uri()
    data = b"model" * 1000
    stored = _store(data, url)
    cache = tmp_path / "cache"
    path = artifacts.local_copy(stored.key, stored.sha256, store_url=url, cache_dir=cache)
    assert path == cache / stored.key
    assert path.read_bytes() == data
    path.write_bytes(b"truncated")  # corrupt cached copy: detected by sha256, fetched again
    again = artifacts.local_copy(stored.key, stored.sha256, store_url=url, cache_dir=cache)
    assert again.read_bytes() == data
    assert _files(cache) == [path]
    missing = "ab/" + "ab" * 32
    with pytest.raises(artifacts.ArtifactUnavailable) as lost:
        artifacts.local_copy(missing, "ab" * 32, store_url=url, cache_dir=cache)
    assert missing in str(lost.value)
    assert url in str(lost.value)
    (tmp_path / "store" / stored.key).write_bytes(b"tampered")  # the store's copy is wrong
    with pytest.raises(artifacts.ArtifactUnavailable, match="corrupt"):
        artifacts.local_copy(stored.key, stored.sha256, store_url=url, cache_dir=tmp_path / "c2")
    assert _files(tmp_path / "c2") == []  # a wrong copy is never published in the cache
    with pytest.raises(artifacts.ArtifactUnavailable, match="store-relative"):
        artifacts.local_copy("../etc/passwd", "0" * 64, store_url=url, cache_dir=cache)


def test_a_store_served_over_http_by_another_process(tmp_path: Path) -> None:
    """Workers may read the store through a URL other than the API's (here: HTTP)."""
    root = tmp_path / "store"
    data = b"served" * 2000
    stored = _store(data, root.as_uri())
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 30, "the HTTP server")
        cache = tmp_path / "http-cache"
        path = artifacts.local_copy(stored.key, stored.sha256, store_url=url, cache_dir=cache)
        assert path.read_bytes() == data
        assert not path.is_relative_to(root)
        missing = "cd/" + "cd" * 32
        with pytest.raises(artifacts.ArtifactUnavailable) as lost:
            artifacts.local_copy(missing, "cd" * 32, store_url=url, cache_dir=cache)
        assert missing in str(lost.value)
        assert url in str(lost.value)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_migration_turns_host_paths_into_store_keys() -> None:
    """Records from before 0006 held absolute host paths; content-addressed ones become keys."""
    from alembic.script import ScriptDirectory

    url = new_database_url("mlipm_keys")
    dbadmin.ensure_database(url)
    engine = create_engine(url)
    keys_revision = "0006_store_artifact_keys"
    before = ScriptDirectory.from_config(dbadmin.alembic_config(url)).get_revision(keys_revision)
    sha, other = "ab" * 32, "cd" * 32
    rows = {  # name: (artifact_path, artifact_sha256, training_set_path, training_set_sha256)
        "stored": (f"/srv/api/.mlipm/artifacts/ab/{sha}", sha, f"/x/cd/{other}", other),
        "elsewhere": ("/home/me/model.pt", sha, None, None),
        "no-file": (None, None, None, None),
    }
    try:
        dbadmin.upgrade(url, str(before.down_revision))
        with engine.begin() as conn:
            for name, values in rows.items():
                conn.execute(
                    text(
                        "INSERT INTO mlip_model (id, name, version, family, params, card, "
                        "is_baseline, status, artifact_path, artifact_sha256, training_set_path, "
                        "training_set_sha256) VALUES (gen_random_uuid(), :n, '1', 'torchscript', "
                        "'{}', '{}', false, 'approved', :a, :s, :t, :ts)"
                    ),
                    dict(zip(("n", "a", "s", "t", "ts"), (name, *values), strict=True)),
                )
        dbadmin.upgrade(url, keys_revision)
        query = "SELECT name, artifact_key, training_set_key FROM mlip_model"
        with engine.connect() as conn:
            keys = {name: (a, t) for name, a, t in conn.execute(text(query))}
        assert keys == {
            "stored": (f"ab/{sha}", f"cd/{other}"),
            "elsewhere": ("/home/me/model.pt", None),  # not in the store: kept, fails by name
            "no-file": (None, None),
        }
        dbadmin.upgrade(url)
        dbadmin.downgrade(url, str(before.down_revision))
        with engine.connect() as conn:
            back = conn.execute(text("SELECT artifact_path FROM mlip_model WHERE name = 'stored'"))
            assert back.scalar_one() == f"ab/{sha}"
    finally:
        engine.dispose()
        dbadmin.drop_database(url)


def _birch_murnaghan_torchscript(path: Path, v0_a3: float) -> bytes:
    """A TorchScript potential whose E(V) is Birch-Murnaghan with known V0, B0, B'."""
    pytest.importorskip("torch")
    import torch

    class BirchMurnaghan(torch.nn.Module):
        def __init__(self, v0: float, b0: float, bp: float) -> None:
            super().__init__()
            self.v0, self.b0, self.bp = v0, b0, bp

        def forward(
            self,
            positions: torch.Tensor,
            numbers: torch.Tensor,
            cell: torch.Tensor,
            pbc: torch.Tensor,
        ) -> torch.Tensor:
            n = positions.shape[0]
            eta = (self.v0 / (torch.abs(torch.linalg.det(cell)) / n)) ** (2.0 / 3.0)
            shape = (eta - 1.0) ** 3 * self.bp + (eta - 1.0) ** 2 * (6.0 - 4.0 * eta)
            # positions enter with weight 0, so forces (zero) come out of autograd
            return n * 9.0 * self.v0 * self.b0 / 16.0 * shape + 0.0 * positions.sum()

    torch.jit.script(BirchMurnaghan(v0_a3, B0_GPA / GPA, BP)).save(str(path))
    return path.read_bytes()


@pytest.fixture
def shared_store(tmp_path: Path) -> Iterator[dict[str, str]]:
    """This process plays the API host: its store URL and cache, and a private run queue."""
    env = {
        "MLIPM_ARTIFACT_URL": (tmp_path / "store").as_uri(),
        "MLIPM_ARTIFACT_CACHE_DIR": str(tmp_path / "api-cache"),
        "MLIPM_CELERY_QUEUE": f"artifacts-{uuid.uuid4().hex[:8]}",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _worker(env: dict[str, str], tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """A worker as on another host: the same store URL, its own cache, no API directory."""
    worker_env = {
        **os.environ,
        "MLIPM_ARTIFACT_URL": env["MLIPM_ARTIFACT_URL"],
        "MLIPM_ARTIFACT_CACHE_DIR": str(tmp_path / "worker-cache"),
        "MLIPM_ARTIFACT_DIR": str(tmp_path / "not-on-this-host"),
        "MLIPM_CELERY_QUEUE": env["MLIPM_CELERY_QUEUE"],
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, *worker_args(env["MLIPM_CELERY_QUEUE"], f"{name}@%h")],
        cwd=REPO,
        env=worker_env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _campaign(client: TestClient, admin: dict[str, str], models: list[str], **spec: object) -> str:
    body = {"name": f"artifacts {uuid.uuid4().hex[:6]}", "models": [{"name": m} for m in models]}
    response = client.post("/campaigns", json={**body, **spec}, headers=admin)
    assert response.status_code == 201, response.text
    campaign_id: str = response.json()["id"]

    def finished() -> bool:
        return bool(client.get(f"/campaigns/{campaign_id}").json()["status"] == "finished")

    wait_until(finished, 120, "the campaign to finish", interval_s=0.5)
    return campaign_id


def _run(session: Session, model: str) -> tuple[Run, dict[str, float]]:
    runs = session.scalars(
        select(Run)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .where(MlipModel.name == model)
    ).all()
    latest = max(runs, key=lambda r: r.created_at)
    metrics = session.scalars(select(Metric).where(Metric.run_id == latest.id))
    return latest, {m.name: m.value for m in metrics}


def test_a_worker_on_another_host_runs_a_model_uploaded_through_the_api(
    engine: Engine, bootstrapped: None, shared_store: dict[str, str], tmp_path: Path
) -> None:
    from backend.main import create_app

    tag = uuid.uuid4().hex[:6]
    worker = _worker(shared_store, tmp_path, f"remote-{tag}")
    try:
        good = _birch_murnaghan_torchscript(tmp_path / "bm.pt", V0_A3)
        lost = _birch_murnaghan_torchscript(tmp_path / "bm-lost.pt", V0_A3 + 0.5)
        set_name = f"artifact store Cu {tag}"
        with Session(engine) as session:
            token = users.ensure_user_with_token(session, name=f"store-{tag}", role=Role.ADMIN)
            crystal_subset(session, set_name, ("Cu",))
            session.commit()
        admin = {"Authorization": f"Bearer {token.token}"}
        client = TestClient(create_app())
        names = {"good": f"bm-{tag}", "lost": f"bm-lost-{tag}"}
        for which, content in (("good", good), ("lost", lost)):
            body = {"name": names[which], "family": "torchscript", "elements": ["Cu"]}
            created = client.post("/models", json=body, headers=admin)
            assert created.status_code == 201, created.text
            upload = client.put(
                f"/models/{created.json()['id']}/file", content=content, headers=admin
            )
            assert upload.status_code == 200, upload.text
            assert upload.json()["artifact_sha256"] == _sha(content)
        store = tmp_path / "store"
        good_key, lost_key = (f"{_sha(c)[:2]}/{_sha(c)}" for c in (good, lost))
        with Session(engine) as session:
            keys = dict(session.execute(select(MlipModel.name, MlipModel.artifact_key)).all())
        assert keys[names["good"]] == good_key  # a key in the store, not a path on this host
        assert (store / good_key).read_bytes() == good
        (store / lost_key).unlink()  # the store lost this one

        eos = {"benchmarks": [{"key": "eos"}], "structure_sets": [set_name]}
        _campaign(client, admin, list(names.values()), **eos)
        with Session(engine) as session:
            run, metrics = _run(session, names["good"])
            assert run.status == RunStatus.SUCCEEDED, run.failure_message
            assert (run.worker or "").startswith(f"remote-{tag}@")
            assert metrics["volume_per_atom"] == pytest.approx(V0_A3, rel=1e-4)
            assert metrics["bulk_modulus"] == pytest.approx(B0_GPA, rel=1e-3)
            assert metrics["bulk_modulus_pressure_derivative"] == pytest.approx(BP, rel=1e-2)
            failed, _ = _run(session, names["lost"])
            assert failed.status == RunStatus.FAILED
            assert failed.failure_class == "setup_error"
            assert lost_key in (failed.failure_message or ""), failed.failure_message
            assert shared_store["MLIPM_ARTIFACT_URL"] in (failed.failure_message or "")
        cached = tmp_path / "worker-cache" / good_key
        assert cached.read_bytes() == good  # the worker loaded it from its own cache
        assert _files(tmp_path / "api-cache") == []  # the API never needed a local model copy

        # A corrupt cached copy is noticed (sha256) and fetched again; the run still succeeds.
        cached.write_bytes(b"garbage")
        narrower = {**eos, "benchmarks": [{"key": "eos", "params": {"volume_range": 0.15}}]}
        _campaign(client, admin, [names["good"]], **narrower)
        with Session(engine) as session:
            rerun, metrics = _run(session, names["good"])
            assert rerun.id != run.id
            assert rerun.status == RunStatus.SUCCEEDED, rerun.failure_message
            assert metrics["volume_per_atom"] == pytest.approx(V0_A3, rel=1e-4)
        assert cached.read_bytes() == good
    except AssertionError:
        print((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)  # pool children that outlived their parent
        worker.wait()
