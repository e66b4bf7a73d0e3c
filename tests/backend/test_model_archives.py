"""Weights archives: recognised by content, unpacked within limits, and run end to end.

The families whose weights are a directory (``locate_directory``: ANI-2x's NeuroChem
``ani-2x_8x``, matgl's ``model.json``/``model.pt``/``state.pt``) take an uploaded .tar.gz or
.zip of it. The worker's cached copy of an upload is named by its sha256 with no extension, so
an archive is recognised by its magic bytes. A zip bomb is refused before anything is written.
Path params (``weights_path``) are an admin's to set.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.db.tables import MlipModel, Run
from backend.domain.statuses import Role, RunStatus
from backend.services import users
from backend.settings import Settings, get_settings
from shared_kernel.failures import BenchmarkSetupError
from tests.factories import crystal_subset
from tests.live import wait_until, worker_args
from tests.workers.weights_files import write_ani2x_dir
from workers.adapters.ani2x import CONSTANTS_FILE
from workers.adapters.registry import ModelSpec
from workers.adapters.weights import (
    ArchiveLimits,
    archive_format,
    extract_archive,
    locate_directory,
)

REPO = Path(__file__).resolve().parents[2]
GIB = 1 << 30
REQUIRED = ("model.json", "sub/state.pt")


def _weights_dir(root: Path) -> Path:
    directory = root / "weights"
    (directory / "sub").mkdir(parents=True)
    (directory / "model.json").write_text('{"kwargs": {"element_types": ["Cu"]}}')
    (directory / "sub" / "state.pt").write_bytes(os.urandom(4096))
    return directory


def _tar_gz(directory: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        tf.add(directory, arcname=directory.name)
    return out.getvalue()


def _zip(directory: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.rglob("*")):
            zf.write(path, path.relative_to(directory.parent).as_posix())
    return out.getvalue()


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1 MiB of zip that expands to 1 GiB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "bomb"  # no extension, like a cached upload
    block = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("model.json", "w") as out:
        for _ in range(GIB // len(block)):
            out.write(block)
    return path


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("pack", [_tar_gz, _zip])
def test_an_archive_without_extension_is_recognised_and_unpacked(tmp_path: Path, pack) -> None:  # type: ignore[no-untyped-def]
    cached = tmp_path / "ab" / ("ab" + "0" * 62)  # the worker's cached copy of an upload
    cached.parent.mkdir()
    cached.write_bytes(pack(_weights_dir(tmp_path / "src")))
    assert archive_format(cached) in {"zip", "tar"}
    spec = ModelSpec("m3gnet", "archived", artifact_path=cached)
    found = locate_directory(spec, required=REQUIRED, fallback=None, what="test weights")
    assert (found / "sub" / "state.pt").read_bytes() == (
        tmp_path / "src" / "weights" / "sub" / "state.pt"
    ).read_bytes()


def test_a_file_that_is_no_archive_is_not_unpacked(tmp_path: Path) -> None:
    plain = tmp_path / "weights.zip"  # the name says zip, the content does not
    plain.write_bytes(b"not an archive at all")
    assert archive_format(plain) is None
    spec = ModelSpec("m3gnet", "plain", artifact_path=plain)
    with pytest.raises(BenchmarkSetupError, match="not on this worker's disk"):
        locate_directory(spec, required=REQUIRED, fallback=None, what="test weights")


def test_a_zip_bomb_is_refused_before_anything_is_written(zip_bomb: Path, tmp_path: Path) -> None:
    assert zip_bomb.stat().st_size < 2 << 20  # ~1 MiB on disk ...
    with zipfile.ZipFile(zip_bomb) as zf:
        assert zf.infolist()[0].file_size == GIB  # ... declaring 1 GiB
    target = tmp_path / "out"
    started = time.perf_counter()
    with pytest.raises(BenchmarkSetupError, match="MLIPM_MAX_ARCHIVE") as info:
        extract_archive(zip_bomb, target, limits=ArchiveLimits())
    assert time.perf_counter() - started < 5
    assert str(GIB) in str(info.value)
    assert not target.exists()  # nothing written, nothing left


def test_limits_on_members_bytes_and_ratio(tmp_path: Path) -> None:
    many = tmp_path / "many"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(11):
            zf.writestr(f"f{i}", b"x")
    with pytest.raises(BenchmarkSetupError, match="more than 10 members"):
        extract_archive(many, tmp_path / "a", limits=ArchiveLimits(max_members=10))
    extract_archive(many, tmp_path / "b", limits=ArchiveLimits(max_members=11))
    assert len(_files(tmp_path / "b")) == 11

    zeros = tmp_path / "zeros"  # a tar.gz of 8 MiB of zeros: ~8 KiB, ratio ~1000
    with tarfile.open(zeros, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 8 << 20
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    for limits in (ArchiveLimits(max_ratio=100), ArchiveLimits(max_bytes=1 << 20)):
        with pytest.raises(BenchmarkSetupError, match="declaring"):
            extract_archive(zeros, tmp_path / "c", limits=limits)
        assert not (tmp_path / "c").exists()
    extract_archive(zeros, tmp_path / "d", limits=ArchiveLimits(max_ratio=2000))
    assert (tmp_path / "d" / "zeros.bin").stat().st_size == 8 << 20


@pytest.mark.parametrize("name", ["../escaped", "/abs/escaped", "a/../../escaped"])
def test_members_never_leave_the_target(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "evil"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, b"x")
    with pytest.raises(BenchmarkSetupError, match="would leave its directory"):
        extract_archive(archive, tmp_path / "out", limits=ArchiveLimits())
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "out").exists()


def test_links_in_a_tar_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "links"
    with tarfile.open(archive, "w") as tf:
        link = tarfile.TarInfo("weights/model.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(BenchmarkSetupError, match="only files and directories"):
        extract_archive(archive, tmp_path / "out", limits=ArchiveLimits())


def test_settings_defaults_are_the_adapters_defaults() -> None:
    defaults, settings = ArchiveLimits(), Settings()
    assert settings.max_archive_extracted_mb * (1 << 20) == defaults.max_bytes
    assert settings.max_archive_ratio == defaults.max_ratio
    assert settings.max_archive_members == defaults.max_members


# --- path params: an admin's to set ------------------------------------------------------


def _headers(session: Session, role: Role) -> dict[str, str]:
    issued = users.ensure_user_with_token(session, name=f"p-{uuid.uuid4().hex[:6]}", role=role)
    return {"Authorization": f"Bearer {issued.token}"}


def test_only_admins_set_path_params(client: TestClient, db_session: Session) -> None:
    submitter, admin = _headers(db_session, Role.SUBMITTER), _headers(db_session, Role.ADMIN)
    body = {"name": f"paths-{uuid.uuid4().hex[:6]}", "family": "m3gnet"}
    path = {"weights_path": "/etc"}
    refused = client.post("/models", json={**body, "params": path}, headers=submitter)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["where"] == "params.weights_path"
    model_id = client.post("/models", json=body, headers=submitter).json()["id"]
    edit = client.patch(f"/models/{model_id}", json={"params": path}, headers=submitter)
    assert (edit.status_code, edit.json()["error"]["where"]) == (422, "params.weights_path")
    version = client.post(f"/models/{model_id}/versions", json={"params": path}, headers=submitter)
    assert (version.status_code, version.json()["error"]["where"]) == (422, "params.weights_path")
    traversal = client.patch(
        f"/models/{model_id}", json={"params": {"model": "../../../tmp/x"}}, headers=submitter
    )
    assert (traversal.status_code, traversal.json()["error"]["where"]) == (422, "params.model")
    by_admin = {**body, "name": f"{body['name']}-admin", "params": path}
    created = client.post("/models", json=by_admin, headers=admin)
    assert created.status_code == 201, created.text


# --- end to end: upload through the API, run on a real worker ---------------------------------


def _installed(*modules: str) -> bool:
    try:
        for module in modules:
            __import__(module)
    except ImportError:
        return False
    return True


def _m3gnet_dir(root: Path) -> Path:
    """A real random-weight M3GNet where torch and matgl are installed, else its file layout."""
    directory = root / "M3GNet-test-PES"
    if _installed("torch", "matgl"):
        from tests.workers.weights_files import write_m3gnet_dir

        return write_m3gnet_dir(directory)
    directory.mkdir(parents=True)
    (directory / "model.json").write_text('{"kwargs": {"element_types": ["Cu"]}}')
    for name in ("model.pt", "state.pt"):
        (directory / name).write_bytes(os.urandom(1024))
    return directory


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A worker on a private queue sharing this process's artifact store; its temporary
    directory (where archives are unpacked) is ``tmp_path / "worker-tmp"``."""
    env = {
        "MLIPM_ARTIFACT_URL": (tmp_path / "store").as_uri(),
        "MLIPM_ARTIFACT_CACHE_DIR": str(tmp_path / "api-cache"),
        "MLIPM_CELERY_QUEUE": f"archives-{uuid.uuid4().hex[:8]}",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    get_settings.cache_clear()
    (tmp_path / "worker-tmp").mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            *worker_args(env["MLIPM_CELERY_QUEUE"], f"arch-{uuid.uuid4().hex[:6]}@%h"),
        ],
        cwd=REPO,
        env={
            **os.environ,
            "MLIPM_ARTIFACT_CACHE_DIR": str(tmp_path / "worker-cache"),
            "TMPDIR": str(tmp_path / "worker-tmp"),
            "OMP_NUM_THREADS": "1",
        },
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _upload(
    client: TestClient, admin: dict[str, str], family: str, content: bytes, **body: object
) -> str:
    name = f"{family}-archive-{uuid.uuid4().hex[:6]}"
    created = client.post("/models", json={"name": name, "family": family, **body}, headers=admin)
    assert created.status_code == 201, created.text
    upload = client.put(f"/models/{created.json()['id']}/file", content=content, headers=admin)
    assert upload.status_code == 200, upload.text
    return name


