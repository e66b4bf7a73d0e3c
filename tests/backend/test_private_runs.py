"""Runs of a model that is not approved (pending, rejected) are private to its owner and admins:
absent from every list and 404 on every direct read for anonymous callers and other submitters.
Failure messages shown to anyone but the owner and admins carry no host paths.

``private_runs`` puts in place a model that ran while approved and then went back to review
(or was rejected), with one run of each kind of data: metrics, series, a stored artifact, a
landscape plane, and a failure whose message names host paths. tests/backend/
test_api_permissions.py reads it through every GET route.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.tables import Metric, MlipModel, Projection, Run, RunArtifact, Series
from backend.domain.statuses import ModelStatus, Role, RunStatus
from backend.services import users
from backend.services.runs import redact_paths
from backend.settings import get_settings
from shared_kernel import artifacts
from tests.factories import crystal_subset

ROLES = ("anonymous", "owner", "other", "admin")
HOST_PATH = "/srv/mlipm/secret-weights/ani-2x_8x"
CACHE_PATH = ".mlipm/artifact-cache/ab/abcdef0123"
FAILURE = (
    f"model 'private' (ani2x): the weights are not on this worker's disk. Looked in: "
    f"params['weights_path'] {HOST_PATH}; the uploaded model file {CACHE_PATH}; see "
    "PUT /models/{model_id}/file"
)


@dataclass
class PrivateRuns:
    client: TestClient
    headers: dict[str, dict[str, str]]
    model_id: str
    campaign_id: str
    structure_id: str
    succeeded: str  # run id: metrics, series, artifact, plane
    failed: str  # run id: failure message with host paths
    public_failed: str  # a failed run of an approved model, same message

    def get(self, role: str, url: str, **params: object) -> object:
        return self.client.get(url, headers=self.headers[role], params=params)


def _tokens(session: Session) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, kind in (("owner", Role.SUBMITTER), ("other", Role.SUBMITTER), ("admin", Role.ADMIN)):
        issued = users.ensure_user_with_token(
            session, name=f"{role}-{uuid.uuid4().hex[:6]}", role=kind
        )
        headers[role] = {"Authorization": f"Bearer {issued.token}"}
    return headers


def _ok(response: object) -> dict[str, object]:
    assert getattr(response, "status_code", 0) < 300, getattr(response, "text", response)
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    return body


def _fill(session: Session, runs: list[Run], *, store_url: str, tmp: Path) -> None:
    ok, failed = runs
    ok.status, failed.status = RunStatus.SUCCEEDED, RunStatus.FAILED
    failed.failure_class, failed.failure_message = "setup_error", FAILURE
    frames = tmp / "frames.extxyz"
    frames.write_text('1\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3\nCu 0 0 0\n')
    stored = artifacts.put_file(
        frames, f"runs/{ok.id}/attempt-1/trajectory.extxyz", store_url=store_url
    )
    grid = [[0.0, 0.1], [0.1, 0.2]]
    session.add_all(
        [
            Metric(run_id=ok.id, name="bulk_modulus", value=140.0, unit="GPa"),
            Series(run_id=ok.id, name="energy_volume", x=[1.0, 2.0], y=[0.5, 0.1],
                   x_label="volume", x_unit="Å³/atom", y_label="energy", y_unit="eV/atom"),
            RunArtifact(run_id=ok.id, name="trajectory", media_type="chemical/x-extxyz",
                        key=stored.key, sha256=stored.sha256, size_bytes=stored.size_bytes,
                        n_frames=1),
            Projection(run_id=ok.id, name="plane", kind="plane", method="pca",
                       plane_hash="p" * 16, settings={"n_atoms": 1, "plane_hash": "p" * 16},
                       data={"a": [0.0, 1.0], "b": [0.0, 1.0], "energy_ev": grid}),
        ]
    )  # fmt: skip
    session.flush()


def make_private_runs(
    status: str,
    client: TestClient,
    db_session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[PrivateRuns]:
    """Put the private model and its runs in place (``status``: pending or rejected)."""
    monkeypatch.setenv("MLIPM_ARTIFACT_URL", (tmp_path / "store").as_uri())
    get_settings.cache_clear()
    headers = _tokens(db_session)
    tag = uuid.uuid4().hex[:6]
    set_name = f"private runs {tag}"
    crystal_subset(db_session, set_name, ("Cu", "Ag"))
    body = {"name": f"private-{tag}", "family": "emt"}
    model_id = str(_ok(client.post("/models", json=body, headers=headers["owner"]))["id"])
    _ok(client.post(f"/models/{model_id}/approve", headers=headers["admin"]))
    public = {"name": f"public-{tag}", "family": "emt"}
    public_id = str(_ok(client.post("/models", json=public, headers=headers["admin"]))["id"])
    campaign = {
        "name": f"private {tag}",
        "models": [{"id": model_id}, {"id": public_id}],
        "benchmarks": [{"key": "eos"}],
        "structure_sets": [set_name],
    }
    campaign_id = str(_ok(client.post("/campaigns", json=campaign, headers=headers["admin"]))["id"])
    rows = db_session.scalars(
        select(Run).order_by(Run.id).where(Run.mlip_model_id == uuid.UUID(model_id))
    ).all()
    _fill(db_session, list(rows), store_url=get_settings().artifact_url, tmp=tmp_path)
    public_failed = db_session.scalars(
        select(Run).where(Run.mlip_model_id == uuid.UUID(public_id))
    ).first()
    assert public_failed is not None
    public_failed.status, public_failed.failure_class = RunStatus.FAILED, "setup_error"
    public_failed.failure_message = FAILURE
    if status == "rejected":
        _ok(client.post(f"/models/{model_id}/reject", headers=headers["admin"]))
    else:  # e.g. its owner edited the card: back to review
        model = db_session.get(MlipModel, uuid.UUID(model_id))
        assert model is not None
        model.status = ModelStatus.PENDING
    db_session.flush()
    yield PrivateRuns(
        client, headers, model_id, campaign_id, str(rows[0].structure_id),
        succeeded=str(rows[0].id), failed=str(rows[1].id), public_failed=str(public_failed.id),
    )  # fmt: skip
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture(params=["pending", "rejected"])
def private_runs(
    request: pytest.FixtureRequest,
    client: TestClient,
    db_session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[PrivateRuns]:
    yield from make_private_runs(request.param, client, db_session, tmp_path, monkeypatch)


def _run_ids(body: object) -> set[str]:
    items = body["items"] if isinstance(body, dict) else body  # type: ignore[index]
    return {str(i.get("id") or i.get("run_id")) for i in items}


@pytest.mark.parametrize("role", ROLES)
def test_lists_hold_private_runs_for_owner_and_admin_only(
    private_runs: PrivateRuns, role: str
) -> None:
    p = private_runs
    sees = role in ("owner", "admin")
    mine = {p.succeeded, p.failed}
    by_model = _ok(p.get(role, "/runs", model_id=p.model_id, limit=1000))
    assert (_run_ids(by_model) == mine) is sees
    assert by_model["total"] == (2 if sees else 0)
    everything = _ok(p.get(role, "/runs", limit=1000))
    assert bool(_run_ids(everything) & mine) is sees
    in_campaign = _ok(p.get(role, f"/campaigns/{p.campaign_id}/runs", limit=1000))
    assert bool(_run_ids(in_campaign) & mine) is sees
    assert p.public_failed in _run_ids(in_campaign)
    assert in_campaign["total"] == len(in_campaign["items"])  # type: ignore[arg-type]
    planes = p.get(role, "/landscapes/planes", structure_id=p.structure_id).json()  # type: ignore[attr-defined]
    assert (p.succeeded in {str(x["run_id"]) for x in planes}) is sees
    # The campaign's progress counts only the runs the caller sees: 2 private + 2 public.
    public_total = len(_run_ids(in_campaign) - mine)
    assert public_total == 2
    campaign = _ok(p.get(role, f"/campaigns/{p.campaign_id}"))
    assert campaign["progress"]["total"] == public_total + (2 if sees else 0)  # type: ignore[index]
    listed = _ok(p.get(role, "/campaigns", limit=1000))["items"]
    (same,) = [c for c in listed if c["id"] == p.campaign_id]  # type: ignore[union-attr]
    assert same["progress"] == campaign["progress"]


@pytest.mark.parametrize("role", ROLES)
def test_direct_reads_of_private_runs_are_404_for_others(
    private_runs: PrivateRuns, role: str
) -> None:
    p = private_runs
    want = 200 if role in ("owner", "admin") else 404
    for url in (
        f"/runs/{p.succeeded}",
        f"/runs/{p.failed}",
        f"/runs/{p.succeeded}/metrics",
        f"/runs/{p.succeeded}/series",
        f"/runs/{p.succeeded}/artifacts",
        f"/runs/{p.succeeded}/artifacts/trajectory",
        f"/exports/runs/{p.succeeded}/trajectory",
        f"/exports/runs/{p.failed}/trajectory",
        f"/landscapes/runs/{p.succeeded}",
        f"/landscapes/runs/{p.succeeded}/plane",
    ):
        response = p.get(role, url)
        assert response.status_code == want, (url, role, response.text[:300])  # type: ignore[attr-defined]
        if want == 404:
            assert "no run" in response.json()["error"]["message"]  # type: ignore[attr-defined]
    compare = p.get(role, "/landscapes/compare", run_a=p.succeeded, run_b=p.succeeded)
    assert compare.status_code == want  # type: ignore[attr-defined]


def test_a_private_run_answers_as_an_unknown_one(private_runs: PrivateRuns) -> None:
    p = private_runs
    for run_id in (p.succeeded, str(uuid.uuid4())):
        response = p.get("other", f"/runs/{run_id}")
        assert response.status_code == 404  # type: ignore[attr-defined]
        assert response.json()["error"]["message"] == f"no run with id {run_id}"  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ROLES)
def test_failure_messages_carry_host_paths_only_for_owner_and_admin(
    private_runs: PrivateRuns, role: str
) -> None:
    p = private_runs
    owner_sees = role in ("owner", "admin")
    if owner_sees:
        own = _ok(p.get(role, f"/runs/{p.failed}"))
        assert own["failure_message"] == FAILURE
    public = _ok(p.get(role, f"/runs/{p.public_failed}"))  # an admin's model: others redacted
    listed = _ok(p.get(role, f"/campaigns/{p.campaign_id}/runs", limit=1000))
    shown = [i["failure_message"] for i in listed["items"] if i["id"] == p.public_failed]  # type: ignore[union-attr,index]
    for message in (public["failure_message"], *shown):
        assert isinstance(message, str)
        if role == "admin":
            assert message == FAILURE
        else:
            assert HOST_PATH not in message
            assert CACHE_PATH not in message
            assert "<path>" in message
            assert "PUT /models/{model_id}/file" in message  # the API's own hint stays


def test_redaction_keeps_api_paths_and_public_urls() -> None:
    text = (
        "see https://huggingface.co/materialyze/M3GNet and POST /models/{model_id}/trust; "
        "store file:///data/artifacts, cache ~/.cache/sevennet/x.pth, /tmp/mlipm-weights/ab, "
        "forces in eV/Å"
    )
    redacted = redact_paths(text)
    assert "https://huggingface.co/materialyze/M3GNet" in redacted
    assert "POST /models/{model_id}/trust" in redacted
    assert "eV/Å" in redacted
    for secret in ("file:///data", "~/.cache", "/tmp/mlipm"):
        assert secret not in redacted
    assert redacted.count("<path>") == 3
