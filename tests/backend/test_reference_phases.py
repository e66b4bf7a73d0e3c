"""A reference is compared only with structures of its phase: the bootstrap, the admin API, the
result writer and the repair command (`mlipm refs check --fix`) all refuse graphite for diamond."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.bootstrap import ELEMENTAL_CRYSTALS
from backend.db.tables import Metric, Reference
from backend.domain.statuses import Role
from backend.schemas.results import MetricIn, RunTimings
from backend.services import catalog, reference_phases, runs, users
from shared_kernel.errors import PhaseMismatch
from workers.phases import space_group_of_data
from workers.reference_data import experimental_references
from workers.reference_sets import other_phase_references

GRAPHITE = {"space_group": 194, "prototype": "graphite"}
DIAMOND = {"space_group": 227, "prototype": "diamond"}


def _row(record: Any) -> dict[str, Any]:
    return {**dataclasses.asdict(record), "conditions": dict(record.conditions)}


def _dcdft_carbon() -> list[dict[str, Any]]:
    """dcdft's experimental C (graphite: V0 8.06 Å³/atom, B0 55.6 GPa, B')."""
    return [
        _row(r)
        for r in experimental_references()
        if (r.dataset, r.material) == ("ase.collections.dcdft", "C")
    ]


@pytest.fixture
def admin(db_session: Session) -> dict[str, str]:
    issued = users.ensure_user_with_token(db_session, name="phase-admin", role=Role.ADMIN)
    return {"Authorization": f"Bearer {issued.token}"}


def _reference_body(**change: Any) -> dict[str, Any]:
    body = {
        "material": "C",
        "property": "bulk_modulus",
        "value": 55.6,
        "unit": "GPa",
        "level_of_theory": "experiment",
        "conditions": {"temperature_k": 0, "phase": GRAPHITE},
        "source": "dcdft",
        "dataset": f"tests-{uuid.uuid4().hex[:6]}",
    }
    return {**body, **change}


def test_the_bootstrap_refuses_graphite_for_the_diamond_structure(db_session: Session) -> None:
    rows = _dcdft_carbon()
    assert len(rows) == 3
    assert all(r["conditions"]["phase"] == GRAPHITE for r in rows)
    before = db_session.scalar(select(func.count()).select_from(Reference))
    with pytest.raises(PhaseMismatch) as refused:
        catalog.load_references(
            db_session,
            rows,
            structure_set=ELEMENTAL_CRYSTALS,
            read_space_group=space_group_of_data,
        )
    message = refused.value.message
    assert "3 reference(s)" in message
    assert (
        "ase.collections.dcdft C bulk_modulus (space group 194 (graphite)) vs C (space group 227)"
        in message
    )
    assert db_session.scalar(select(func.count()).select_from(Reference)) == before
    # A reference naming no phase is refused for a crystal too: its phase is unknown.
    unnamed = [{**rows[0], "conditions": {"temperature_k": 0}, "dataset": "tests"}]
    with pytest.raises(PhaseMismatch, match="no phase"):
        catalog.load_references(
            db_session,
            unnamed,
            structure_set=ELEMENTAL_CRYSTALS,
            read_space_group=space_group_of_data,
        )


def test_the_stored_references_of_the_set_name_its_phases(db_session: Session) -> None:
    refs = {
        (r.material, r.property, r.dataset): r
        for r in db_session.scalars(select(Reference).where(Reference.material == "C"))
    }
    assert refs["C", "bulk_modulus", "sol58"].value == 443.0
    assert refs["C", "bulk_modulus", "sol58"].conditions["phase"] == DIAMOND
    assert refs["C", "volume_per_atom", "sol58"].value == pytest.approx(3.555**3 / 8)
    assert "Haas" in refs["C", "volume_per_atom", "sol58"].source
    assert not any(dataset == "ase.collections.dcdft" for _, _, dataset in refs)
    assert not any(prop == "cohesive_energy" for _, prop, _ in refs)  # Kittel's is graphite's
    assert (
        refs["C", "lattice_constant_a", "ase.data.reference_states"].conditions["phase"] == DIAMOND
    )


@pytest.mark.parametrize("method", ["post", "patch"])
def test_the_api_refuses_a_reference_of_another_phase_naming_the_field(
    client: TestClient, admin: dict[str, str], method: str
) -> None:
    if method == "post":
        response = client.post("/references", json=_reference_body(), headers=admin)
    else:
        created = client.post(
            "/references", json=_reference_body(conditions={"phase": DIAMOND}), headers=admin
        )
        assert created.status_code == 201, created.text
        response = client.patch(
            f"/references/{created.json()['id']}",
            json={"conditions": {"phase": GRAPHITE}},
            headers=admin,
        )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["where"] == "body.conditions.phase"
    assert error["code"] == "phase_mismatch"
    assert "space group 194 (graphite)" in error["message"]
    # the stored diamond (other tests may have stored it in a set of their own too)
    assert "/C (space group 227)" in error["message"]


def test_the_api_asks_for_the_phase_of_a_material_with_crystals(
    client: TestClient, admin: dict[str, str]
) -> None:
    no_phase = client.post(
        "/references", json=_reference_body(conditions={"temperature_k": 0}), headers=admin
    )
    assert no_phase.status_code == 422
    assert no_phase.json()["error"]["where"] == "body.conditions.phase"
    assert "conditions.phase is required" in no_phase.json()["error"]["message"]
    elsewhere = client.post(
        "/references", json=_reference_body(material=f"Xy-{uuid.uuid4().hex[:6]}"), headers=admin
    ).json()  # no structure of that material: nothing to check against
    moved = client.patch(f"/references/{elsewhere['id']}", json={"material": "C"}, headers=admin)
    assert moved.status_code == 422
    assert moved.json()["error"]["where"] == "body.conditions.phase"
    # A molecule has no phase: a reference naming one would never be compared with it.
    dimer = client.post("/references", json=_reference_body(material="Water_dimer"), headers=admin)
    assert dimer.status_code == 422
    assert "not crystals" in dimer.json()["error"]["message"]
    unphased = _reference_body(material="Water_dimer", conditions={})
    assert client.post("/references", json=unphased, headers=admin).status_code == 201


@pytest.mark.parametrize(
    "phase",
    [{"space_group": 231}, {"space_group": "227"}, {"space_group": 227, "pearson": "cF8"}, "fcc"],
)
def test_a_malformed_phase_is_422(client: TestClient, admin: dict[str, str], phase: Any) -> None:
    response = client.post(
        "/references", json=_reference_body(conditions={"phase": phase}), headers=admin
    )
    assert response.status_code == 422
    assert response.json()["error"]["where"] == "body.conditions"
    assert "phase" in response.json()["error"]["message"]


def _claimed_carbon_run(client: TestClient, session: Session, admin: dict[str, str]) -> Any:
    body = {
        "name": f"phases {uuid.uuid4().hex[:6]}",
        "models": [{"name": "LJ-exp-fit"}],
        "benchmarks": [{"key": "eos"}],
        "structure_sets": [ELEMENTAL_CRYSTALS],
    }
    created = client.post("/campaigns", json=body, headers=admin)
    assert created.status_code == 201, created.text
    listed = client.get("/runs", params={"campaign_id": created.json()["id"], "limit": 200})
    (run_id,) = [r["id"] for r in listed.json()["items"] if r["material"] == "C"]
    job = runs.claim_run(session, uuid.UUID(run_id), worker="test")
    assert isinstance(job, runs.ClaimedRun)
    return job


def _graphite_in_an_old_database(session: Session) -> dict[str, uuid.UUID]:
    """dcdft's C rows as releases before the phase check stored them, phases named since."""
    rows = [{**r, "conditions": {"temperature_k": 0}} for r in _dcdft_carbon()]
    session.execute(Reference.__table__.insert(), rows)
    assert catalog.name_phases(session, [_row(r) for r in other_phase_references()]) == 3
    stored = session.scalars(
        select(Reference).where(
            Reference.material == "C", Reference.dataset == "ase.collections.dcdft"
        )
    )
    return {r.property: r.id for r in stored if r.conditions["phase"] == GRAPHITE}


