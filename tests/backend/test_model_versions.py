"""A result is bound to the model version that produced it (issue 15, points 1 and 2).

Through the API on a real Postgres: versions are sealed by review or first use, an edit of a
sealed version is refused and a new version is evaluated afresh; the worker's claim refuses a
version that is not approved or whose inputs changed, and a run that used up its attempts;
reruns keep the history of earlier attempts; a re-posted spec says what it reused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.db.tables import CampaignRun, MlipModel, Run, RunAttempt
from backend.domain.statuses import Role, RunStatus
from backend.schemas.runs import RunDetail
from backend.services import run_attempts, runs, users
from backend.settings import get_settings
from shared_kernel.hashing import model_version_hash

SET = "elemental crystals"


def _headers(session: Session, role: Role) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        session, name=f"mv-{role.value}-{uuid.uuid4().hex[:6]}", role=role
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def admin(db_session: Session) -> dict[str, str]:
    return _headers(db_session, Role.ADMIN)


@pytest.fixture
def submitter(db_session: Session) -> dict[str, str]:
    return _headers(db_session, Role.SUBMITTER)


def _model(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": f"mv-{uuid.uuid4().hex[:8]}", "family": "emt", **fields}
    created = client.post("/models", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _campaign(client: TestClient, admin: dict[str, str], model_id: str, n_points: int) -> Any:
    spec = {
        "name": "model versions",
        "models": [{"id": model_id}],
        "benchmarks": [{"key": "eos", "params": {"n_points": n_points}}],
        "structure_sets": [SET],
    }
    launched = client.post("/campaigns", json=spec, headers=admin)
    assert launched.status_code == 201, launched.text
    return launched.json()


def _runs_of(session: Session, campaign_id: str) -> list[Run]:
    query = (
        select(Run)
        .join(CampaignRun, CampaignRun.run_id == Run.id)
        .where(CampaignRun.campaign_id == uuid.UUID(campaign_id))
    )
    return list(session.scalars(query.execution_options(populate_existing=True)))


def test_the_version_hash_is_what_runs_depend_on(
    client: TestClient, submitter: dict[str, str]
) -> None:
    model = _model(client, submitter, params={"a": 1}, elements=["Cu", "Al"])
    assert model["version_hash"] == model_version_hash("emt", {"a": 1}, None, ["Al", "Cu"])
    assert model["sealed_at"] is None
    edited = client.patch(f"/models/{model['id']}", json={"params": {"a": 2}}, headers=submitter)
    assert edited.status_code == 200  # not sealed yet: a pending submission may change
    assert edited.json()["version_hash"] == model_version_hash("emt", {"a": 2}, None, ["Al", "Cu"])
    card_only = client.patch(
        f"/models/{model['id']}", json={"card": {"license": "MIT"}}, headers=submitter
    )
    assert card_only.json()["version_hash"] == edited.json()["version_hash"]


def test_an_approved_version_is_sealed_and_a_change_is_a_new_pending_version(
    client: TestClient, admin: dict[str, str], submitter: dict[str, str], db_session: Session
) -> None:
    model = _model(client, submitter, params={"r0": 2.5})
    approved = client.post(f"/models/{model['id']}/approve", headers=admin).json()
    assert approved["sealed_at"] is not None
    for body in ({"params": {"r0": 9.9}}, {"elements": ["Cu"]}):
        refused = client.patch(f"/models/{model['id']}", json=body, headers=submitter)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["where"] == next(iter(body))
        assert f"POST /models/{model['id']}/versions" in error["message"]
    upload = client.put(f"/models/{model['id']}/file", content=b"new weights", headers=submitter)
    assert upload.status_code == 409
    assert client.get(f"/models/{model['id']}", headers=admin).json() == approved  # untouched

    new = client.post(
        f"/models/{model['id']}/versions", json={"params": {"r0": 9.9}}, headers=submitter
    )
    assert new.status_code == 201, new.text
    version = new.json()
    assert (version["name"], version["version"]) == (model["name"], "2")
    assert version["status"] == "pending"
    assert version["sealed_at"] is None
    assert version["is_trusted"] is False
    assert version["version_hash"] == model_version_hash("emt", {"r0": 9.9}, None, None)
    assert version["version_hash"] != approved["version_hash"]
    assert version["card"]["version"] == "2"
    taken = client.post(f"/models/{model['id']}/versions", json={"version": "2"}, headers=admin)
    assert taken.status_code == 409
    assert taken.json()["error"]["where"] == "version"
    stranger = _headers(db_session, Role.SUBMITTER)
    forbidden = client.post(f"/models/{model['id']}/versions", json={}, headers=stranger)
    assert forbidden.status_code == 403


def test_a_campaign_seals_an_admins_model_and_a_new_version_is_evaluated_afresh(
    client: TestClient, admin: dict[str, str], db_session: Session
) -> None:
    model = _model(client, admin, params={})
    assert model["status"] == "approved"
    assert model["sealed_at"] is None
    # An admin's own submission is approved without review: its file can still be uploaded.
    assert client.put(f"/models/{model['id']}/file", content=b"w", headers=admin).status_code == 200
    first = _campaign(client, admin, model["id"], 7)
    sealed = client.get(f"/models/{model['id']}", headers=admin).json()
    assert sealed["sealed_at"] is not None
    patched = client.patch(f"/models/{model['id']}", json={"params": {"x": 1}}, headers=admin)
    assert patched.status_code == 409  # not even an admin changes what queued runs depend on
    runs_v1 = _runs_of(db_session, first["id"])
    assert runs_v1
    assert {r.model_hash for r in runs_v1} == {sealed["version_hash"]}

    v2 = client.post(
        f"/models/{model['id']}/versions", json={"params": {"x": 1}}, headers=admin
    ).json()
    assert v2["status"] == "approved"  # an admin's version needs no review
    again = _campaign(client, admin, v2["id"], 7)
    assert again["n_reused"] == 0  # nothing of version 1 is taken for version 2
    runs_v2 = _runs_of(db_session, again["id"])
    assert {r.model_hash for r in runs_v2} == {v2["version_hash"]}
    assert not {r.id for r in runs_v1} & {r.id for r in runs_v2}
    same = _campaign(client, admin, model["id"], 7)
    assert same["n_reused"] == len(runs_v1)  # version 1 asked again: all reused
    assert same["reused"] == {"queued": len(runs_v1)}


def _claim(session: Session, run_id: uuid.UUID) -> runs.ClaimedRun:
    job = runs.claim_run(session, run_id, worker="test#1")
    assert isinstance(job, runs.ClaimedRun)
    return job


def test_the_claim_refuses_an_unapproved_or_changed_version_and_spent_attempts(
    client: TestClient, admin: dict[str, str], db_session: Session
) -> None:
    model = _model(client, admin)
    campaign = _campaign(client, admin, model["id"], 9)
    first, second, third = (r.id for r in _runs_of(db_session, campaign["id"])[:3])
    model_id = uuid.UUID(model["id"])

    job = _claim(db_session, first)
    assert run_attempts.may_run(job)
    assert run_attempts.refusal(db_session, job) is None

    client.post(f"/models/{model['id']}/reject", headers=admin)
    job = _claim(db_session, second)
    refusal = run_attempts.refusal(db_session, job)
    assert refusal is not None
    assert refusal.failure_class == "model_not_approved"
    assert "rejected" in refusal.message

    client.post(f"/models/{model['id']}/approve", headers=admin)
    # Someone changes the record behind the API's back: the claim sees the hash differ.
    db_session.execute(
        update(MlipModel).where(MlipModel.id == model_id).values(params={"tampered": True})
    )
    db_session.execute(
        update(MlipModel)
        .where(MlipModel.id == model_id)
        .values(version_hash=model_version_hash("emt", {"tampered": True}, "x", None))
    )
    job = _claim(db_session, third)
    refusal = run_attempts.refusal(db_session, job)
    assert refusal is not None
    assert refusal.failure_class == "model_changed"

    # A run whose workers died at every attempt: the next claim is past the cap.
    db_session.execute(
        update(MlipModel)
        .where(MlipModel.id == model_id)
        .values(params={}, version_hash=model["version_hash"])
    )
    cap = get_settings().run_max_attempts
    db_session.execute(
        update(Run)
        .where(Run.id == first)
        .values(status=RunStatus.QUEUED, attempt=cap, attempt_base=0)
    )
    job = _claim(db_session, first)
    assert job.attempt == cap + 1
    assert not run_attempts.may_run(job)
    refusal = run_attempts.refusal(db_session, job)
    assert refusal is not None
    assert refusal.failure_class == "worker_lost"
    # ... unless the attempts were released because the worker stalled
    assert run_attempts.release_attempt(
        db_session, job, failure_class="worker_stalled", message="x"
    )
    job = _claim(db_session, first)
    refusal = run_attempts.refusal(db_session, job)
    assert refusal is not None
    assert refusal.failure_class == "worker_stalled"


def test_a_takeover_on_an_expired_lease_keeps_the_lost_attempt_in_the_history(
    client: TestClient, admin: dict[str, str], db_session: Session
) -> None:
    # CI once saw a paused worker's run finish on attempt 2 with no history: the sweeper had
    # sent it again on the expired lease and the claim overwrote attempt 1 without a trace.
    model = _model(client, admin)
    campaign = _campaign(client, admin, model["id"], 9)
    run_id = _runs_of(db_session, campaign["id"])[0].id
    lost = _claim(db_session, run_id)
    stmt = select(RunAttempt).where(RunAttempt.run_id == run_id)
    db_session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(lease_expires_at=func.now() - timedelta(seconds=1))
    )
    taker = _claim(db_session, run_id)
    assert (lost.attempt, taker.attempt) == (1, 2)
    [row] = db_session.scalars(stmt)
    assert (row.attempt, row.status, row.failure_class) == (1, "retried", "worker_lost")
    assert row.worker == "test#1"
    assert "lease expired" in (row.failure_message or "")
    # The lost attempt's worker comes back and finds it stalled: it cannot give the run back
    # (attempt 2 owns it) but its cause replaces the guess.
    assert not run_attempts.release_attempt(
        db_session, lost, failure_class="worker_stalled", message="heartbeats missed for 14 s"
    )
    db_session.refresh(row)
    assert (row.failure_class, row.failure_message) == (
        "worker_stalled",
        "heartbeats missed for 14 s",
    )
    run = db_session.get(Run, run_id)
    assert run is not None
    assert (run.status, run.attempt) == (RunStatus.RUNNING, 2)
    # A live lease is not taken over, and leaves no history
    assert isinstance(runs.claim_run(db_session, run_id, worker="test#2"), runs.Busy)
    assert len(db_session.scalars(stmt).all()) == 1


def test_packages_are_pinned_by_the_first_worker(
    client: TestClient, admin: dict[str, str], db_session: Session
) -> None:
    model = _model(client, admin)
    campaign = _campaign(client, admin, model["id"], 9)
    run_id = _runs_of(db_session, campaign["id"])[0].id
    job = _claim(db_session, run_id)
    assert job.packages is None
    mine = {"ase": "3.0", "numpy": "2.0"}
    assert run_attempts.pin_packages(db_session, job, mine) == mine
    later = run_attempts.pin_packages(db_session, job, {"ase": "9.9"})
    assert later == mine  # the first worker's stay pinned
    assert db_session.get(MlipModel, uuid.UUID(model["id"])).packages == mine  # type: ignore[union-attr]


def test_rerun_keeps_history_and_a_reposted_spec_requeues_cancelled_runs(
    client: TestClient, admin: dict[str, str], db_session: Session
) -> None:
    model = _model(client, admin)
    campaign = _campaign(client, admin, model["id"], 11)
    all_runs = _runs_of(db_session, campaign["id"])
    failed = all_runs[0]
    job = _claim(db_session, failed.id)
    assert runs.record_failure(
        db_session,
        job,
        status=RunStatus.FAILED,
        failure_class="model_not_approved",
        message="was pending",
        series=[],
        timings=None,
        provenance={},
    )
    bad = client.post(f"/campaigns/{campaign['id']}/rerun?status=failed,succeeded", headers=admin)
    assert bad.status_code == 422
    assert "succeeded" in bad.json()["error"]["message"]
    unknown = client.post(f"/campaigns/{campaign['id']}/rerun?status=failed,nope", headers=admin)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["where"] == "query.status[1]"
    wrong_class = client.post(
        f"/campaigns/{campaign['id']}/rerun?status=failed&failure_class=timeout", headers=admin
    )
    assert wrong_class.json()["requeued"] == 0

    rerun = client.post(f"/campaigns/{campaign['id']}/rerun?status=failed", headers=admin)
    assert rerun.status_code == 200, rerun.text
    assert rerun.json()["requeued"] == 1
    db_session.expire_all()
    again = db_session.get(Run, failed.id)
    assert again is not None
    assert (again.status, again.failure_class, again.attempt_base) == (RunStatus.QUEUED, None, 1)
    history = db_session.scalars(select(RunAttempt).where(RunAttempt.run_id == failed.id)).all()
    assert [(h.attempt, h.status, h.failure_class) for h in history] == [
        (1, "failed", "model_not_approved")
    ]
    detail = client.get(f"/runs/{failed.id}").json()
    assert [(a["attempt"], a["failure_message"]) for a in detail["attempts"]] == [
        (1, "was pending")
    ]
    assert RunDetail.model_validate(detail).attempts[0].failure_class == "model_not_approved"

    cancelled = client.post(f"/campaigns/{campaign['id']}/cancel", headers=admin).json()
    assert cancelled["progress"]["cancelled"] == len(all_runs)
    reposted = _campaign(client, admin, model["id"], 11)
    assert reposted["reused"] == {"cancelled": len(all_runs)}
    assert reposted["requeued"] == len(all_runs)
    assert reposted["progress"]["queued"] == len(all_runs)  # cancelled runs are computed now