def test_uploaded_archives_run_on_a_real_worker(
    engine: Engine, bootstrapped: None, worker: dict[str, str], tmp_path: Path, zip_bomb: Path
) -> None:
    from backend.main import create_app

    tag = uuid.uuid4().hex[:6]
    set_name = f"archives {tag}"
    with Session(engine) as session:
        admin = _headers(session, Role.ADMIN)
        crystal_subset(session, set_name, ("C", "Cu"))
        session.commit()
    client = TestClient(create_app())
    write_ani2x_dir(tmp_path / "zoo" / "resources")  # as the model zoo's release tarball
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        tf.add(tmp_path / "zoo", arcname="ani-model-zoo-ani-2x")
    names = {
        "ani2x": _upload(client, admin, "ani2x", out.getvalue()),
        "m3gnet": _upload(client, admin, "m3gnet", _zip(_m3gnet_dir(tmp_path / "matgl"))),
        "bomb": _upload(
            client, admin, "m3gnet", zip_bomb.read_bytes(), params={"elements": ["Cu"]}
        ),
    }
    body = {"name": f"archives {tag}", "models": [{"name": n} for n in names.values()],
            "benchmarks": [{"key": "eos"}], "structure_sets": [set_name]}  # fmt: skip
    created = client.post("/campaigns", json=body, headers=admin)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]

    def finished() -> bool:
        return bool(client.get(f"/campaigns/{campaign_id}").json()["status"] == "finished")

    try:
        wait_until(finished, 240, "the campaign to finish", interval_s=0.5)
    except AssertionError:
        print((tmp_path / "worker.log").read_text()[-5000:])
        raise
    with Session(engine) as session:
        runs = {
            name: session.scalars(
                select(Run)
                .join(MlipModel, MlipModel.id == Run.mlip_model_id)
                .where(MlipModel.name == name, Run.status != RunStatus.SKIPPED)
            ).one()
            for name in names.values()
        }
    unpacked = tmp_path / "worker-tmp" / "mlipm-weights"

    bomb = runs[names["bomb"]]
    assert (bomb.status, bomb.failure_class) == (RunStatus.FAILED, "setup_error")
    assert "MLIPM_MAX_ARCHIVE" in (bomb.failure_message or ""), bomb.failure_message
    assert sum(p.stat().st_size for p in _files(unpacked) if p.name == "model.json") < 1 << 20

    assert any(p.name == CONSTANTS_FILE for p in _files(unpacked))  # the ani2x tarball, unpacked
    assert any(p.name == "state.pt" for p in _files(unpacked))  # the m3gnet zip, unpacked
    for family, packages in (("ani2x", ("torch", "torchani")), ("m3gnet", ("torch", "matgl"))):
        run = runs[names[family]]
        message = run.failure_message or ""
        assert "not on this worker's disk" not in message, message
        if _installed(*packages):  # evaluated: energies computed (a fit may still fail)
            assert run.failure_class not in ("setup_error", "exception"), message
        else:  # found the weights, then stopped at the package (ani2x imports torch bare)
            assert run.failure_class in ("setup_error", "exception"), message
            assert any(p in message for p in packages), message
    if not _installed("torch", "torchani", "matgl"):
        pytest.skip("archives unpacked and found; evaluating them needs the mlip extra (torch)")
