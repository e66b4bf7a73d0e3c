"""A protocol change is a new benchmark version, and results of two versions never share a board."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Run
from backend.domain.statuses import Role, RunStatus
from backend.repositories import benchmarks as benchmark_repo
from backend.services import catalog, users
from workers.benchmarks.base import get_benchmark


def _succeeded_run(
    client: TestClient, session: Session, headers: dict[str, str], version: str, v0: float
) -> str:
    body = {
        "name": f"eos {version}",
        "models": [{"name": "EMT"}],
        "benchmarks": [{"key": "eos", "version": version}],
        "structure_sets": ["elemental crystals"],
    }
    response = client.post("/campaigns", json=body, headers=headers)
    assert response.status_code == 201, response.text
    campaign_id = response.json()["id"]
    runs = client.get(f"/campaigns/{campaign_id}/runs", params={"status": "queued"}).json()
    run = session.get(Run, uuid.UUID(runs["items"][0]["id"]))
    assert run is not None
    run.status = RunStatus.SUCCEEDED
    session.add(Metric(run_id=run.id, name="volume_per_atom", value=v0, unit="Å³/atom"))
    session.flush()
    return str(run.id)


def test_two_versions_of_a_benchmark_keep_separate_runs_and_boards(
    client: TestClient, db_session: Session
) -> None:
    current = get_benchmark("eos")
    stored = benchmark_repo.get_benchmark(db_session, "eos", current.version)
    assert stored is not None
    catalog.register_benchmark(
        db_session,
        key="eos",
        version="0.9-test",
        description="an older protocol",
        default_params={**current.default_params(), "n_points": 7},
        headline_metrics=stored.headline_metrics,
        soft_time_limit_s=600,
        time_limit_s=660,
    )
    token = users.ensure_user_with_token(db_session, name="versions-admin", role=Role.ADMIN).token
    headers = {"Authorization": f"Bearer {token}"}
    old = _succeeded_run(client, db_session, headers, "0.9-test", 11.0)
    new = _succeeded_run(client, db_session, headers, current.version, 12.0)
    assert old != new  # same model and input, another protocol: another run
    boards = {
        version: client.get(
            "/leaderboards/eos", params={"version": version, "include_entries": "true"}
        ).json()
        for version in ("0.9-test", current.version)
    }
    # entries list every run of the board's models (queued ones too): compare the results
    old_runs = {e["run_id"] for e in boards["0.9-test"]["entries"] if e["status"] == "succeeded"}
    new_runs = {
        e["run_id"] for e in boards[current.version]["entries"] if e["status"] == "succeeded"
    }
    # every entry of a board is a run of that board's own protocol
    for board in boards.values():
        assert {e["params_hash"] for e in board["entries"]} == {board["params_hash"]}
    assert boards["0.9-test"]["version"] == "0.9-test"
    assert old_runs == {old}
    assert new in new_runs
    assert old not in new_runs
