"""Route tests through the real app on the real (rolled-back) Postgres session."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.services import users
from backend.settings import get_settings


def _token(session: Session, role: Role) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        session, name=f"{role.value}-{uuid.uuid4().hex[:6]}", role=role
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def admin(db_session: Session) -> dict[str, str]:
    return _token(db_session, Role.ADMIN)


@pytest.fixture
def submitter(db_session: Session) -> dict[str, str]:
    return _token(db_session, Role.SUBMITTER)


CAMPAIGN = {
    "name": "route test",
    "models": [{"name": "EMT"}, {"name": "LJ-exp-fit"}],
    "benchmarks": [{"key": "eos"}],
    "structure_sets": ["elemental crystals"],
}


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_errors_have_one_shape_with_a_request_id(client: TestClient) -> None:
    response = client.get(f"/campaigns/{uuid.uuid4()}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "no campaign" in error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]


def test_writes_need_a_valid_token(client: TestClient) -> None:
    body = {"name": "m1", "family": "emt"}
    assert client.post("/models", json=body).status_code == 401
    bad = client.post("/models", json=body, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["error"]["where"] == "Authorization"


def test_submitted_model_waits_for_review_and_admin_model_is_approved(
    client: TestClient, admin: dict[str, str], submitter: dict[str, str]
) -> None:
    mine = client.post("/models", json={"name": "my-mlip", "family": "emt"}, headers=submitter)
    assert mine.status_code == 201
    assert mine.json()["status"] == "pending"
    theirs = client.post("/models", json={"name": "adm-mlip", "family": "emt"}, headers=admin)
    assert theirs.json()["status"] == "approved"
    again = client.post("/models", json={"name": "my-mlip", "family": "emt"}, headers=admin)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"name": "x", "family": "emt", "elements": ["Cu", "Xx"]}, "elements"),
        ({"name": "x y", "family": "emt"}, "body.name"),
        ({"name": "x", "family": "emt", "surprise": 1}, "body.surprise"),
        ({"name": "x", "family": "mace", "params": {"trusted": True}}, "params.trusted"),
    ],
)
def test_bad_model_input_is_refused_with_the_field(
    client: TestClient, submitter: dict[str, str], body: dict[str, object], where: str
) -> None:
    response = client.post("/models", json=body, headers=submitter)
    assert response.status_code == 422
    assert response.json()["error"]["where"] == where


def test_only_admins_start_campaigns(client: TestClient, submitter: dict[str, str]) -> None:
    assert client.post("/campaigns", json=CAMPAIGN).status_code == 401
    response = client.post("/campaigns", json=CAMPAIGN, headers=submitter)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_campaign_expands_runs_skips_unsupported_and_reuses_done_work(
    client: TestClient, admin: dict[str, str]
) -> None:
    first = client.post("/campaigns", json=CAMPAIGN, headers=admin)
    assert first.status_code == 201, first.text
    progress = first.json()["progress"]
    n_structures = client.get("/benchmarks").status_code and progress["total"] // 2
    # EMT covers exactly Al, Cu, Ag, Au, Ni, Pd, Pt; the fitted LJ covers every crystal.
    assert progress["queued"] == n_structures + 7
    assert progress["skipped"] == n_structures - 7
    assert first.json()["n_reused"] == 0
    second = client.post("/campaigns", json=CAMPAIGN, headers=admin).json()
    assert second["n_reused"] == progress["total"]
    assert second["progress"] == progress


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"models": [{"name": "no-such-model"}]}, "models[0]"),
        ({"benchmarks": [{"key": "nope"}]}, "benchmarks[0].key"),
        ({"benchmarks": [{"key": "eos", "params": {"n_pointz": 3}}]}, "benchmarks[0].params"),
        ({"structure_sets": ["missing"]}, "structure_sets[0]"),
    ],
)
def test_bad_campaign_specs_name_the_field_and_write_nothing(
    client: TestClient, admin: dict[str, str], change: dict[str, object], where: str
) -> None:
    before = client.get("/campaigns").json()["items"]
    response = client.post("/campaigns", json={**CAMPAIGN, **change}, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["where"] == where
    assert client.get("/campaigns").json()["items"] == before


def test_unknown_leaderboard_is_404(client: TestClient) -> None:
    assert client.get("/leaderboards/nope").status_code == 404


def test_leaderboard_without_results_lists_no_rows(client: TestClient) -> None:
    board = client.get("/leaderboards/eos").json()
    assert board["benchmark"] == "eos"
    assert [c["name"] for c in board["columns"]][:2] == ["volume_per_atom", "bulk_modulus"]


@pytest.fixture
def artifact_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private artifact store and a 1 MiB upload limit."""
    monkeypatch.setenv("MLIPM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLIPM_MAX_MODEL_FILE_MB", "1")
    get_settings.cache_clear()
    yield tmp_path / "artifacts"
    monkeypatch.undo()
    get_settings.cache_clear()


