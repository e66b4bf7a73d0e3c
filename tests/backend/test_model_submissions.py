"""Model cards, submissions, review and training sets, through the real app on Postgres.

Visibility: someone else's unapproved model is 404 on every read (it is not public, so its
existence is not revealed either), while writes to a model you do not own are 403 (the upload
endpoint's existing contract; the id alone reveals nothing).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.build import bulk
from ase.io import read, write
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.db.tables import Structure, StructureSet, TrainingStructureHash
from backend.domain.statuses import Role
from backend.schemas.models import ModelCreate, ModelRead
from backend.services import users
from backend.settings import get_settings
from tests.live import LiveStack
from workers.adapters.baselines import BaselineModel, baseline_models
from workers.adapters.pretrained import control_models, pretrained_models
from workers.adapters.torch_support import MPTRJ_ELEMENTS, MPTRJ_N_STRUCTURES
from workers.atoms_json import atoms_from_json, atoms_to_json

CARD = {
    "authors": ["A. Author", "B. Author"],
    "paper": "https://doi.org/10.0000/example",
    "code": "https://github.com/example/mlip",
    "license": "MIT",
    "openness": "OSOD",
    "n_parameters": 1000,
    "training_data": [
        {
            "name": "toy set",
            "level_of_theory": "PBE",
            "n_structures": 10,
            "element_counts": {"Cu": 10},
        }
    ],
    "hyperparameters": {"r_cut": 5.0},
    "requirements": {"torch": "2.13.0"},
}


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
def artifact_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MLIPM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    get_settings.cache_clear()
    yield tmp_path / "artifacts"
    monkeypatch.undo()
    get_settings.cache_clear()


def _stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _submit(client: TestClient, headers: dict[str, str], name: str = "card-mlip") -> str:
    response = client.post(
        "/models", json={"name": name, "family": "emt", "card": CARD}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --- the card ---------------------------------------------------------------------------


def test_a_full_card_is_stored_with_the_records_name(
    client: TestClient, submitter: dict[str, str]
) -> None:
    model_id = _submit(client, submitter)
    card = client.get(f"/models/{model_id}", headers=submitter).json()["card"]
    assert card["name"] == "card-mlip"
    assert card["family"] == "emt"
    assert card["training_data"][0]["element_counts"] == {"Cu": 10}
    assert card["openness"] == "OSOD"


@pytest.mark.parametrize(
    ("card", "where"),
    [
        ({"licence": "MIT"}, "body.card.licence"),
        (
            {"training_data": [{"name": "t", "level_of_theory": "PBE", "n_structurs": 3}]},
            "body.card.training_data.0.n_structurs",
        ),
        (
            {"training_data": [{"name": "t", "level_of_theory": "PBE", "element_counts": {"Xx": 1}}]},  # noqa: E501
            "body.card.training_data.0.element_counts.Xx.[key]",
        ),
        ({"openness": "sort of open"}, "body.card.openness"),
        ({"name": "another-name"}, "body"),
    ],
)  # fmt: skip
def test_bad_cards_are_refused_with_the_field_path(
    client: TestClient, submitter: dict[str, str], card: dict[str, object], where: str
) -> None:
    body = {"name": "bad-card", "family": "emt", "card": card}
    response = client.post("/models", json=body, headers=submitter)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["where"] == where
    assert any(str(key) in error["message"] for key in (*card, "Xx"))


@pytest.mark.parametrize(
    "record", [*baseline_models(), *pretrained_models(), *control_models()], ids=lambda r: r.name
)
def test_every_built_in_card_fits_the_schema(record: BaselineModel) -> None:
    checked = ModelCreate.model_validate(
        {
            "name": record.name,
            "version": record.version,
            "family": record.family,
            "params": record.params,
            "card": record.card,
            "elements": list(record.elements),
        }
    )
    assert checked.card.authors
    assert checked.card.n_parameters
    if checked.card.openness is not None:
        assert checked.card.openness == "OSOD"


def test_builtin_models_are_stored_with_normalized_cards(client: TestClient) -> None:
    listed = client.get("/models").json()["items"]
    chgnet = next(m for m in listed if m["name"] == "CHGNet-0.3.0")
    assert chgnet["card"]["openness"] == "OSOD"
    assert chgnet["card"]["training_data"][0]["name"] == "MPtrj"
    assert "Bowen Deng" in chgnet["card"]["authors"]


def test_setup_registers_the_random_weights_control_beside_the_trained_model(
    client: TestClient,
) -> None:
    listed = client.get("/models").json()["items"]
    control = next(m for m in listed if m["name"] == "CHGNet-random-weights")
    trained = next(m for m in listed if m["name"] == "CHGNet-0.3.0")
    assert control["status"] == "approved"
    assert (control["family"], control["params"]) == ("chgnet", {"random_weights_seed": 0})
    assert "not a potential" in control["card"]["caveat"]
    assert control["version_hash"] != trained["version_hash"]


def test_the_mptrj_models_carry_the_published_element_counts(client: TestClient) -> None:
    """CHGNet and SevenNet-0 were trained on MPtrj: their cards carry the frames containing each
    element (Matbench Discovery's count, Fig. 3 of Miret et al.), which the element page maps."""
    from frontend.element_stats import training_counts, training_sources

    listed = {m["name"]: m for m in client.get("/models").json()["items"]}
    for name in ("CHGNet-0.3.0", "SevenNet-0"):
        model = ModelRead.model_validate(listed[name])
        counts = training_counts(model)
        assert set(counts) == MPTRJ_ELEMENTS  # the coverage the adapters declare
        assert max(counts, key=counts.__getitem__) == "O"  # oxides dominate MPtrj
        assert max(counts.values()) < MPTRJ_N_STRUCTURES  # counts of frames, not atoms
        assert counts["O"] == 865_310
        assert counts["Ne"] == 7
        assert "matbench-discovery" in training_sources(model)[0]


# --- YAML bodies ------------------------------------------------------------------------


def test_a_yaml_body_is_accepted(client: TestClient, submitter: dict[str, str]) -> None:
    text = yaml.safe_dump({"name": "yaml-mlip", "family": "emt", "card": CARD})
    headers = {**submitter, "Content-Type": "application/yaml"}
    response = client.post("/models", content=text, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["card"]["authors"] == ["A. Author", "B. Author"]


def test_yaml_errors_are_422_with_the_line_or_the_field(
    client: TestClient, submitter: dict[str, str]
) -> None:
    headers = {**submitter, "Content-Type": "text/yaml"}
    broken = "name: y\nfamily: emt\ncard:\n  authors: [a, b\n  license: MIT\n"
    response = client.post("/models", content=broken, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["where"].startswith("body:line ")
    assert "line" in error["message"]
    unknown = "name: y\nfamily: emt\ncard:\n  licence: MIT\n"
    response = client.post("/models", content=unknown, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["where"] == "body.card.licence"


# --- who sees and edits what ------------------------------------------------------------


def test_anonymous_callers_cannot_write(client: TestClient, admin: dict[str, str]) -> None:
    model_id = _submit(client, admin)
    assert client.post("/models", json={"name": "a", "family": "emt"}).status_code == 401
    assert client.patch(f"/models/{model_id}", json={"params": {}}).status_code == 401
    assert client.post(f"/models/{model_id}/approve").status_code == 401
    assert client.put(f"/models/{model_id}/training-set", content=b"x").status_code == 401


def test_submitters_see_and_edit_only_their_own_models(
    client: TestClient, db_session: Session, admin: dict[str, str], submitter: dict[str, str]
) -> None:
    model_id = _submit(client, submitter)
    other = _token(db_session, Role.SUBMITTER)

    def listed(headers: dict[str, str] | None) -> set[str]:
        return {m["id"] for m in client.get("/models", headers=headers).json()["items"]}

    assert model_id in listed(submitter)
    assert model_id in listed(admin)
    assert model_id not in listed(other)
    assert model_id not in listed(None)
    assert client.get(f"/models/{model_id}", headers=other).status_code == 404
    assert client.get(f"/models/{model_id}").status_code == 404
    assert client.get(f"/models/{model_id}/leakage", headers=other).status_code == 404
    edit = client.patch(f"/models/{model_id}", json={"params": {"x": 1}}, headers=other)
    assert edit.status_code == 403
    assert client.get(f"/models/{model_id}", headers=admin).status_code == 200
    by_admin = client.patch(f"/models/{model_id}", json={"elements": ["Cu"]}, headers=admin)
    assert by_admin.status_code == 200
    assert by_admin.json()["elements"] == ["Cu"]
    # Approved models are public.
    client.post(f"/models/{model_id}/approve", headers=admin)
    assert model_id in listed(other)
    assert client.get(f"/models/{model_id}").status_code == 200


def test_edits_are_checked_like_submissions(client: TestClient, submitter: dict[str, str]) -> None:
    model_id = _submit(client, submitter)
    url = f"/models/{model_id}"
    cases = [
        ({"card": {"licence": "MIT"}}, "body.card.licence"),
        ({"card": {"name": "renamed"}}, "card.name"),
        ({"elements": ["Cu", "Qq"]}, "elements"),
        ({"params": {"trusted": True}}, "params.trusted"),
        ({"status": "approved"}, "body.status"),
    ]
    for body, where in cases:
        response = client.patch(url, json=body, headers=submitter)
        assert response.status_code == 422, body
        assert response.json()["error"]["where"] == where


CAMPAIGN = {
    "name": "approval test",
    "benchmarks": [{"key": "eos"}],
    "structure_sets": ["elemental crystals"],
}


def test_campaigns_use_only_approved_models_and_edits_go_back_to_review(
    client: TestClient, admin: dict[str, str], submitter: dict[str, str]
) -> None:
    model_id = _submit(client, submitter, name="review-mlip")
    spec = {**CAMPAIGN, "models": [{"name": "EMT"}, {"id": model_id}]}
    refused = client.post("/campaigns", json=spec, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["where"] == "models[1]"
    assert "awaits approval" in refused.json()["error"]["message"]
    assert client.post(f"/models/{model_id}/approve", headers=submitter).status_code == 403
    approved = client.post(f"/models/{model_id}/approve", headers=admin)
    assert approved.json()["status"] == "approved"
    assert client.post("/campaigns", json=spec, headers=admin).status_code == 201
    # The owner's edit of an approved model needs a new review.
    edited = client.patch(
        f"/models/{model_id}", json={"card": {**CARD, "license": "BSD-3"}}, headers=submitter
    )
    assert edited.status_code == 200
    assert edited.json()["status"] == "pending"
    assert edited.json()["card"]["license"] == "BSD-3"
    assert edited.json()["card"]["name"] == "review-mlip"
    rejected = client.post(f"/models/{model_id}/reject", headers=admin)
    assert rejected.json()["status"] == "rejected"
    again = client.post("/campaigns", json=spec, headers=admin)
    assert again.status_code == 422
    assert again.json()["error"]["where"] == "models[1]"


# --- training sets ----------------------------------------------------------------------


def _stored_cu(session: Session) -> Structure:
    query = (
        select(Structure)
        .join(StructureSet, Structure.structure_set_id == StructureSet.id)
        .where(StructureSet.name == "elemental crystals", Structure.label == "Cu")
    )
    return session.scalars(query).one()


def _extxyz(*atoms_list: Atoms) -> bytes:
    buf = io.StringIO()
    write(buf, list(atoms_list), format="extxyz")
    return buf.getvalue().encode()


def _training_rows(session: Session, model_id: str) -> int:
    query = select(func.count()).where(TrainingStructureHash.mlip_model_id == uuid.UUID(model_id))
    return int(session.scalar(query) or 0)


def test_training_set_counts_elements_and_finds_leaked_benchmark_structures(
    client: TestClient, db_session: Session, submitter: dict[str, str], artifact_dir: Path
) -> None:
    model_id = _submit(client, submitter)
    cu = atoms_from_json(_stored_cu(db_session).data)
    nacl = bulk("NaCl", "rocksalt", a=5.64)
    content = _extxyz(cu, nacl)
    response = client.put(f"/models/{model_id}/training-set", content=content, headers=submitter)
    assert response.status_code == 200, response.text
    model = response.json()
    assert model["training_n_structures"] == 2
    assert model["training_element_counts"] == {"Cl": 1, "Cu": 1, "Na": 1}
    assert len(_stored_files(artifact_dir)) == 1
    assert _training_rows(db_session, model_id) == 2
    leakage = client.get(f"/models/{model_id}/leakage", headers=submitter).json()
    leaked = {(s["structure_set"], s["label"]) for s in leakage["leaked"]}
    assert ("elemental crystals", "Cu") in leaked
    assert {label for _, label in leaked} == {"Cu"}
    # A new training set replaces the old one.
    client.put(f"/models/{model_id}/training-set", content=_extxyz(nacl), headers=submitter)
    assert client.get(f"/models/{model_id}/leakage", headers=submitter).json()["leaked"] == []
    assert _training_rows(db_session, model_id) == 1


def _stored(session: Session, label: str) -> Atoms:
    query = (
        select(Structure)
        .join(StructureSet, Structure.structure_set_id == StructureSet.id)
        .where(StructureSet.name == "elemental crystals", Structure.label == label)
    )
    return atoms_from_json(session.scalars(query).one().data)


def test_leakage_matches_the_same_structure_within_a_tolerance(
    client: TestClient, db_session: Session, submitter: dict[str, str]
) -> None:
    """extxyz keeps 8 decimals, so a non-cubic cell (hcp Mg) read back no longer hashes like
    the stored structure; rotated, translated, re-ordered, 1e-6 Å-perturbed copies and
    supercells are still the same structure. A 2 % strain is not."""
    rng = np.random.default_rng(1)
    mg = _stored(db_session, "Mg")  # hcp, 2 atoms
    ti = _stored(db_session, "Ti")  # hcp: rotated, translated, permuted, perturbed
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    moved = ti.repeat((1, 1, 1))
    moved.set_cell(ti.cell.array @ q.T, scale_atoms=False)
    moved.positions = ti.positions @ q.T + rng.uniform(-3, 3, 3)
    moved.positions += rng.uniform(-1e-6, 1e-6, moved.positions.shape)
    moved = moved[[1, 0]]
    w_supercell = _stored(db_session, "W").repeat((2, 1, 2))
    al_strained = _stored(db_session, "Al")
    al_strained.set_cell(al_strained.cell.array * 1.02, scale_atoms=True)
    zn_sheared = _stored(db_session, "Zn")
    shear = np.eye(3)
    shear[0, 1] = 0.02
    zn_sheared.set_cell(zn_sheared.cell.array @ shear, scale_atoms=True)
    content = _extxyz(mg, moved, w_supercell, al_strained, zn_sheared)
    # The premise: hcp Mg's content hash does not survive the round trip through extxyz.
    back = read(io.StringIO(content.decode()), index=0, format="extxyz")
    assert isinstance(back, Atoms)
    assert atoms_to_json(back) != atoms_to_json(mg)

    model_id = _submit(client, submitter)
    response = client.put(f"/models/{model_id}/training-set", content=content, headers=submitter)
    assert response.status_code == 200, response.text
    leakage = client.get(f"/models/{model_id}/leakage", headers=submitter).json()
    found = {s["label"]: s["match"] for s in leakage["leaked"] if s["structure_set"] ==
             "elemental crystals"}  # fmt: skip
    assert found == {"Mg": "within_tolerance", "Ti": "within_tolerance",
                     "W": "within_tolerance"}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"hello\nthis is not a structure file\n", "not a readable extxyz"),
        (
            b'1\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
            b"Xx 0 0 0\n",
            "unknown element",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 50, "not text"),
    ],
)
def test_bad_training_files_are_422_and_leave_nothing(
    client: TestClient,
    db_session: Session,
    submitter: dict[str, str],
    artifact_dir: Path,
    content: bytes,
    reason: str,
) -> None:
    model_id = _submit(client, submitter)
    response = client.put(f"/models/{model_id}/training-set", content=content, headers=submitter)
    assert response.status_code == 422, response.text
    assert reason in response.json()["error"]["message"]
    assert response.json()["error"]["where"] == "body"
    assert _stored_files(artifact_dir) == []
    assert _training_rows(db_session, model_id) == 0
    model = client.get(f"/models/{model_id}", headers=submitter).json()
    assert model["training_set_sha256"] is None
    assert model["training_n_structures"] is None


def test_training_set_over_the_limit_is_413(
    client: TestClient,
    submitter: dict[str, str],
    artifact_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLIPM_MAX_TRAINING_SET_MB", "0.001")
    get_settings.cache_clear()
    model_id = _submit(client, submitter)
    response = client.put(
        f"/models/{model_id}/training-set", content=b"1\n\nCu 0 0 0\n" * 200, headers=submitter
    )
    assert response.status_code == 413
    assert "MLIPM_MAX_TRAINING_SET_MB" in response.json()["error"]["message"]
    assert _stored_files(artifact_dir) == []


# --- the CLI against a live API ---------------------------------------------------------


def test_cli_submits_a_card_file_and_training_set(
    live_stack: LiveStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.cli.main import app

    name = f"cli-mlip-{uuid.uuid4().hex[:6]}"
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump({"name": name, "family": "emt", "card": CARD}))
    model_file = tmp_path / "model.pt"
    model_file.write_bytes(b"\x00weights" * 300_000)  # a few chunks
    training = tmp_path / "train.extxyz"
    training.write_bytes(_extxyz(bulk("Cu", "fcc", a=3.6), bulk("Al", "fcc", a=4.05)))
    monkeypatch.setenv("MLIPM_API_URL", live_stack.api_url)
    monkeypatch.setenv("MLIPM_TOKEN", live_stack.admin_token)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            [
                "models", "submit", str(card),
                "--file", str(model_file), "--training-set", str(training),
            ],
        )  # fmt: skip
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "training set: 2 structures" in result.output
    admin = live_stack.client(live_stack.admin_token)
    model = next(m for m in admin.model_list() if m.name == name)
    assert model.status == "approved"  # an admin's submission needs no review
    assert model.artifact_sha256 is not None
    assert model.training_element_counts == {"Al": 1, "Cu": 1}
    assert admin.model(model.id).training_n_structures == 2
