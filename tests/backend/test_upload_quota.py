"""A submitter's uploads are bounded by a storage quota, and a replaced file that no model
records any more is removed from the store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.services import users
from backend.settings import get_settings

MIB = 1024 * 1024


def _headers(session: Session, role: Role) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        session, name=f"quota-{role.value}-{uuid.uuid4().hex[:6]}", role=role
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "artifacts"
    monkeypatch.setenv("MLIPM_ARTIFACT_URL", root.as_uri())
    monkeypatch.setenv("MLIPM_USER_STORAGE_QUOTA_MB", "1")
    get_settings.cache_clear()
    yield root
    monkeypatch.undo()
    get_settings.cache_clear()


def _files(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts}


def _model(client: TestClient, headers: dict[str, str]) -> str:
    body = {"name": f"quota-{uuid.uuid4().hex[:8]}", "family": "emt"}
    created = client.post("/models", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_the_quota_refuses_what_does_not_fit_and_a_replacement_frees_its_file(
    client: TestClient, db_session: Session, store: Path
) -> None:
    submitter = _headers(db_session, Role.SUBMITTER)
    first, second = _model(client, submitter), _model(client, submitter)
    old = b"a" * (600 * 1024)
    assert client.put(f"/models/{first}/file", content=old, headers=submitter).status_code == 200
    db_session.commit()
    over = client.put(f"/models/{second}/file", content=b"b" * (600 * 1024), headers=submitter)
    assert over.status_code == 413, over.text
    assert "MLIPM_USER_STORAGE_QUOTA_MB" in over.json()["error"]["message"]
    assert len(_files(store)) == 1  # nothing of the refused upload stays

    # Replacing the first model's file: the old one no longer counts, and is removed.
    new = b"c" * (700 * 1024)
    replaced = client.put(f"/models/{first}/file", content=new, headers=submitter)
    assert replaced.status_code == 200, replaced.text
    assert len(_files(store)) == 2  # removed only once the replacement commits
    db_session.commit()
    assert _files(store) == {replaced.json()["artifact_sha256"]}

    # An admin has no quota, only the per-file limit.
    admin = _headers(db_session, Role.ADMIN)
    big = client.put(
        f"/models/{_model(client, admin)}/file", content=b"d" * (2 * MIB), headers=admin
    )
    assert big.status_code == 200


def test_a_file_another_version_records_is_kept(
    client: TestClient, db_session: Session, store: Path
) -> None:
    submitter = _headers(db_session, Role.SUBMITTER)
    source = _model(client, submitter)
    first = client.put(f"/models/{source}/file", content=b"x" * 1000, headers=submitter).json()
    version = client.post(f"/models/{source}/versions", json={}, headers=submitter).json()
    assert version["artifact_sha256"] == first["artifact_sha256"]
    changed = client.put(f"/models/{version['id']}/file", content=b"y" * 1000, headers=submitter)
    assert changed.status_code == 200
    db_session.commit()
    assert _files(store) == {first["artifact_sha256"], changed.json()["artifact_sha256"]}
