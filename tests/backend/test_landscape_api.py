"""Landscape runs written through the worker's result path and read back through /landscapes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from backend.schemas.results import MetricIn, ProjectionIn, RunTimings, SeriesIn
from backend.services import runs, users
from tests.live import LiveStack, wait_until
from workers.execution import execute_claimed

PARAMS = {"grid_n": 9, "md_steps": 40, "md_stride": 4, "map_methods": ["pca"]}


def _execute_campaign(client: TestClient, session: Session, models: list[str]) -> dict[str, str]:
    """Create a landscape campaign on the clusters and execute its Cu13 runs as a worker does."""
    issued = users.ensure_user_with_token(session, name="landscape-admin", role=Role.ADMIN)
    body = {
        "name": f"landscape {uuid.uuid4().hex[:6]}",
        "models": [{"name": m} for m in models],
        "benchmarks": [{"key": "landscape", "params": PARAMS}],
        "structure_sets": ["clusters"],
    }
    response = client.post(
        "/campaigns", json=body, headers={"Authorization": f"Bearer {issued.token}"}
    )
    assert response.status_code == 201, response.text
    listed = client.get("/runs", params={"campaign_id": response.json()["id"], "limit": 100}).json()
    run_ids = {}
    for item in listed["items"]:
        if item["material"] != "Cu13":
            continue
        job = runs.claim_run(session, uuid.UUID(item["id"]), worker="test")
        assert isinstance(job, runs.ClaimedRun)
        outcome = execute_claimed(job)
        assert runs.record_success(
            session,
            job,
            metrics=[MetricIn(**_fields(m)) for m in outcome.metrics],
            series=[SeriesIn(**_fields(s)) for s in outcome.series],
            timings=RunTimings(wall_s=1.0, cpu_s=1.0, peak_memory_mb=1.0),
            provenance={},
            projections=[ProjectionIn(**_fields(p)) for p in outcome.projections],
        )
        run_ids[item["model_name"]] = item["id"]
    assert set(run_ids) == set(models)
    return run_ids


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


@pytest.fixture
def landscape_runs(client: TestClient, db_session: Session) -> dict[str, str]:
    return _execute_campaign(client, db_session, ["EMT", "LJ-exp-fit"])


def test_planes_of_a_structure_share_one_stored_plane(
    client: TestClient, landscape_runs: dict[str, str]
) -> None:
    emt_plane = client.get(f"/landscapes/runs/{landscape_runs['EMT']}/plane").json()
    structure_id = next(
        p["structure_id"]
        for p in client.get("/landscapes/planes").json()
        if p["run_id"] == landscape_runs["EMT"]
    )
    planes = client.get("/landscapes/planes", params={"structure_id": structure_id}).json()
    mine = [p for p in planes if p["run_id"] in landscape_runs.values()]
    assert {p["model_name"] for p in mine} == {"EMT", "LJ-exp-fit"}
    assert {p["plane_hash"] for p in mine} == {emt_plane["plane_hash"]}
    assert {p["plane_source"] for p in mine} == {"stored"}
    assert all(p["structure_label"] == "Cu13" and p["run_status"] == "succeeded" for p in mine)
    grid = emt_plane["data"]["energy_ev"]
    assert len(grid) == 9
    assert len(grid[0]) == 9
    assert emt_plane["settings"]["n_atoms"] == 13
    # EMT defined the plane: its energy at the origin is the lowest point of its own grid.
    assert grid[4][4] == pytest.approx(0.0, abs=1e-9)
    assert min(min(row) for row in grid) == pytest.approx(0.0, abs=1e-9)


def test_run_projections_hold_the_plane_and_the_map_with_settings(
    client: TestClient, landscape_runs: dict[str, str]
) -> None:
    found = client.get(f"/landscapes/runs/{landscape_runs['LJ-exp-fit']}").json()
    assert [p["name"] for p in found] == ["plane", "map_pca"]
    plane, pca = found
    assert plane["kind"] == "plane"
    assert pca["kind"] == "map"
    assert pca["settings"]["descriptor"]["descriptor"] == "soap"
    assert pca["settings"]["projection"]["method"] == "pca"
    n = len(plane["data"]["path"]["a"])
    assert (
        len(pca["data"]["x"])
        == len(pca["data"]["label"])
        == len(pca["data"]["error_mev_atom"])
        == n
    )
    # Coordinates come from a model-agnostic descriptor: the same for every model.
    emt_map = client.get(f"/landscapes/runs/{landscape_runs['EMT']}/map_pca").json()
    assert emt_map["data"]["x"] == pca["data"]["x"]
    assert emt_map["data"]["error_mev_atom"] == pytest.approx([0.0] * n, abs=1e-9)


def test_compare_two_models_on_the_same_plane(
    client: TestClient, landscape_runs: dict[str, str]
) -> None:
    emt, lj = landscape_runs["EMT"], landscape_runs["LJ-exp-fit"]
    diff = client.get("/landscapes/compare", params={"run_a": lj, "run_b": emt})
    assert diff.status_code == 200, diff.text
    body = diff.json()
    grid_lj = np.array(client.get(f"/landscapes/runs/{lj}/plane").json()["data"]["energy_ev"])
    grid_emt = np.array(client.get(f"/landscapes/runs/{emt}/plane").json()["data"]["energy_ev"])
    assert np.array(body["difference_ev"]) == pytest.approx(grid_lj - grid_emt, abs=1e-12)
    expected = np.sqrt(np.mean((grid_lj - grid_emt) ** 2)) / 13 * 1000
    assert body["rmse_mev_atom"] == pytest.approx(expected, rel=1e-9)
    assert body["rmse_mev_atom"] > 0
    same = client.get("/landscapes/compare", params={"run_a": emt, "run_b": emt}).json()
    assert same["rmse_mev_atom"] == 0.0


def test_unknown_runs_and_projections_are_404_with_the_error_shape(
    client: TestClient, landscape_runs: dict[str, str]
) -> None:
    missing = client.get(f"/landscapes/runs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    no_map = client.get(f"/landscapes/runs/{landscape_runs['EMT']}/map_umap")
    assert no_map.status_code == 404
    assert no_map.json()["error"]["where"] == "name"
    compare = client.get(
        "/landscapes/compare", params={"run_a": landscape_runs["EMT"], "run_b": str(uuid.uuid4())}
    )
    assert compare.status_code == 404
    assert compare.json()["error"]["where"] == "run_b"
    bad = client.get("/landscapes/compare", params={"run_a": "not-a-uuid", "run_b": "x"})
    assert bad.status_code == 422


def test_bench_run_landscape_from_the_cli(bootstrapped: None) -> None:
    from typer.testing import CliRunner

    from backend.cli.main import app

    args = ["bench", "run", "landscape", "-m", "EMT", "-s", "clusters", "--only", "Cu13"]
    for name, value in (("grid_n", "7"), ("md_steps", "20"), ("map_methods", "[]")):
        args += ["-p", f"{name}={value}"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "path_rmse_vs_reference" in result.output
    assert "curvature_1" in result.output


def test_a_landscape_campaign_through_the_real_worker_stores_its_projections(
    live_stack: LiveStack,
) -> None:
    client = live_stack.client(live_stack.admin_token)
    campaign = client.create_campaign(
        CampaignCreate(
            name="live: EMT landscapes of the clusters",
            models=[ModelRef(name="EMT")],
            benchmarks=[BenchmarkRef(key="landscape", params=PARAMS)],
            structure_sets=["clusters"],
        )
    )

    def finished() -> bool:
        return client.campaign(campaign.id).status == "finished"

    wait_until(finished, 300, "the landscape campaign to finish", interval_s=1.0)
    planes = httpx.get(f"{live_stack.api_url}/landscapes/planes", timeout=30).json()
    emt = {p["structure_label"]: p for p in planes if p["model_name"] == "EMT"}
    assert set(emt) >= {"Cu13", "Cu38"}
    assert {emt[k]["plane_source"] for k in ("Cu13", "Cu38")} == {"stored"}
    assert {emt[k]["run_status"] for k in ("Cu13", "Cu38")} == {"succeeded"}
    stored = httpx.get(f"{live_stack.api_url}/landscapes/runs/{emt['Cu38']['run_id']}", timeout=30)
    assert [p["name"] for p in stored.json()] == ["plane", "map_pca"]
    plane = stored.json()[0]
    assert plane["settings"]["n_atoms"] == 38
    assert plane["data"]["curvature"]["residual_force_ev_a"] < 1e-3  # EMT's own minimum
