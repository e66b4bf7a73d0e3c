"""Signed and relative errors as the worker stores them (metric.error, metric.rel_error) and as
the API and the leaderboard read them back, checked against the reference rows themselves."""

from __future__ import annotations

import uuid

import httpx
import pytest
from ase.data import s22 as ase_s22
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.bootstrap import S22
from backend.db.tables import CampaignRun, Metric, MlipModel, Reference, Run, Structure
from backend.domain.statuses import RunStatus
from backend.repositories import references as ref_repo
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, CampaignRead, ModelRef
from backend.services import catalog
from backend.services.runs import signed_and_relative_error
from tests.live import LiveStack, wait_until

S22_SUBSET = ("Water_dimer", "Ammonia_dimer", "Methane_dimer")


def _s22_subset(session: Session, name: str, labels: tuple[str, ...]) -> None:
    stored = ref_repo.get_structure_set_by_name(session, S22)
    assert stored is not None, "bootstrap the database first"
    picked = [s for s in ref_repo.list_structures(session, stored.id) if s.label in labels]
    assert {s.label for s in picked} == set(labels)
    structures = [
        catalog.StructureIn(s.label, s.material, s.formula, s.elements, s.n_atoms, s.data)
        for s in picked
    ]
    catalog.load_structure_set(
        session, name=name, description="tests", source="tests", structures=structures
    )


def _metric_rows(
    engine: Engine, campaign_id: object
) -> list[tuple[Run, Structure, Metric, Reference | None]]:
    with Session(engine) as session:
        query = (
            select(Run, Structure, Metric, Reference)
            .join(CampaignRun, CampaignRun.run_id == Run.id)
            .join(Structure, Structure.id == Run.structure_id)
            .join(Metric, Metric.run_id == Run.id)
            .outerjoin(Reference, Reference.id == Metric.reference_id)
            .where(CampaignRun.campaign_id == campaign_id, Run.status == RunStatus.SUCCEEDED)
        )
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_error_helper_keeps_the_sign_and_leaves_undefined_ratios_empty() -> None:
    assert signed_and_relative_error(110.0, 100.0) == {"error": 10.0, "rel_error": 0.1}
    # A negative reference (an S22 binding energy) does not flip the sign: too weak a binding
    # (-4 against -5) is a positive error, +20 % of the reference's size.
    assert signed_and_relative_error(-4.0, -5.0) == {"error": 1.0, "rel_error": 0.2}
    assert signed_and_relative_error(0.5, 0.0) == {"error": 0.5, "rel_error": None}
    assert signed_and_relative_error(3.0, None) == {"error": None, "rel_error": None}


def test_worker_stores_signed_and_relative_error_of_every_compared_metric(
    finished_campaign: CampaignRead, engine: Engine, live_stack: LiveStack
) -> None:
    rows = _metric_rows(engine, finished_campaign.id)
    compared = [(run, metric, ref) for run, _, metric, ref in rows if ref is not None]
    # eos compares V0, B0 and B' with dcdft's experiment for Cu, Ag and Al (13 runs).
    assert len(compared) >= 3 * 13 - 3
    for _, metric, ref in compared:
        assert metric.error == pytest.approx(metric.value - ref.value, rel=1e-12, abs=1e-12)
        assert metric.rel_error == pytest.approx(
            (metric.value - ref.value) / abs(ref.value), rel=1e-12
        )
    assert all(m.error is None and m.rel_error is None for _, _, m, ref in rows if ref is None)
    # EMT Cu's B0 (134 GPa, Jacobsen et al.) against experiment (dcdft, 144.3 GPa): about -7 %.
    with Session(engine) as session:
        emt = session.scalar(select(MlipModel.id).where(MlipModel.name == "EMT"))
    cu_b0 = next(
        m
        for run, structure, m, _ in rows
        if run.mlip_model_id == emt and structure.material == "Cu" and m.name == "bulk_modulus"
    )
    assert cu_b0.rel_error == pytest.approx(134 / 144.3 - 1, abs=0.05)
    # ... and the API gives back exactly the stored numbers, on the run and on the board.
    run_id = compared[0][0].id
    detail = httpx.get(f"{live_stack.api_url}/runs/{run_id}").json()
    stored = {m.name: m for r, _, m, _ in rows if r.id == run_id}
    for item in detail["metrics"]:
        assert item["error"] == stored[item["name"]].error
        assert item["rel_error"] == stored[item["name"]].rel_error
    board = httpx.get(
        f"{live_stack.api_url}/leaderboards/eos", params={"include_entries": "true"}
    ).json()
    by_run = {(r.id, m.name): m for r, _, m, _ in rows}
    n_checked = 0
    for entry in board["entries"]:
        for name, value in entry["values"].items():
            stored_metric = by_run.get((uuid.UUID(entry["run_id"]), name))
            if stored_metric is not None and value["reference"] is not None:
                assert value["rel_error"] == stored_metric.rel_error
                assert value["error"] == stored_metric.error
                n_checked += 1
    assert n_checked > 0


@pytest.mark.mlip
def test_negative_references_keep_the_sign_of_the_error_through_the_worker(
    live_stack: LiveStack, engine: Engine
) -> None:
    """ANI-1x on S22 complexes: CCSD(T)/CBS interaction energies are negative (bound dimers).

    ANI-1x is the one built-in model for H, C, N and O (EMT's parameters for them are not
    registered)."""
    pytest.importorskip("torchani")
    client = live_stack.client(live_stack.admin_token)
    with Session(engine) as session:
        _s22_subset(session, "live S22 subset", S22_SUBSET)
        session.commit()
    campaign = client.create_campaign(
        CampaignCreate(
            name="live: ANI-1x on S22",
            models=[ModelRef(name="ANI-1x")],
            benchmarks=[BenchmarkRef(key="s22")],
            structure_sets=["live S22 subset"],
        )
    )
    wait_until(lambda: client.campaign(campaign.id).status == "finished", 120, "the S22 campaign")
    rows = _metric_rows(engine, campaign.id)
    assert {s.material for _, s, _, _ in rows} == set(S22_SUBSET), client.campaign(campaign.id)
    wrong_sign = {s.material: m.value for _, s, m, _ in rows if m.name == "wrong_sign"}
    assert set(wrong_sign) == set(S22_SUBSET)
    assert all(ref is None for _, _, m, ref in rows if m.name == "wrong_sign")
    rows = [row for row in rows if row[2].name == "interaction_energy"]
    for _, structure, metric, ref in rows:
        assert ref is not None
        assert wrong_sign[structure.material] == float(metric.value >= 0)
        assert ref.level_of_theory == "ccsd(t)/cbs"
        # ase.data.s22's own CCSD(T)/CBS number (eV)
        assert ref.value == pytest.approx(ase_s22.get_interaction_energy_cc(structure.material))
        assert ref.value < 0
        error = metric.value - ref.value
        assert metric.error == pytest.approx(error, abs=1e-12)
        # |reference| = -reference: a too weak binding (error > 0) is a positive relative error
        assert metric.rel_error == pytest.approx(error / -ref.value, rel=1e-12)
