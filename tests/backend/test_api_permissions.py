"""The permission matrices: every write endpoint of the app, as anonymous, the owner of the
target (a submitter), another submitter and an admin; and every read endpoint that can show
run data of a model that is not approved, as the same four.

The endpoints are enumerated from the app's routes, so a new write endpoint fails
``test_every_write_endpoint_has_a_row`` until its row says who may call it. Someone else's
resource is 403 where its existence is public (models, structure sets) and 404 where it is
private (tokens); anonymous is always 401.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ase.build import bulk
from ase.io import write
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.main import create_app
from backend.services import users
from backend.settings import get_settings
from tests.backend.test_private_runs import PrivateRuns, make_private_runs

ROLES = ("anonymous", "owner", "other", "admin")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Ctx:
    client: TestClient
    headers: dict[str, dict[str, str]]  # role -> Authorization header (anonymous: none)

    def call(self, role: str, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=self.headers[role], **kwargs)
        assert response.status_code < 300, (method, url, role, response.text)
        return response.json() if response.content else None

    def model(self, *, with_file: bool = False) -> str:
        body = {"name": f"perm-{uuid.uuid4().hex[:8]}", "family": "mace"}
        model_id = str(self.call("owner", "POST", "/models", json=body)["id"])
        if with_file:
            self.call("owner", "PUT", f"/models/{model_id}/file", content=b"weights")
        return model_id

    def structure_set(self) -> str:
        body = {"name": f"perm-{uuid.uuid4().hex[:8]}"}
        return str(self.call("owner", "POST", "/structure-sets", json=body)["id"])

    def reference(self) -> str:
        body = {**REFERENCE, "material": f"perm-{uuid.uuid4().hex[:8]}"}
        return str(self.call("admin", "POST", "/references", json=body)["id"])


Request = tuple[str, dict[str, Any]]  # url, request kwargs
Setup = Callable[[Ctx], Request]

REFERENCE = {
    "material": "perm",
    "property": "bulk_modulus",
    "value": 100.0,
    "unit": "GPa",
    "level_of_theory": "experiment",
    "source": "tests",
}
CAMPAIGN = {
    "name": "permissions",
    "models": [{"name": "EMT"}],
    "benchmarks": [{"key": "eos"}],
    "structure_sets": ["elemental crystals"],
}


def _extxyz() -> bytes:
    out = io.StringIO()
    write(out, bulk("Cu", "fcc", a=3.61), format="extxyz")
    return out.getvalue().encode()


def _campaign(ctx: Ctx) -> str:
    return str(ctx.call("admin", "POST", "/campaigns", json=CAMPAIGN)["id"])


def _token(ctx: Ctx) -> str:
    return str(ctx.call("owner", "POST", "/tokens", json={"name": "second"})["id"])


OK, NO, HIDDEN = 2, 403, 404  # 2: any 2xx
ADMIN_ONLY = {"owner": NO, "other": NO, "admin": OK}
SIGNED_IN = {"owner": OK, "other": OK, "admin": OK}
OWNER_OR_ADMIN = {"owner": OK, "other": NO, "admin": OK}

#: (method, path) -> (how to build the request, expected status per signed-in role)
MATRIX: dict[tuple[str, str], tuple[Setup, dict[str, int]]] = {
    ("POST", "/models"): (
        lambda c: ("/models", {"json": {"name": f"m-{uuid.uuid4().hex[:8]}", "family": "emt"}}),
        SIGNED_IN,
    ),
    ("PATCH", "/models/{model_id}"): (
        lambda c: (f"/models/{c.model()}", {"json": {"elements": ["Cu"]}}),
        OWNER_OR_ADMIN,
    ),
    ("POST", "/models/{model_id}/approve"): (
        lambda c: (f"/models/{c.model()}/approve", {}),
        ADMIN_ONLY,
    ),
    ("POST", "/models/{model_id}/reject"): (
        lambda c: (f"/models/{c.model()}/reject", {}),
        ADMIN_ONLY,
    ),
    ("PUT", "/models/{model_id}/file"): (
        lambda c: (f"/models/{c.model()}/file", {"content": b"weights"}),
        OWNER_OR_ADMIN,
    ),
    ("PUT", "/models/{model_id}/training-set"): (
        lambda c: (f"/models/{c.model()}/training-set", {"content": _extxyz()}),
        OWNER_OR_ADMIN,
    ),
    ("POST", "/models/{model_id}/trust"): (
        lambda c: (f"/models/{c.model(with_file=True)}/trust", {}),
        ADMIN_ONLY,
    ),
    ("POST", "/campaigns"): (lambda c: ("/campaigns", {"json": CAMPAIGN}), ADMIN_ONLY),
    ("POST", "/models/{model_id}/versions"): (
        lambda c: (f"/models/{c.model()}/versions", {"json": {"params": {"x": 1}}}),
        OWNER_OR_ADMIN,
    ),
    ("POST", "/campaigns/{campaign_id}/cancel"): (
        lambda c: (f"/campaigns/{_campaign(c)}/cancel", {}),
        ADMIN_ONLY,
    ),
    ("POST", "/campaigns/{campaign_id}/rerun"): (
        lambda c: (f"/campaigns/{_campaign(c)}/rerun", {"params": {"status": "failed"}}),
        ADMIN_ONLY,
    ),
    ("POST", "/tokens"): (lambda c: ("/tokens", {"json": {"name": "new"}}), SIGNED_IN),
    ("DELETE", "/tokens/{token_id}"): (
        lambda c: (f"/tokens/{_token(c)}", {}),
        {"owner": OK, "other": HIDDEN, "admin": OK},
    ),
    ("POST", "/users"): (
        lambda c: ("/users", {"json": {"name": f"u-{uuid.uuid4().hex[:8]}"}}),
        ADMIN_ONLY,
    ),
    ("DELETE", "/users/{user_id}/tokens/{token_id}"): (
        lambda c: (f"/users/{c.call('owner', 'GET', '/users/me')['id']}/tokens/{_token(c)}", {}),
        ADMIN_ONLY,
    ),
    ("POST", "/users/{user_id}/disable"): (
        lambda c: (f"/users/{c.call('other', 'GET', '/users/me')['id']}/disable", {}),
        ADMIN_ONLY,
    ),
    ("POST", "/users/{user_id}/enable"): (
        lambda c: (f"/users/{c.call('other', 'GET', '/users/me')['id']}/enable", {}),
        ADMIN_ONLY,
    ),
    ("POST", "/structure-sets"): (
        lambda c: ("/structure-sets", {"json": {"name": f"s-{uuid.uuid4().hex[:8]}"}}),
        SIGNED_IN,
    ),
    ("POST", "/structure-sets/{set_id}/structures"): (
        lambda c: (
            f"/structure-sets/{c.structure_set()}/structures",
            {"content": _extxyz(), "params": {"format": "extxyz"}},
        ),
        OWNER_OR_ADMIN,
    ),
    ("POST", "/references"): (
        lambda c: ("/references", {"json": {**REFERENCE, "material": f"r-{uuid.uuid4().hex[:8]}"}}),
        ADMIN_ONLY,
    ),
    ("PATCH", "/references/{reference_id}"): (
        lambda c: (f"/references/{c.reference()}", {"json": {"value": 101.0}}),
        ADMIN_ONLY,
    ),
    ("DELETE", "/references/{reference_id}"): (
        lambda c: (f"/references/{c.reference()}", {}),
        ADMIN_ONLY,
    ),
    ("POST", "/representations/summary"): (lambda c: ("/representations/summary", {}), ADMIN_ONLY),
}


def write_endpoints() -> set[tuple[str, str]]:
    """Every (method, path) of the app that writes, from its routes."""
    app = create_app()
    return {
        (method, str(rc.path))
        for rc in iter_route_contexts(app.routes)
        for method in (rc.methods or set()) & WRITES
    }


def test_every_write_endpoint_has_a_row() -> None:
    missing = write_endpoints() - set(MATRIX)
    assert not missing, f"add these write endpoints to the permission matrix: {sorted(missing)}"
    assert not set(MATRIX) - write_endpoints(), "the matrix lists endpoints the app lacks"


@pytest.fixture
def ctx(
    client: TestClient, db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Ctx]:
    monkeypatch.setenv("MLIPM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLIPM_ARTIFACT_URL", (tmp_path / "artifacts").as_uri())
    get_settings.cache_clear()
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, kind in (("owner", Role.SUBMITTER), ("other", Role.SUBMITTER), ("admin", Role.ADMIN)):
        issued = users.ensure_user_with_token(
            db_session, name=f"{role}-{uuid.uuid4().hex[:6]}", role=kind
        )
        headers[role] = {"Authorization": f"Bearer {issued.token}"}
    yield Ctx(client, headers)
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=lambda v: str(v))
def test_permission_matrix(ctx: Ctx, method: str, path: str, role: str) -> None:
    setup, expected = MATRIX[(method, path)]
    url, kwargs = setup(ctx)
    response = ctx.client.request(method, url, headers=ctx.headers[role], **kwargs)
    want = 401 if role == "anonymous" else expected[role]
    got = response.status_code
    assert (got // 100 == 2) if want == OK else (got == want), (
        f"{method} {path} as {role}: {got} {response.text[:300]}"
    )
    if got >= 400:
        assert response.json()["error"]["request_id"]  # the one error shape


# The read matrix: every GET route that can expose run data, read as anonymous, the owner of a
# model that is not approved, another submitter and an admin (fixture ``private_runs``: the
# model ran while approved, then went back to review or was rejected).

ReadUrl = Callable[[PrivateRuns], str]
Sees = Callable[[Any, PrivateRuns], bool]  # (response, fixture) -> the private data is shown
OWNER_AND_ADMIN = {"anonymous": False, "owner": True, "other": False, "admin": True}
NOBODY = dict.fromkeys(ROLES, False)  # approved models only, whoever asks


def _direct(response: Any, p: PrivateRuns) -> bool:
    """A direct read: 200 when shown, and exactly 404 (as for an unknown run) when not."""
    assert response.status_code in (200, 404), response.text[:300]
    return bool(response.status_code == 200)


def _lists(field: str) -> Sees:
    def sees(response: Any, p: PrivateRuns) -> bool:
        assert response.status_code == 200, response.text[:300]
        body = response.json()
        items = body["items"] if isinstance(body, dict) else body
        return bool({str(i[field]) for i in items} & {p.succeeded, p.failed})

    return sees


def _names_model(response: Any, p: PrivateRuns) -> bool:
    assert response.status_code == 200, response.text[:300]
    return p.model_id in response.text


def _summary_names_model(response: Any, p: PrivateRuns) -> bool:
    """The representation summary (404 until one is computed) names approved models only."""
    assert response.status_code in (200, 404), response.text[:300]
    return response.status_code == 200 and p.model_id in response.text


READS: dict[str, tuple[ReadUrl, Sees, dict[str, bool]]] = {
    "/runs": (lambda p: f"/runs?model_id={p.model_id}", _lists("id"), OWNER_AND_ADMIN),
    "/runs/{run_id}": (lambda p: f"/runs/{p.failed}", _direct, OWNER_AND_ADMIN),
    "/runs/{run_id}/metrics": (lambda p: f"/runs/{p.succeeded}/metrics", _direct, OWNER_AND_ADMIN),
    "/runs/{run_id}/series": (lambda p: f"/runs/{p.succeeded}/series", _direct, OWNER_AND_ADMIN),
    "/runs/{run_id}/artifacts": (
        lambda p: f"/runs/{p.succeeded}/artifacts",
        _direct,
        OWNER_AND_ADMIN,
    ),
    "/runs/{run_id}/artifacts/{name}": (
        lambda p: f"/runs/{p.succeeded}/artifacts/trajectory",
        _direct,
        OWNER_AND_ADMIN,
    ),
    "/campaigns/{campaign_id}/runs": (
        lambda p: f"/campaigns/{p.campaign_id}/runs?limit=1000",
        _lists("id"),
        OWNER_AND_ADMIN,
    ),
    "/exports/runs/{run_id}/trajectory": (
        lambda p: f"/exports/runs/{p.succeeded}/trajectory",
        _direct,
        OWNER_AND_ADMIN,
    ),
    "/landscapes/planes": (
        lambda p: f"/landscapes/planes?structure_id={p.structure_id}",
        _lists("run_id"),
        OWNER_AND_ADMIN,
    ),
    "/landscapes/runs/{run_id}": (
        lambda p: f"/landscapes/runs/{p.succeeded}",
        _direct,
        OWNER_AND_ADMIN,
    ),
    "/landscapes/runs/{run_id}/{name}": (
        lambda p: f"/landscapes/runs/{p.succeeded}/plane",
        _direct,
        OWNER_AND_ADMIN,
    ),
    "/landscapes/compare": (
        lambda p: f"/landscapes/compare?run_a={p.succeeded}&run_b={p.succeeded}",
        _direct,
        OWNER_AND_ADMIN,
    ),
    # Metrics follow the runs: the owner and admins read a private model's; boards rank
    # approved models only, even for the owner and admins (backend/services/leaderboard.py).
    "/metrics": (lambda p: f"/metrics?model_id={p.model_id}", _lists("run_id"), OWNER_AND_ADMIN),
    "/exports/metrics": (
        lambda p: f"/exports/metrics?format=json&model_id={p.model_id}",
        _names_model,
        OWNER_AND_ADMIN,
    ),
    "/leaderboards/{benchmark}": (lambda p: "/leaderboards/eos", _names_model, NOBODY),
    "/leaderboards": (lambda p: "/leaderboards?benchmarks=eos", _names_model, NOBODY),
    "/exports/leaderboards/{benchmark}": (
        lambda p: "/exports/leaderboards/eos?format=json",
        _names_model,
        NOBODY,
    ),
    # a summary is computed while models are approved; one unapproved since is cut out on read
    "/representations": (lambda p: "/representations", _summary_names_model, NOBODY),
}

#: GET routes that return no run data, and why.
NO_RUN_DATA = {
    "/health": "liveness",
    "/ready": "readiness",
    "/openapi.json": "the schema",
    "/docs": "the schema's page",
    "/docs/oauth2-redirect": "the schema's page",
    "/redoc": "the schema's page",
    "/benchmarks": "protocols",
    "/campaigns": "campaigns with run counts per status only (no runs, no models)",
    "/campaigns/{campaign_id}": "a campaign with run counts per status only",
    "/models": "model records: their own rule (approved, or the caller's)",
    "/models/card-schema": "a JSON schema",
    "/models/{model_id}": "a model record: its own rule (404 for others' unapproved models)",
    "/models/{model_id}/leakage": "training-set overlap: the model record's rule",
    "/prototypes": "crystal prototypes of the input structures, with their counts",
    "/references": "reference values",
    "/references/{reference_id}": "a reference value",
    "/structure-sets": "input structures",
    "/structure-sets/{set_id}": "input structures",
    "/structure-sets/{set_id}/structures": "input structures",
    "/structures/{structure_id}": "an input structure",
    "/exports/structure-sets/{structure_set}": "input structures",
    "/tokens": "the caller's tokens",
    "/users": "users (admins only)",
    "/users/me": "the caller",
    "/users/{user_id}/tokens": "a user's tokens (admins only)",
}


def read_endpoints() -> set[str]:
    """Every GET path of the app, from its routes."""
    return {
        str(rc.path)
        for rc in iter_route_contexts(create_app().routes)
        if "GET" in (rc.methods or set())
    }


def test_every_read_endpoint_has_a_row() -> None:
    routes = read_endpoints()
    missing = routes - set(READS) - set(NO_RUN_DATA)
    assert not missing, (
        f"add these GET endpoints to READS (who sees a private model's runs) or NO_RUN_DATA: "
        f"{sorted(missing)}"
    )
    listed = set(READS) | set(NO_RUN_DATA)
    assert not listed - routes, "the read matrix lists routes the app lacks"
    assert not set(READS) & set(NO_RUN_DATA)


@pytest.fixture(params=["pending", "rejected"])
def private_runs(
    request: pytest.FixtureRequest,
    client: TestClient,
    db_session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[PrivateRuns]:
    """A model that ran while approved, then went back to review or was rejected."""
    yield from make_private_runs(request.param, client, db_session, tmp_path, monkeypatch)


@pytest.mark.parametrize("path", sorted(READS))
def test_read_matrix(private_runs: PrivateRuns, path: str) -> None:
    p = private_runs
    url_of, sees, expected = READS[path]
    url = url_of(p)
    got = {role: sees(p.client.get(url, headers=p.headers[role]), p) for role in ROLES}
    assert got == expected, f"GET {path}: who sees the private model's runs"