def _stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_model_file_upload_is_content_addressed_and_resets_review(
    client: TestClient, admin: dict[str, str], submitter: dict[str, str], artifact_dir: Path
) -> None:
    body = {"name": "ts-mlip", "family": "torchscript"}
    model = client.post("/models", json=body, headers=submitter).json()
    content = b"\x00model bytes" * 1000
    sha = hashlib.sha256(content).hexdigest()
    url = f"/models/{model['id']}/file"
    # Streamed as the raw body (application/octet-stream), in chunks.
    chunks = (content[i : i + 4096] for i in range(0, len(content), 4096))
    response = client.put(url, content=chunks, headers=submitter)
    assert response.status_code == 200, response.text
    assert response.json()["artifact_sha256"] == sha
    assert response.json()["is_trusted"] is False
    assert response.json()["status"] == "pending"
    assert _stored_files(artifact_dir) == [artifact_dir / sha[:2] / sha]
    assert (artifact_dir / sha[:2] / sha).read_bytes() == content
    # Nobody anonymous may replace it; the same bytes again are stored once.
    assert client.put(url, content=b"x").status_code == 401
    again = client.put(url, content=content, headers=admin)
    assert again.status_code == 200
    assert _stored_files(artifact_dir) == [artifact_dir / sha[:2] / sha]


def test_model_file_upload_refuses_others_empty_and_missing(
    client: TestClient, db_session: Session, submitter: dict[str, str], artifact_dir: Path
) -> None:
    model = client.post("/models", json={"name": "m-file", "family": "mace"}, headers=submitter)
    url = f"/models/{model.json()['id']}/file"
    stranger = _token(db_session, Role.SUBMITTER)
    refused = client.put(url, content=b"weights", headers=stranger)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    empty = client.put(url, content=b"", headers=submitter)
    assert empty.status_code == 422
    assert empty.json()["error"]["where"] == "body"
    missing = client.put(f"/models/{uuid.uuid4()}/file", content=b"w", headers=submitter)
    assert missing.status_code == 404
    assert _stored_files(artifact_dir) == []


def test_model_file_over_the_limit_is_413_and_leaves_nothing(
    client: TestClient, submitter: dict[str, str], artifact_dir: Path
) -> None:
    model = client.post("/models", json={"name": "big", "family": "mace"}, headers=submitter)
    url = f"/models/{model.json()['id']}/file"
    too_big = b"\x01" * (1024 * 1024 + 1)
    declared = client.put(url, content=too_big, headers=submitter)  # Content-Length checked
    streamed = client.put(  # no Content-Length: the limit holds while reading
        url, content=(too_big[i : i + 65536] for i in range(0, len(too_big), 65536)),
        headers=submitter,
    )  # fmt: skip
    for response in (declared, streamed):
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert "1 MiB" in error["message"]
    assert _stored_files(artifact_dir) == []
    stored = client.get(f"/models/{model.json()['id']}", headers=submitter).json()
    assert stored["artifact_sha256"] is None


def test_only_admins_trust_a_model_file(
    client: TestClient, admin: dict[str, str], submitter: dict[str, str], artifact_dir: Path
) -> None:
    model = client.post("/models", json={"name": "trust-me", "family": "mace"}, headers=submitter)
    model_id = model.json()["id"]
    no_file = client.post(f"/models/{model_id}/trust", headers=admin)
    assert no_file.status_code == 409
    client.put(f"/models/{model_id}/file", content=b"pickled model", headers=submitter)
    assert client.post(f"/models/{model_id}/trust", headers=submitter).status_code == 403
    trusted = client.post(f"/models/{model_id}/trust", headers=admin)
    assert trusted.status_code == 200
    assert trusted.json()["is_trusted"] is True
    # A new file is a new decision: the flag is cleared.
    client.put(f"/models/{model_id}/file", content=b"other model", headers=submitter)
    assert client.get(f"/models/{model_id}", headers=submitter).json()["is_trusted"] is False
    client.post(f"/models/{model_id}/trust", headers=admin)
    revoked = client.post(f"/models/{model_id}/trust", json={"is_trusted": False}, headers=admin)
    assert revoked.json()["is_trusted"] is False


def test_leaderboard_entries_carry_the_quality_flags_their_runs_raised(
    client: TestClient, db_session: Session, admin: dict[str, str]
) -> None:
    from backend.db.tables import Metric, Run
    from backend.domain.statuses import RunStatus

    campaign = client.post("/campaigns", json=CAMPAIGN, headers=admin).json()
    run_id = client.get(f"/campaigns/{campaign['id']}/runs", params={"status": "queued"}).json()[
        "items"
    ][0]["id"]
    run = db_session.get(Run, uuid.UUID(run_id))
    assert run is not None
    run.status = RunStatus.SUCCEEDED
    db_session.add_all(
        [
            Metric(run_id=run.id, name="volume_per_atom", value=11.6, unit="Å³/atom"),
            Metric(run_id=run.id, name="flag_window_sensitive", value=1.0, unit="1"),
            Metric(run_id=run.id, name="flag_large_fit_residual", value=0.0, unit="1"),
        ]
    )
    db_session.flush()
    board = client.get("/leaderboards/eos", params={"include_entries": "true"}).json()
    entry = next(e for e in board["entries"] if e["run_id"] == run_id)
    assert entry["flags"] == ["flag_window_sensitive"]
    row = next(r for r in board["rows"] if r["model_id"] == entry["model_id"])
    assert row["n_flagged"] == 1
