"""Route tests through the real app on the real (rolled-back) Postgres session."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.db.models import Role
from backend.services import users


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
