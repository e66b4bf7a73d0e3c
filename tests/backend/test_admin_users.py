"""Admins list and revoke any user's tokens and disable users; a disabled user's tokens stop
at the next request and work again once the user is enabled (API and CLI)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.cli.main import app as cli
from backend.db.session import session_scope
from backend.db.tables import User
from backend.domain.statuses import Role
from backend.repositories import users as user_repo
from backend.services import users


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _user(session: Session, role: Role) -> tuple[str, dict[str, str]]:
    issued = users.ensure_user_with_token(
        session, name=f"{role.value}-{uuid.uuid4().hex[:6]}", role=role
    )
    return str(issued.user.id), _bearer(issued.token)


@pytest.fixture
def admin(db_session: Session) -> tuple[str, dict[str, str]]:
    return _user(db_session, Role.ADMIN)


@pytest.fixture
def submitter(db_session: Session) -> tuple[str, dict[str, str]]:
    return _user(db_session, Role.SUBMITTER)


def test_an_admin_lists_and_revokes_another_users_tokens(
    client: TestClient, admin: tuple[str, dict[str, str]], submitter: tuple[str, dict[str, str]]
) -> None:
    (_, as_admin), (user_id, as_user) = admin, submitter
    second = client.post("/tokens", json={"name": "laptop"}, headers=as_user).json()
    listed = client.get(f"/users/{user_id}/tokens", headers=as_admin).json()
    assert listed["total"] == 2
    assert "laptop" in {t["name"] for t in listed["items"]}
    assert all("token" not in t for t in listed["items"])  # never a secret

    url = f"/users/{user_id}/tokens/{second['id']}"
    assert client.delete(url, headers=as_admin).status_code == 204
    assert client.delete(url, headers=as_admin).status_code == 204  # idempotent
    assert client.get("/users/me", headers=_bearer(second["token"])).status_code == 401
    assert client.get("/users/me", headers=as_user).status_code == 200  # the other one lives
    revoked = client.get(f"/users/{user_id}/tokens", headers=as_admin).json()["items"]
    assert next(t for t in revoked if t["id"] == second["id"])["revoked_at"] is not None


def test_token_routes_of_users_are_for_admins_and_check_the_owner(
    client: TestClient, admin: tuple[str, dict[str, str]], submitter: tuple[str, dict[str, str]]
) -> None:
    (admin_id, as_admin), (user_id, as_user) = admin, submitter
    assert client.get(f"/users/{user_id}/tokens", headers=as_user).status_code == 403
    assert client.get(f"/users/{uuid.uuid4()}/tokens", headers=as_admin).status_code == 404
    token_id = client.get("/tokens", headers=as_user).json()["items"][0]["id"]
    # the token exists, but not under this user: 404, and it still works
    wrong = client.delete(f"/users/{admin_id}/tokens/{token_id}", headers=as_admin)
    assert wrong.status_code == 404
    assert wrong.json()["error"]["where"] == "token_id"
    assert client.get("/users/me", headers=as_user).status_code == 200


def test_a_disabled_users_tokens_stop_at_once_and_work_again_when_enabled(
    client: TestClient, admin: tuple[str, dict[str, str]], submitter: tuple[str, dict[str, str]]
) -> None:
    (_, as_admin), (user_id, as_user) = admin, submitter
    other = client.post("/tokens", json={"name": "ci"}, headers=as_user).json()
    revoked = client.post("/tokens", json={"name": "old"}, headers=as_user).json()
    client.delete(f"/tokens/{revoked['id']}", headers=as_user)

    disabled = client.post(f"/users/{user_id}/disable", headers=as_admin)
    assert disabled.status_code == 200
    assert disabled.json()["disabled_at"] is not None
    for headers in (as_user, _bearer(other["token"])):
        refused = client.get("/tokens", headers=headers)
        assert refused.status_code == 401
        assert "disabled" in refused.json()["error"]["message"]
    again = client.post(f"/users/{user_id}/disable", headers=as_admin).json()  # idempotent
    assert again["disabled_at"] == disabled.json()["disabled_at"]
    listed = client.get("/users", params={"limit": 1000}, headers=as_admin).json()["items"]
    assert next(u for u in listed if u["id"] == user_id)["disabled_at"] is not None

    enabled = client.post(f"/users/{user_id}/enable", headers=as_admin)
    assert enabled.status_code == 200
    assert enabled.json()["disabled_at"] is None
    assert client.get("/users/me", headers=as_user).status_code == 200
    assert client.get("/users/me", headers=_bearer(other["token"])).status_code == 200
    assert client.get("/users/me", headers=_bearer(revoked["token"])).status_code == 401


def test_an_admin_cannot_disable_themselves_nor_an_unknown_user(
    client: TestClient, admin: tuple[str, dict[str, str]], submitter: tuple[str, dict[str, str]]
) -> None:
    (admin_id, as_admin), (_, as_user) = admin, submitter
    assert client.post(f"/users/{admin_id}/disable", headers=as_admin).status_code == 409
    assert client.get("/users/me", headers=as_admin).status_code == 200
    assert client.post(f"/users/{uuid.uuid4()}/disable", headers=as_admin).status_code == 404
    assert client.post(f"/users/{uuid.uuid4()}/enable", headers=as_admin).status_code == 404
    assert client.post(f"/users/{admin_id}/disable", headers=as_user).status_code == 403


def test_the_cli_disables_and_enables_a_user(database_url: str) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "create", name]).exit_code == 0
    try:
        result = runner.invoke(cli, ["users", "disable", name])
        assert result.exit_code == 0, result.output
        with session_scope() as session:
            user = user_repo.get_user_by_name(session, name)
            assert user is not None
            assert user.disabled_at is not None
        assert runner.invoke(cli, ["users", "enable", name]).exit_code == 0
        with session_scope() as session:
            user = user_repo.get_user_by_name(session, name)
            assert user is not None
            assert user.disabled_at is None
        missing = runner.invoke(cli, ["users", "disable", f"{name}-missing"])
        assert missing.exit_code == 2
        assert "no user named" in missing.output
    finally:
        with session_scope() as session:  # its tokens go with it (ON DELETE CASCADE)
            session.execute(delete(User).where(User.name == name))
