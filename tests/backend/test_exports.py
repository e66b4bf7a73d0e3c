"""Exports: CSV / JSON / Parquet tables equal the API's JSON; extxyz read back by ASE."""

from __future__ import annotations

import csv
import io
import json

import ase.io
import numpy as np
import pyarrow.parquet as pq
import pytest
from ase import Atoms
from ase.io.jsonio import decode
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.tables import Run, Structure, StructureSet
from tests.backend.test_leaderboard_api import seeded  # noqa: F401  (fixture)


def _disposition(response) -> str:  # type: ignore[no-untyped-def]
    return response.headers["Content-Disposition"]


def test_leaderboard_exports_hold_the_boards_numbers(client: TestClient, seeded: dict) -> None:  # noqa: F811
    board = client.get("/leaderboards/eos", params={"openness": "CSCD"}).json()
    row = board["rows"][0]
    expected = row["metrics"]["bulk_modulus"]["mape_percent"]
    params = {"openness": "CSCD"}

    as_csv = client.get("/exports/leaderboards/eos", params={**params, "format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="leaderboard-eos-' in _disposition(as_csv)
    records = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["model_name"] for r in records] == ["lb-bad"]
    assert float(records[0]["bulk_modulus.mape_percent"]) == pytest.approx(expected)
    mean = row["metrics"]["bulk_modulus"]["mean"]
    assert float(records[0]["bulk_modulus.mean"]) == pytest.approx(mean)
    assert int(records[0]["bulk_modulus.n_values"]) == row["metrics"]["bulk_modulus"]["n_values"]

    as_json = client.get("/exports/leaderboards/eos", params={**params, "format": "json"})
    assert json.loads(as_json.content)[0]["bulk_modulus.mape_percent"] == pytest.approx(expected)

    as_parquet = client.get("/exports/leaderboards/eos", params={**params, "format": "parquet"})
    assert as_parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(as_parquet.content)).to_pylist()
    assert table[0]["bulk_modulus.mape_percent"] == pytest.approx(expected)
    assert table[0]["n_failed"] == 1


def test_metric_list_and_export_agree(client: TestClient, seeded: dict) -> None:  # noqa: F811
    model_id = str(seeded["lb-good"].id)
    page = client.get("/metrics", params={"model_id": model_id, "limit": 3}).json()
    assert page["total"] == 4  # 2 runs x (V0, B0)
    assert len(page["items"]) == 3
    item = page["items"][0]
    assert item["error"] == pytest.approx(item["value"] - item["reference"])
    assert item["level_of_theory"] == "experiment"
    exported = client.get("/exports/metrics", params={"model_id": model_id, "format": "csv"})
    assert 'filename="metrics.csv"' in _disposition(exported)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 4
    assert {float(r["value"]) for r in rows} == {11.9, 140.0, 16.6, 76.0}
    parquet = client.get("/exports/metrics", params={"model_id": model_id, "format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 4
    assert client.get("/exports/metrics", params={"format": "xml"}).status_code == 422


def test_structure_set_extxyz_reads_back_as_the_stored_atoms(
    client: TestClient, db_session: Session
) -> None:
    stored_set = db_session.scalars(
        select(StructureSet).where(StructureSet.name == "elemental crystals")
    ).one()
    structures = db_session.scalars(
        select(Structure)
        .where(Structure.structure_set_id == stored_set.id)
        .order_by(Structure.label)
    ).all()
    response = client.get("/exports/structure-sets/elemental crystals")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("chemical/x-extxyz")
    assert 'filename="elemental_crystals.extxyz"' in _disposition(response)
    frames = ase.io.read(io.StringIO(response.text), index=":", format="extxyz")
    assert len(frames) == len(structures)
    for frame, structure in zip(frames, structures, strict=True):
        atoms = Atoms.fromdict(decode(structure.data))
        assert frame.get_chemical_symbols() == atoms.get_chemical_symbols()
        np.testing.assert_allclose(frame.positions, atoms.positions, atol=1e-9)
        np.testing.assert_allclose(frame.cell[:], atoms.cell[:], atol=1e-8)
        assert list(frame.pbc) == list(atoms.pbc)
    by_id = client.get(f"/exports/structure-sets/{stored_set.id}")
    assert by_id.content == response.content
    assert client.get("/exports/structure-sets/nope").status_code == 404


def test_run_trajectory_export_says_it_is_the_input_structure(
    client: TestClient,
    db_session: Session,
    seeded: dict,  # noqa: F811
) -> None:
    run = db_session.scalars(select(Run).where(Run.mlip_model_id == seeded["lb-good"].id)).first()
    assert run is not None
    response = client.get(f"/exports/runs/{run.id}/trajectory")
    assert response.status_code == 200
    assert "input structure" in response.headers["X-Export-Note"]
    frames = ase.io.read(io.StringIO(response.text), index=":", format="extxyz")
    assert len(frames) == 1
