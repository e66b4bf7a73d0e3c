"""Structure sets through the real app on Postgres: uploads in every format, checks, duplicates.

Numbers are checked against ASE itself (positions, cells, formulas of the structures written),
and every refused upload is checked to have stored nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.io import write
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.services import users
from backend.settings import get_settings
from workers.atoms_json import atoms_from_json, atoms_to_json


def _token(session: Session, role: Role) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        session, name=f"{role.value}-{uuid.uuid4().hex[:6]}", role=role
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def admin(db_session: Session) -> dict[str, str]:
    return _token(db_session, Role.ADMIN)


@pytest.fixture
def submitter(db_session: Session) -> dict[str, str]:
    return _token(db_session, Role.SUBMITTER)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change settings through the environment for one test."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def text(images: Atoms | list[Atoms], fmt: str) -> bytes:
    """The file ASE writes for these structures (the CIF writer wants a binary stream)."""
    buffer: io.BytesIO | io.StringIO = io.BytesIO() if fmt == "cif" else io.StringIO()
    write(buffer, images, format=fmt)
    value = buffer.getvalue()
    return value if isinstance(value, bytes) else value.encode()


def new_set(client: TestClient, headers: dict[str, str], name: str | None = None) -> str:
    body = {"name": name or f"set-{uuid.uuid4().hex[:8]}", "description": "tests"}
    response = client.post("/structure-sets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def upload(
    client: TestClient, set_id: str, content: bytes, headers: dict[str, str], **params: str
) -> tuple[int, dict[str, Any]]:
    response = client.post(
        f"/structure-sets/{set_id}/structures", content=content, params=params, headers=headers
    )
    return response.status_code, response.json()


def n_stored(client: TestClient, set_id: str) -> int:
    return int(client.get(f"/structure-sets/{set_id}").json()["n_structures"])


CU = bulk("Cu", "fcc", a=3.61)
SI = bulk("Si", "diamond", a=5.43)
WATER = molecule("H2O")


def test_multi_structure_extxyz_is_stored_losslessly_and_filterable_by_element(
    client: TestClient, submitter: dict[str, str]
) -> None:
    set_id = new_set(client, submitter)
    status, body = upload(
        client, set_id, text([CU, SI, WATER], "extxyz"), submitter, filename="a.xyz"
    )
    assert status == 201, body
    assert body["format"] == "extxyz"
    assert [s["formula"] for s in body["added"]] == ["Cu", "Si2", "H2O"]
    assert n_stored(client, set_id) == 3
    silicon = client.get(f"/structure-sets/{set_id}/structures", params={"element": "Si"}).json()
    assert [s["formula"] for s in silicon["items"]] == ["Si2"]
    assert silicon["total"] == 1
    both = client.get(
        f"/structure-sets/{set_id}/structures", params=[("element", "H"), ("element", "O")]
    ).json()
    assert [s["formula"] for s in both["items"]] == ["H2O"]
    page = client.get(f"/structure-sets/{set_id}/structures", params={"limit": 2}).json()
    assert (len(page["items"]), page["total"]) == (2, 3)
    detail = client.get(f"/structures/{body['added'][1]['id']}").json()
    stored = atoms_from_json(detail["data"])
    # extxyz keeps 8 decimals: the stored silicon is ASE's own, to that precision
    np.testing.assert_allclose(stored.positions, SI.positions, atol=1e-7)
    np.testing.assert_allclose(stored.cell.array, SI.cell.array, atol=1e-7)
    assert detail["content_hash"] == hashlib.sha256(detail["data"].encode()).hexdigest()
    bad = client.get(f"/structure-sets/{set_id}/structures", params={"element": "Xx"})
    assert bad.status_code == 422
    assert bad.json()["error"]["where"] == "query.element"


@pytest.mark.parametrize(
    ("content", "params", "formula", "n_atoms"),
    [
        (text(CU, "cif"), {"filename": "Cu.cif"}, "Cu", 1),
        (text(bulk("NaCl", "rocksalt", a=5.64), "vasp"), {"filename": "POSCAR"}, "ClNa", 2),
        (text(SI, "vasp"), {"format": "poscar"}, "Si2", 2),
        (atoms_to_json(WATER).encode(), {"filename": "water.json"}, "H2O", 3),
        (text(SI, "json"), {"format": "json"}, "Si2", 2),  # an ASE database file
    ],
)
def test_each_format_is_read_from_the_name_or_the_format_field(
    client: TestClient,
    submitter: dict[str, str],
    content: bytes,
    params: dict[str, str],
    formula: str,
    n_atoms: int,
) -> None:
    set_id = new_set(client, submitter)
    status, body = upload(client, set_id, content, submitter, **params)
    assert status == 201, body
    assert [(s["formula"], s["n_atoms"]) for s in body["added"]] == [(formula, n_atoms)]


def test_an_ase_json_list_holds_many_structures(
    client: TestClient, submitter: dict[str, str]
) -> None:
    set_id = new_set(client, submitter)
    content = f"[{atoms_to_json(CU)}, {atoms_to_json(WATER)}]".encode()
    status, body = upload(client, set_id, content, submitter, format="json")
    assert status == 201, body
    assert body["n_in_file"] == 2
    stored = atoms_from_json(client.get(f"/structures/{body['added'][0]['id']}").json()["data"])
    assert stored.todict().keys() == CU.todict().keys()
    np.testing.assert_array_equal(stored.cell.array, CU.cell.array)  # lossless, bit for bit


def test_duplicates_are_skipped_in_the_set_and_reported_across_sets(
    client: TestClient, submitter: dict[str, str]
) -> None:
    elemental = next(
        s
        for s in client.get("/structure-sets").json()["items"]
        if s["name"] == "elemental crystals"
    )
    builtin = client.get(f"/structure-sets/{elemental['id']}/structures", params={"limit": 1})
    known = client.get(f"/structures/{builtin.json()['items'][0]['id']}").json()
    set_id = new_set(client, submitter)
    content = f"[{known['data']}, {atoms_to_json(WATER)}, {atoms_to_json(WATER)}]".encode()
    status, first = upload(client, set_id, content, submitter, format="json")
    assert status == 201, first
    assert len(first["added"]) == 2  # the repeated water is stored once
    assert [(d["index"], d["structure_id"]) for d in first["skipped_duplicates"]] == [
        (2, first["added"][1]["id"])
    ]
    assert [
        (d["index"], d["structure_id"], d["structure_set"]) for d in first["found_in_other_sets"]
    ] == [(0, known["id"], "elemental crystals")]
    status, again = upload(client, set_id, content, submitter, format="json")
    assert status == 201
    assert again["added"] == []
    assert [d["index"] for d in again["skipped_duplicates"]] == [0, 1, 2]
    assert n_stored(client, set_id) == 2


def test_one_label_for_two_different_structures_is_a_conflict(
    client: TestClient, submitter: dict[str, str]
) -> None:
    set_id = new_set(client, submitter)
    a, b = CU.copy(), bulk("Cu", "fcc", a=3.7)
    a.info["label"] = b.info["label"] = "copper"
    status, body = upload(client, set_id, text([a, b], "extxyz"), submitter, format="extxyz")
    assert status == 409
    assert body["error"]["where"] == "body:structure 1"
    assert n_stored(client, set_id) == 0


def _xyz(symbols: str, positions: str, lattice: str | None = None) -> str:
    lines = positions.strip().splitlines()
    header = f'Lattice="{lattice}" Properties=species:S:1:pos:R:3 pbc="T T T"' if lattice else ""
    return f"{len(lines)}\n{header}\n" + "\n".join(f"{symbols} {p}" for p in lines) + "\n"


OK_FRAME = text(CU, "extxyz")


@pytest.mark.parametrize(
    ("content", "params", "where", "message"),
    [
        (b"", {"format": "extxyz"}, "body", "empty"),
        (b"  \n\n", {"format": "extxyz"}, "body", "empty"),
        (b"1\n\nXx 0 0 0\n", {"format": "extxyz"}, "body:line 1", "unknown element"),
        (b"1\n\nX 0 0 0\n", {"format": "extxyz"}, "body:structure 0 (line 1)", "atomic number [0]"),
        (
            b"2\n\nCu 0 0 0\nCu 0.3 0 0\n",
            {"format": "extxyz"},
            "body:structure 0 (line 1)",
            "0.3 Å apart",
        ),
        (
            _xyz("Cu", "0 0 0", lattice="0.4 0 0 0 4 0 0 0 4").encode(),
            {"format": "extxyz"},
            "body:structure 0 (line 1)",
            "0.5 Å",
        ),
        (
            _xyz("Cu", "0 0 0", lattice="3 0 0 0 3 0 6 0 0").encode(),
            {"format": "extxyz"},
            "body:structure 0 (line 1)",
            "zero volume",
        ),
        (b"1\n\nCu nan 0 0\n", {"format": "extxyz"}, "body:structure 0 (line 1)", "not finite"),
        (b"1\n\nCu 1e300 0 0\n", {"format": "extxyz"}, "body:structure 0 (line 1)", "beyond"),
        (text(CU, "cif"), {"format": "extxyz"}, "body:line 1", "expected the atom count"),
        (OK_FRAME, {"filename": "cu.pdb"}, "format", "cannot tell the format"),
        (OK_FRAME, {}, "format", "say the format"),
        (OK_FRAME + b"3\n\nCu 0 0 0\n", {"format": "extxyz"}, "body:line 4", "truncated"),
    ],
)
def test_bad_files_are_422_naming_the_place_and_store_nothing(
    client: TestClient,
    submitter: dict[str, str],
    content: bytes,
    params: dict[str, str],
    where: str,
    message: str,
) -> None:
    set_id = new_set(client, submitter)
    status, body = upload(client, set_id, content, submitter, **params)
    assert status == 422, body
    assert body["error"]["where"] == where
    assert message in body["error"]["message"]
    assert n_stored(client, set_id) == 0


def test_one_bad_structure_refuses_the_whole_file(
    client: TestClient, submitter: dict[str, str]
) -> None:
    set_id = new_set(client, submitter)
    squeezed = WATER.copy()
    squeezed.positions[1] = squeezed.positions[0] + [0.1, 0.0, 0.0]
    status, body = upload(
        client, set_id, text([CU, SI, squeezed], "extxyz"), submitter, format="extxyz"
    )
    assert status == 422
    assert body["error"]["where"].startswith("body:structure 2")
    assert n_stored(client, set_id) == 0


def test_too_many_atoms_and_too_large_files_are_refused(
    client: TestClient, submitter: dict[str, str], settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings_env.setenv("MLIPM_MAX_STRUCTURE_ATOMS", "4")
    settings_env.setenv("MLIPM_MAX_STRUCTURE_FILE_MB", str(2000 / 1024 / 1024))
    settings_env.setattr(tempfile, "tempdir", str(tmp_path))
    set_id = new_set(client, submitter)
    status, body = upload(
        client, set_id, text(SI.repeat((1, 1, 3)), "extxyz"), submitter, format="extxyz"
    )
    assert status == 422
    assert "6 atoms, more than the limit of 4" in body["error"]["message"]
    assert "MLIPM_MAX_STRUCTURE_ATOMS" in body["error"]["message"]
    settings_env.setenv("MLIPM_MAX_STRUCTURES_PER_UPLOAD", "2")
    get_settings.cache_clear()
    status, body = upload(
        client, set_id, text([CU, SI, WATER], "extxyz"), submitter, format="extxyz"
    )
    assert status == 422
    assert body["error"]["where"] == "body:structure 2 (line 8)"
    assert "MLIPM_MAX_STRUCTURES_PER_UPLOAD" in body["error"]["message"]
    big = text([CU] * 40, "extxyz")
    assert len(big) > 2000
    status, body = upload(client, set_id, big, submitter, format="extxyz")
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert "MLIPM_MAX_STRUCTURE_FILE_MB" in body["error"]["message"]
    streamed = client.post(
        f"/structure-sets/{set_id}/structures",
        content=(big[i : i + 500] for i in range(0, len(big), 500)),  # no Content-Length
        params={"format": "extxyz"},
        headers=submitter,
    )
    assert streamed.status_code == 413
    assert n_stored(client, set_id) == 0
    assert list(tmp_path.iterdir()) == []  # no spooled file left behind


def test_only_the_owner_or_an_admin_adds_to_a_set(
    client: TestClient, submitter: dict[str, str], admin: dict[str, str], db_session: Session
) -> None:
    set_id = new_set(client, submitter)
    stranger = _token(db_session, Role.SUBMITTER)
    content = text(CU, "extxyz")
    assert upload(client, set_id, content, stranger, format="extxyz")[0] == 403
    assert upload(client, set_id, content, {}, format="extxyz")[0] == 401
    assert upload(client, set_id, content, admin, format="extxyz")[0] == 201
    assert upload(client, str(uuid.uuid4()), content, submitter, format="extxyz")[0] == 404
    sets = client.get("/structure-sets").json()["items"]
    builtin = next(s for s in sets if s["name"] == "elemental crystals")
    assert builtin["owner_id"] is None
    assert upload(client, builtin["id"], content, submitter, format="extxyz")[0] == 403


def test_set_names_are_unique_and_sets_list_with_counts(
    client: TestClient, submitter: dict[str, str]
) -> None:
    name = f"unique-{uuid.uuid4().hex[:6]}"
    new_set(client, submitter, name)
    again = client.post("/structure-sets", json={"name": name}, headers=submitter)
    assert again.status_code == 409
    assert again.json()["error"]["where"] == "body.name"
    blank = client.post("/structure-sets", json={"name": ""}, headers=submitter)
    assert blank.status_code == 422
    listed = client.get("/structure-sets", params={"limit": 1000}).json()
    assert listed["total"] == len(listed["items"])
    assert any(s["name"] == name and s["n_structures"] == 0 for s in listed["items"])
    assert client.get(f"/structure-sets/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/structures/{uuid.uuid4()}").status_code == 404


def test_every_request_body_has_a_size_limit_but_uploads_keep_their_own(
    client: TestClient,
    submitter: dict[str, str],
    settings_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings_env.setenv("MLIPM_MAX_REQUEST_MB", str(4096 / 1024 / 1024))
    settings_env.setenv("MLIPM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    settings_env.setenv("MLIPM_ARTIFACT_URL", (tmp_path / "artifacts").as_uri())
    body = {"name": "too-big", "description": "x" * 5000}
    declared = client.post(
        "/structure-sets", json=body, headers={**submitter, "X-Request-ID": "big-1"}
    )
    assert declared.status_code == 413
    assert declared.json()["error"] == {
        "code": "payload_too_large",
        "message": "the request body is larger than the limit of 0.00390625 MiB "
        "(setting MLIPM_MAX_REQUEST_MB)",
        "where": "body",
        "request_id": "big-1",
    }
    raw = json.dumps(body).encode()
    chunked = client.post(
        "/structure-sets",
        content=(raw[i : i + 1000] for i in range(0, len(raw), 1000)),
        headers={**submitter, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    small = client.post("/structure-sets", json={"name": "fits"}, headers=submitter)
    assert small.status_code == 201
    model = client.post("/models", json={"name": "big-file", "family": "mace"}, headers=submitter)
    weights = b"w" * 20_000  # five times the generic limit, far below MLIPM_MAX_MODEL_FILE_MB
    uploaded = client.put(f"/models/{model.json()['id']}/file", content=weights, headers=submitter)
    assert uploaded.status_code == 200, uploaded.text
    big_file = text([CU] * 60, "extxyz")
    assert len(big_file) > 4096
    status, _ = upload(client, str(small.json()["id"]), big_file, submitter, format="extxyz")
    assert status == 201


def test_nul_characters_never_reach_the_database(
    client: TestClient, submitter: dict[str, str]
) -> None:
    set_id = new_set(client, submitter)
    labelled = CU.copy()
    labelled.info["label"] = "cu\x00prim"  # JSON spells it \u0000, without a NUL byte
    status, body = upload(
        client, set_id, atoms_to_json(labelled).encode(), submitter, format="json"
    )
    assert status == 201, body
    assert body["added"][0]["label"] == "cuprim"
    named = client.post("/structure-sets", json={"name": "nul\x00name"}, headers=submitter)
    assert named.status_code == 422
    assert named.json()["error"]["where"] == "body.name"
