"""Users and API tokens through the real app: secrets shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.tables import ApiToken
from backend.domain.statuses import Role
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


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_is_shown_once_stored_hashed_and_dead_once_revoked(
    client: TestClient, submitter: dict[str, str], db_session: Session
) -> None:
    me = client.get("/users/me", headers=submitter).json()
    created = client.post("/tokens", json={"name": "laptop"}, headers=submitter)
    assert created.status_code == 201, created.text
    secret, token_id = created.json()["token"], created.json()["id"]
    assert secret.startswith("mlipm_")
    assert created.json()["prefix"] == secret[:12]
    assert client.get("/users/me", headers=_bearer(secret)).json()["id"] == me["id"]
    record = db_session.scalar(select(ApiToken).where(ApiToken.id == uuid.UUID(token_id)))
    assert record is not None
    assert record.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(v) for v in vars(record).values()}  # only the hash is stored
    listed = client.get("/tokens", headers=submitter).json()
    assert "token" not in listed["items"][0]
    assert token_id in {t["id"] for t in listed["items"]}
    assert secret not in str(listed)
    assert client.delete(f"/tokens/{token_id}", headers=_bearer(secret)).status_code == 204
    refused = client.get("/users/me", headers=_bearer(secret))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    revoked = next(
        t for t in client.get("/tokens", headers=submitter).json()["items"] if t["id"] == token_id
    )
    assert revoked["revoked_at"] is not None
    assert client.delete(f"/tokens/{token_id}", headers=submitter).status_code == 204  # idempotent


def test_someone_elses_token_is_404_to_a_submitter_and_revocable_by_an_admin(
    client: TestClient, submitter: dict[str, str], admin: dict[str, str], db_session: Session
) -> None:
    other = _token(db_session, Role.SUBMITTER)
    token_id = client.post("/tokens", json={}, headers=other).json()["id"]
    assert client.delete(f"/tokens/{token_id}", headers=submitter).status_code == 404
    assert token_id not in {
        t["id"] for t in client.get("/tokens", headers=submitter).json()["items"]
    }
    assert client.delete(f"/tokens/{token_id}", headers=admin).status_code == 204
    assert client.delete(f"/tokens/{uuid.uuid4()}", headers=admin).status_code == 404
    assert client.get("/users/me", headers=other).status_code == 200  # the other token lives


def test_tokens_list_in_pages_newest_first(client: TestClient, submitter: dict[str, str]) -> None:
    names = [f"t{i}" for i in range(3)]
    for name in names:
        client.post("/tokens", json={"name": name}, headers=submitter)
    page = client.get("/tokens", params={"limit": 2}, headers=submitter).json()
    assert (len(page["items"]), page["total"]) == (2, 4)  # the fixture's token, then three
    rest = client.get("/tokens", params={"limit": 2, "offset": 2}, headers=submitter).json()
    assert len(rest["items"]) == 2
    assert len({t["id"] for t in page["items"] + rest["items"]}) == 4
    assert client.get("/tokens", params={"limit": 0}, headers=submitter).status_code == 422


def test_admins_create_users_who_get_a_working_first_token(
    client: TestClient, admin: dict[str, str], submitter: dict[str, str]
) -> None:
    name = f"alice-{uuid.uuid4().hex[:6]}"
    created = client.post("/users", json={"name": name, "email": "a@example.org"}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user"]["role"] == "submitter"
    me = client.get("/users/me", headers=_bearer(body["token"]["token"])).json()
    assert (me["name"], me["role"]) == (name, "submitter")
    again = client.post("/users", json={"name": name}, headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["where"] == "name"
    bad = client.post("/users", json={"name": "no spaces", "role": "root"}, headers=admin)
    assert bad.status_code == 422
    assert "name" in bad.json()["error"]["message"]
    assert "role" in bad.json()["error"]["message"]
    promoted = client.post("/users", json={"name": f"{name}-adm", "role": "admin"}, headers=admin)
    assert promoted.json()["user"]["role"] == "admin"
    listed = client.get("/users", params={"limit": 1000}, headers=admin).json()
    assert {name, f"{name}-adm"} <= {u["name"] for u in listed["items"]}
    assert listed["total"] == len(listed["items"])
    assert client.get("/users", headers=submitter).status_code == 403
    assert client.post("/users", json={"name": "x"}, headers=submitter).status_code == 403


def test_anonymous_and_unknown_tokens_are_401(client: TestClient) -> None:
    for headers in ({}, _bearer("mlipm_not-a-token")):
        response = client.get("/users/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["where"] == "Authorization"
    assert client.get("/tokens").status_code == 401


def test_the_cli_creates_lists_and_revokes_tokens(
    client: TestClient, submitter: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from backend.cli import tokens as cli_tokens
    from backend.cli.main import app as cli
    from backend.client import ApiClient

    def in_process(token: str) -> ApiClient:  # the CLI's client, wired to the in-process app
        api = ApiClient("http://testserver", token or None)
        api._http = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})  # type: ignore[assignment]
        return api

    monkeypatch.setattr(cli_tokens, "_client", in_process)
    mine = submitter["Authorization"].removeprefix("Bearer ")
    runner = CliRunner()
    created = runner.invoke(cli, ["tokens", "create", "--name", "ci", "--token", mine])
    assert created.exit_code == 0, created.output
    secret = created.output.strip()
    assert client.get("/users/me", headers=_bearer(secret)).status_code == 200
    listed = runner.invoke(cli, ["tokens", "list", "--token", mine], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert "ci" in listed.output
    assert secret not in listed.output
    token_id = next(
        t["id"]
        for t in client.get("/tokens", headers=submitter).json()["items"]
        if t["name"] == "ci"
    )
    revoked = runner.invoke(cli, ["tokens", "revoke", token_id, "--token", mine])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/users/me", headers=_bearer(secret)).status_code == 401
    refused = runner.invoke(cli, ["tokens", "list", "--token", secret])
    assert refused.exit_code != 0
    assert "revoked" in refused.output
