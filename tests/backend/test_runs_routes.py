"""GET /runs (filters, pagination) and a run's metrics and series, on the real Postgres."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Run, Series
from backend.domain.statuses import Role, RunStatus
from backend.services import users

CAMPAIGN = {
    "name": "runs route test",
    "models": [{"name": "EMT"}, {"name": "LJ-exp-fit"}],
    "benchmarks": [{"key": "eos"}],
    "structure_sets": ["elemental crystals"],
}


@pytest.fixture
def campaign(client: TestClient, db_session: Session) -> dict[str, object]:
    issued = users.ensure_user_with_token(db_session, name="runs-admin", role=Role.ADMIN)
    response = client.post(
        "/campaigns", json=CAMPAIGN, headers={"Authorization": f"Bearer {issued.token}"}
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _ids(page: dict[str, list[dict[str, str]]]) -> set[str]:
    return {item["id"] for item in page["items"]}


def test_runs_list_filters_by_model_benchmark_element_set_and_campaign(
    client: TestClient, campaign: dict[str, object]
) -> None:
    all_runs = client.get("/runs", params={"campaign_id": campaign["id"], "limit": 1000}).json()
    items = all_runs["items"]
    assert items, "the campaign made runs"
    assert {i["model_name"] for i in items} >= {"EMT", "LJ-exp-fit"}
    assert {i["benchmark_key"] for i in items} == {"eos"}
    assert {i["structure_set"] for i in items} == {"elemental crystals"}

    emt = next(i for i in items if i["model_name"] == "EMT")
    by_model = client.get("/runs", params={"model_id": emt["mlip_model_id"], "limit": 1000}).json()
    assert {i["model_name"] for i in by_model["items"]} == {"EMT"}

    cu = client.get("/runs", params={"element": "Cu", "campaign_id": campaign["id"]}).json()
    assert cu["items"]
    assert all("Cu" in i["elements"] for i in cu["items"])
    assert _ids(cu) < _ids(all_runs)

    none = client.get("/runs", params={"benchmark": "s22", "campaign_id": campaign["id"]}).json()
    assert none["items"] == []
    other_set = client.get("/runs", params={"structure_set": "no such set"}).json()
    assert other_set["items"] == []


def test_runs_list_pages_without_overlap(client: TestClient, campaign: dict[str, object]) -> None:
    first = client.get("/runs", params={"campaign_id": campaign["id"], "limit": 2}).json()
    second = client.get(
        "/runs", params={"campaign_id": campaign["id"], "limit": 2, "offset": 2}
    ).json()
    assert (first["limit"], second["offset"]) == (2, 2)
    assert first["total"] == second["total"] > 2
    assert len(first["items"]) == 2
    assert not _ids(first) & _ids(second)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "exploded"}, "status"), ({"element": "cu"}, "element"), ({"limit": 0}, "limit")],
)
def test_runs_list_refuses_bad_filters_naming_the_field(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    response = client.get("/runs", params=params)
    assert response.status_code == 422
    assert field in response.json()["error"]["message"] + str(response.json()["error"]["where"])


def test_run_metrics_and_series_read_back(
    client: TestClient, db_session: Session, campaign: dict[str, object]
) -> None:
    run_id = client.get("/runs", params={"campaign_id": campaign["id"]}).json()["items"][0]["id"]
    run = db_session.get(Run, uuid.UUID(run_id))
    assert run is not None
    run.status = RunStatus.SUCCEEDED
    db_session.add_all(
        [
            Metric(run_id=run.id, name="bulk_modulus", value=134.5, unit="GPa"),
            Series(
                run_id=run.id, name="energy_volume", x=[10.0, 11.0, 12.0], y=[-3.1, -3.5, -3.2],
                x_label="volume", x_unit="Å³/atom", y_label="energy", y_unit="eV/atom",
            ),
        ]
    )  # fmt: skip
    db_session.flush()
    metrics = client.get(f"/runs/{run_id}/metrics").json()
    assert [(m["name"], m["value"], m["unit"]) for m in metrics] == [("bulk_modulus", 134.5, "GPa")]
    series = client.get(f"/runs/{run_id}/series").json()
    assert series[0]["y"] == [-3.1, -3.5, -3.2]
    assert series[0]["x_unit"] == "Å³/atom"


def test_unknown_run_metrics_and_series_are_404(client: TestClient) -> None:
    for path in ("metrics", "series"):
        response = client.get(f"/runs/{uuid.uuid4()}/{path}")
        assert response.status_code == 404
        assert "no run" in response.json()["error"]["message"]


def test_runs_list_includes_metrics_with_reference_citation_and_named_series(
    client: TestClient, db_session: Session, campaign: dict[str, object]
) -> None:
    from backend.db.tables import Reference

    cu = client.get("/runs", params={"campaign_id": campaign["id"], "element": "Cu"}).json()
    run_id = cu["items"][0]["id"]
    run = db_session.get(Run, uuid.UUID(run_id))
    assert run is not None
    ref = Reference(
        material="Cu", property="bulk_modulus", value=142.0, unit="GPa", uncertainty=None,
        level_of_theory="experiment", conditions={}, source="Kittel, 8th ed.", dataset="test",
    )  # fmt: skip
    db_session.add(ref)
    db_session.flush()
    run.status = RunStatus.SUCCEEDED
    db_session.add_all(
        [
            Metric(run_id=run.id, name="bulk_modulus", value=134.0, unit="GPa",
                   reference_id=ref.id, error=-8.0),
            Series(run_id=run.id, name="energy_volume", x=[1.0, 2.0], y=[0.5, 0.1],
                   x_label="volume", x_unit="Å³/atom", y_label="energy", y_unit="eV/atom"),
            Series(run_id=run.id, name="other", x=[1.0], y=[1.0],
                   x_label="x", x_unit="1", y_label="y", y_unit="1"),
        ]
    )  # fmt: skip
    db_session.flush()
    params = {"model_id": run.mlip_model_id, "status": "succeeded", "include_metrics": "true"}
    listed = client.get("/runs", params={**params, "series": "energy_volume"}).json()["items"]
    item = next(i for i in listed if i["id"] == run_id)
    (metric,) = item["metrics"]
    assert (metric["value"], metric["reference_value"], metric["error"]) == (134.0, 142.0, -8.0)
    assert metric["reference_source"] == "Kittel, 8th ed."
    assert metric["reference_level_of_theory"] == "experiment"
    assert [s["name"] for s in item["series"]] == ["energy_volume"]

    plain = client.get("/runs", params={"model_id": run.mlip_model_id}).json()["items"]
    assert all(i["metrics"] is None and i["series"] is None for i in plain)

    detail = client.get(f"/runs/{run_id}").json()
    assert (detail["benchmark_key"], detail["material"]) == ("eos", "Cu")
    assert detail["metrics"][0]["reference_source"] == "Kittel, 8th ed."
    assert {s["name"] for s in detail["series"]} == {"energy_volume", "other"}