def _record(session: Session, job: Any, **kwargs: Any) -> dict[str, Metric]:
    metrics = [
        MetricIn(name="bulk_modulus", value=400.0, unit="GPa", compare_to_reference=True),
        MetricIn(
            name="bulk_modulus_pressure_derivative", value=3.5, unit="1", compare_to_reference=True
        ),
    ]
    timings = RunTimings(wall_s=1.0, cpu_s=1.0, peak_memory_mb=1.0)
    assert runs.record_success(
        session, job, metrics=metrics, series=[], timings=timings, provenance={}, **kwargs
    )
    stored = session.scalars(select(Metric).where(Metric.run_id == job.run_id))
    return {m.name: m for m in stored}


def test_the_writer_compares_diamond_with_diamond_only(
    client: TestClient, db_session: Session, admin: dict[str, str]
) -> None:
    graphite = _graphite_in_an_old_database(db_session)  # sorts before sol58 by dataset name
    job = _claimed_carbon_run(client, db_session, admin)
    metrics = _record(db_session, job, read_space_group=space_group_of_data)
    b0 = metrics["bulk_modulus"]
    sol58 = db_session.get(Reference, b0.reference_id)
    assert sol58 is not None
    assert (sol58.dataset, sol58.value) == ("sol58", 443.0)
    assert (b0.error, b0.rel_error) == pytest.approx((400.0 - 443.0, -43.0 / 443.0))
    # No B' of diamond: not compared (graphite's is refused), rather than 400 GPa off.
    bp = metrics["bulk_modulus_pressure_derivative"]
    assert (bp.reference_id, bp.error, bp.rel_error) == (None, None, None)
    assert graphite["bulk_modulus"] not in {m.reference_id for m in metrics.values()}


