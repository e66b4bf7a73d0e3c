"""The demo's plan (which campaigns `mlipm demo` launches) and the campaigns' `materials` filter."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.cli.demo_plan import MD_BENCHMARKS, demo_pages, demo_plan
from backend.domain.statuses import Role
from backend.repositories import references as ref_repo
from backend.services import campaigns, users
from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.benchmarks.base import load_all

FAMILIES = frozenset({"chgnet", "sevennet", "diep", "ani1x"})
BASELINES = {r.name for r in baseline_models()}
MLIPS = {r.name for r in pretrained_models()}
STATIC = {
    "eos",
    "relax",
    "cohesive",
    "elastic",
    "diatomics",
    "phonons",
    "s22",
    "speed",
    "landscape",
    "representation",
}


def _pairs(families: frozenset[str], **options: bool) -> set[tuple[str, str]]:
    return {
        (m.name or "", b.key)
        for spec in demo_plan(families, **options)
        for m in spec.models
        for b in spec.benchmarks
    }


def test_every_benchmark_runs_mlips_only_static_and_md_only_cheap_models() -> None:
    pairs = _pairs(FAMILIES)
    assert {key for _, key in pairs} == set(load_all())
    # EMT runs every benchmark but representation: it has no latent space
    assert {key for name, key in pairs if name == "EMT"} == set(load_all()) - {"representation"}
    assert {key for name, key in pairs if name in MLIPS} <= STATIC
    assert {name for name, key in pairs if key in MD_BENCHMARKS} == {"EMT", "LJ-exp-fit"}
    assert {name for name, key in pairs if key == "relax"} == BASELINES | MLIPS - {"ANI-1x"}
    assert {name for name, _ in pairs if name == "ANI-1x"} == {"ANI-1x"}
    assert {key for name, key in pairs if name == "ANI-1x"} == {"s22"}
    # CHGNet (MPtrj counts on its card) runs eos over every elemental crystal, for the element
    # maps; the other MLIPs on the demo's three crystals
    eos = {m.name: spec.materials for spec in demo_plan(FAMILIES) for m in spec.models
           if [b.key for b in spec.benchmarks] == ["eos"]}  # fmt: skip
    assert eos["CHGNet-0.3.0"] is None
    assert eos["SevenNet-0"] == ["Cu", "Al", "Ni"]
    assert "MPtrj" in dict(demo_pages(demo_plan(FAMILIES)))["/elements"]
    # representations: the crystal MLIPs and CHGNet's random-weight twin, on enough crystals
    # for probes that hold whole elements out; no baseline (no embedding)
    (representation,) = [s for s in demo_plan(FAMILIES) if s.benchmarks[0].key == "representation"]
    assert {m.name for m in representation.models} == {
        "CHGNet-0.3.0", "SevenNet-0", "DIEP-r2SCAN", "CHGNet-random-weights"
    }  # fmt: skip
    assert len(representation.materials or ()) >= 20
    assert "/representations" in dict(demo_pages(demo_plan(FAMILIES)))
    assert "/representations" not in dict(demo_pages(demo_plan(frozenset())))
    assert "MPtrj" not in dict(demo_pages(demo_plan(frozenset())))["/elements"]


def test_mlips_left_out_when_not_installed_and_quick_is_the_eos_campaign() -> None:
    assert {name for name, _ in _pairs(frozenset())} == BASELINES
    assert "landscape" not in {key for _, key in _pairs(FAMILIES, landscape=False)}
    (quick,) = demo_plan({"chgnet"}, quick=True)
    assert [b.key for b in quick.benchmarks] == ["eos"]
    assert quick.structure_sets == ["elemental crystals"]
    assert quick.materials is None
    assert {m.name for m in quick.models} == BASELINES | {"CHGNet-0.3.0"}


def test_plan_names_what_a_bootstrapped_database_holds_and_shares_no_run(
    db_session: Session,
) -> None:
    plan = demo_plan(FAMILIES)
    for spec in plan:
        (set_name,) = spec.structure_sets
        structure_set = ref_repo.get_structure_set_by_name(db_session, set_name)
        assert structure_set is not None, set_name
        structures = ref_repo.list_structures(db_session, structure_set.id)
        names = {s.label for s in structures} | {s.material for s in structures}
        assert set(spec.materials or ()) <= names
    owner = users.ensure_user_with_token(db_session, name="plan-test", role=Role.ADMIN).user
    launched = [campaigns.launch_campaign(db_session, spec, owner=owner) for spec in plan]
    assert [launch.campaign.n_reused for launch in launched] == [0] * len(plan)


@pytest.fixture
def admin(db_session: Session) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        db_session, name=f"admin-{uuid.uuid4().hex[:6]}", role=Role.ADMIN
    )
    return {"Authorization": f"Bearer {issued.token}"}


SPEC = {
    "name": "materials filter",
    "models": [{"name": "EMT"}, {"name": "LJ-exp-fit"}],
    "benchmarks": [{"key": "eos"}],
    "structure_sets": ["elemental crystals"],
}


def test_materials_keep_only_the_chosen_structures(
    client: TestClient, admin: dict[str, str], db_session: Session
) -> None:
    response = client.post("/campaigns", json={**SPEC, "materials": ["Cu", "Fe"]}, headers=admin)
    assert response.status_code == 201, response.text
    campaign = response.json()
    assert campaign["spec"]["materials"] == ["Cu", "Fe"]
    # EMT has no Fe: skipped, not left out
    assert (campaign["progress"]["total"], campaign["progress"]["skipped"]) == (4, 1)
    runs = client.get(f"/campaigns/{campaign['id']}/runs").json()["items"]
    structure_set = ref_repo.get_structure_set_by_name(db_session, "elemental crystals")
    assert structure_set is not None
    labels = {str(s.id): s.label for s in ref_repo.list_structures(db_session, structure_set.id)}
    assert sorted(labels[r["structure_id"]] for r in runs) == ["Cu", "Cu", "Fe", "Fe"]


@pytest.mark.parametrize(
    ("materials", "where"), [(["Cu", "Unobtainium"], "materials[1]"), (["Cu13"], "materials[0]")]
)
def test_unknown_materials_are_refused_with_their_index(
    client: TestClient, admin: dict[str, str], materials: list[str], where: str
) -> None:
    before = client.get("/campaigns").json()["total"]
    response = client.post("/campaigns", json={**SPEC, "materials": materials}, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["where"] == where
    assert client.get("/campaigns").json()["total"] == before


def test_the_page_list_names_only_what_the_plan_filled() -> None:
    full = dict(demo_pages(demo_plan(FAMILIES)))
    assert "energy planes" in full["/landscape"]
    assert "accuracy vs cost" in full["/"]
    assert {"/benchmarks/eos", "/benchmarks/s22", "/benchmarks/md_stability"} <= set(full)
    others = full["/benchmarks/<key>"]
    assert all(key in others for key in ("relax", "elastic", "nve", "speed", "landscape"))

    without_landscape = dict(demo_pages(demo_plan(FAMILIES, landscape=False)))
    assert "left the landscape out" in without_landscape["/landscape"]
    assert "landscape" not in without_landscape["/benchmarks/<key>"]

    quick = dict(demo_pages(demo_plan(FAMILIES, quick=True)))
    assert "only" in quick["/"]
    assert "left the landscape out" in quick["/landscape"]
    assert "/benchmarks/<key>" not in quick
    assert "/benchmarks/s22" not in quick
