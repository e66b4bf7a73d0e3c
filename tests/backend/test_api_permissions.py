"""The permission matrix: every write endpoint of the app, as anonymous, the owner of the target
(a submitter), another submitter and an admin.

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

from backend.db.models import Role
from backend.main import create_app
from backend.services import users
from backend.settings import get_settings

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