def test_a_writer_that_cannot_read_the_phase_compares_nothing(
    client: TestClient, db_session: Session, admin: dict[str, str]
) -> None:
    job = _claimed_carbon_run(client, db_session, admin)
    metrics = _record(db_session, job)
    assert all(m.reference_id is None and m.error is None for m in metrics.values())


def test_check_links_relinks_or_unlinks_metrics_compared_with_graphite(
    client: TestClient, db_session: Session, admin: dict[str, str]
) -> None:
    graphite = _graphite_in_an_old_database(db_session)
    job = _claimed_carbon_run(client, db_session, admin)
    metrics = _record(db_session, job, read_space_group=space_group_of_data)
    # What the writer did before the check: every metric compared with dcdft's graphite.
    for name, metric in metrics.items():
        ref = db_session.get(Reference, graphite[name])
        assert ref is not None
        metric.reference_id, metric.error = ref.id, metric.value - ref.value
        metric.rel_error = metric.error / abs(ref.value)
    db_session.flush()
    found = reference_phases.check_links(db_session, space_group_of_data)
    mine = [p for p in found if p.label == "C"]
    assert {(p.property, p.n_metrics) for p in mine} >= {
        ("bulk_modulus", 1),
        ("bulk_modulus_pressure_derivative", 1),
    }
    b0_problem = next(p for p in mine if p.property == "bulk_modulus")
    assert b0_problem.structure_phase == "space group 227"
    assert b0_problem.reference == "ase.collections.dcdft (space group 194 (graphite))"
    assert b0_problem.replacement == "sol58 (space group 227 (diamond))"
    assert db_session.get(Metric, metrics["bulk_modulus"].id).error == pytest.approx(
        400 - 55.6, abs=0.1
    )

    reference_phases.check_links(db_session, space_group_of_data, fix=True)
    db_session.expire_all()
    b0 = db_session.get(Metric, metrics["bulk_modulus"].id)
    bp = db_session.get(Metric, metrics["bulk_modulus_pressure_derivative"].id)
    assert b0 is not None
    assert bp is not None
    assert db_session.get(Reference, b0.reference_id).dataset == "sol58"  # type: ignore[union-attr]
    assert (b0.error, b0.rel_error) == pytest.approx((400.0 - 443.0, -43.0 / 443.0))
    assert (bp.reference_id, bp.error, bp.rel_error) == (None, None, None)
    assert [
        p for p in reference_phases.check_links(db_session, space_group_of_data) if p.label == "C"
    ] == []
