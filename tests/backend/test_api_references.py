"""Reference values through the real app: public filtered reads, admin-only validated writes."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Reference
from backend.domain.statuses import Role
from backend.services import users


@pytest.fixture
def admin(db_session: Session) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        db_session, name=f"admin-{uuid.uuid4().hex[:6]}", role=Role.ADMIN
    )
    return {"Authorization": f"Bearer {issued.token}"}


def _body(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "material": f"Xy-{uuid.uuid4().hex[:6]}",
        "property": "bulk_modulus",
        "value": 137.0,
        "unit": "GPa",
        "uncertainty": 2.0,
        "level_of_theory": "experiment",
        "conditions": {"temperature_K": 298.15},
        "source": "doi:10.0000/test",
        "dataset": "tests",
    }
    return {**body, **change}


def test_filters_match_an_independent_count(client: TestClient, db_session: Session) -> None:
    expected = db_session.scalar(
        select(func.count())
        .select_from(Reference)
        .where(Reference.material == "Cu", Reference.level_of_theory == "experiment")
    )
    assert expected  # the bootstrap's experimental data has copper
    page = client.get(
        "/references", params={"material": "Cu", "level_of_theory": "experiment", "limit": 1000}
    ).json()
    assert page["total"] == expected == len(page["items"])
    assert {(r["material"], r["level_of_theory"]) for r in page["items"]} == {("Cu", "experiment")}
    prop = page["items"][0]["property"]
    narrower = client.get(
        "/references", params={"material": "Cu", "property": prop, "limit": 1000}
    ).json()
    assert narrower["total"] >= 1
    assert all(r["property"] == prop for r in narrower["items"])
    one = client.get(f"/references/{page['items'][0]['id']}").json()
    assert one == page["items"][0]
    assert client.get(f"/references/{uuid.uuid4()}").status_code == 404
    paged = client.get("/references", params={"limit": 2, "offset": 1}).json()
    assert len(paged["items"]) == 2
    assert paged["offset"] == 1


def test_an_admin_adds_corrects_and_deletes_a_reference(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = _body()
    created = client.post("/references", json=body, headers=admin)
    assert created.status_code == 201, created.text
    ref = created.json()
    assert {k: ref[k] for k in body} == body
    clash = client.post("/references", json=body, headers=admin)
    assert clash.status_code == 409
    patched = client.patch(
        f"/references/{ref['id']}", json={"value": 140.5, "uncertainty": None}, headers=admin
    ).json()
    assert (patched["value"], patched["uncertainty"], patched["unit"]) == (140.5, None, "GPa")
    null_value = client.patch(f"/references/{ref['id']}", json={"value": None}, headers=admin)
    assert null_value.status_code == 422
    assert null_value.json()["error"]["where"] == "body.value"
    other = client.post("/references", json=_body(), headers=admin).json()
    onto = client.patch(
        f"/references/{other['id']}", json={"material": body["material"]}, headers=admin
    )
    assert onto.status_code == 409  # would duplicate (material, property, level, dataset)
    assert client.delete(f"/references/{ref['id']}", headers=admin).status_code == 204
    assert client.get(f"/references/{ref['id']}").status_code == 404
    assert client.delete(f"/references/{ref['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": math.nan}, "value"),
        ({"value": math.inf}, "value"),
        ({"uncertainty": -1.0}, "uncertainty"),
        ({"level_of_theory": "   "}, "level_of_theory"),
        ({"unit": ""}, "unit"),
        ({"source": " "}, "source"),
        ({"material": None}, "material"),
        ({"citation": "x"}, "citation"),
    ],
)
def test_invalid_references_are_422_naming_the_field(
    client: TestClient,
    admin: dict[str, str],
    db_session: Session,
    change: dict[str, Any],
    field: str,
) -> None:
    before = db_session.scalar(select(func.count()).select_from(Reference))
    raw = json.dumps(_body(**change))  # NaN and Infinity as JavaScript writes them
    headers = {**admin, "Content-Type": "application/json"}
    response = client.post("/references", content=raw, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["where"] == f"body.{field}"
    assert db_session.scalar(select(func.count()).select_from(Reference)) == before


def test_a_reference_metrics_were_scored_against_is_not_deleted(
    client: TestClient, admin: dict[str, str], db_session: Session
) -> None:
    ref = client.post("/references", json=_body(), headers=admin).json()
    campaign = {
        "name": "scored",
        "models": [{"name": "EMT"}],
        "benchmarks": [{"key": "eos"}],
        "structure_sets": ["elemental crystals"],
    }
    campaign_id = client.post("/campaigns", json=campaign, headers=admin).json()["id"]
    run = client.get(f"/campaigns/{campaign_id}/runs", params={"limit": 1}).json()["items"][0]
    db_session.add(
        Metric(
            run_id=uuid.UUID(run["id"]),
            name="bulk_modulus",
            value=139.0,
            unit="GPa",
            reference_id=uuid.UUID(ref["id"]),
            error=2.0,
        )
    )
    db_session.flush()
    refused = client.delete(f"/references/{ref['id']}", headers=admin)
    assert refused.status_code == 409
    assert "1 metric(s)" in refused.json()["error"]["message"]
    assert client.get(f"/references/{ref['id']}").status_code == 200
