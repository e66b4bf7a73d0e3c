"""One pagination convention on every list: limit/offset, total, max limit enforced with 422."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT
from backend.services import users

CAMPAIGN = {
    "name": "pagination",
    "models": [{"name": "EMT"}, {"name": "LJ-exp-fit"}],
    "benchmarks": [{"key": "eos"}],
    "structure_sets": ["elemental crystals"],
}


@pytest.fixture
def admin(db_session: Session) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        db_session, name=f"admin-{uuid.uuid4().hex[:6]}", role=Role.ADMIN
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def lists(client: TestClient, admin: dict[str, str]) -> list[str]:
    first = client.post("/campaigns", json=CAMPAIGN, headers=admin).json()
    client.post("/campaigns", json={**CAMPAIGN, "name": "pagination 2"}, headers=admin)
    return ["/campaigns", "/models", f"/campaigns/{first['id']}/runs", "/benchmarks", "/metrics"]


def test_every_list_pages_the_same_way(client: TestClient, lists: list[str]) -> None:
    for path in lists:
        whole = client.get(path, params={"limit": MAX_PAGE_LIMIT}).json()
        assert set(whole) >= {"items", "limit", "offset", "total"}, path
        if path == "/metrics":
            continue  # no approved results here; checked in test_exports
        assert whole["total"] == len(whole["items"]) >= 2, path
        page = client.get(path, params={"limit": 1, "offset": 1}).json()
        assert (page["limit"], page["offset"], page["total"]) == (1, 1, whole["total"]), path
        assert page["items"] == whole["items"][1:2], path
        beyond = client.get(path, params={"offset": whole["total"]}).json()
        assert beyond["items"] == [], path
        assert beyond["total"] == whole["total"], path


@pytest.mark.parametrize("limit", [0, MAX_PAGE_LIMIT + 1])
def test_limits_out_of_range_are_422_naming_limit(
    client: TestClient, lists: list[str], limit: int
) -> None:
    for path in [*lists, "/leaderboards/eos", "/leaderboards"]:
        response = client.get(path, params={"limit": limit, "benchmarks": "eos"})
        assert response.status_code == 422, path
        assert response.json()["error"]["where"] == "query.limit", path


def test_negative_offset_is_422(client: TestClient, lists: list[str]) -> None:
    for path in lists:
        assert client.get(path, params={"offset": -1}).status_code == 422, path


def test_offsets_above_the_cap_are_422_naming_offset(
    client: TestClient, lists: list[str], admin: dict[str, str]
) -> None:
    others = ["/users", "/tokens", "/runs", "/references", "/structure-sets"]
    others.append(f"/structure-sets/{uuid.uuid4()}/structures")
    for path in [*lists, *others, "/leaderboards/eos", "/leaderboards"]:
        params = {"benchmarks": "eos"}
        at_cap = client.get(path, params={**params, "offset": MAX_OFFSET}, headers=admin)
        assert at_cap.status_code != 422, path
        response = client.get(path, params={**params, "offset": MAX_OFFSET + 1}, headers=admin)
        assert response.status_code == 422, path
        assert response.json()["error"]["where"] == "query.offset", path
