"""Reference data and baselines load once; loading again changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.bootstrap import ELEMENTAL_CRYSTALS, bootstrap
from backend.db.tables import Benchmark, MlipModel, Reference, Structure, StructureSet
from backend.services.runs import compared_references
from workers.atoms_json import atoms_from_json


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(table)) or 0
        for table in (Reference, Structure, StructureSet, Benchmark, MlipModel)
    )


def test_loading_twice_changes_nothing(db_session: Session) -> None:
    before = _counts(db_session)
    stamps = db_session.execute(select(Reference.id, Reference.created_at)).all()
    report = bootstrap(db_session)
    assert (
        report.references_added,
        report.structures_added,
        report.benchmarks_added,
        report.models_added,
    ) == (0, 0, 0, 0)
    assert _counts(db_session) == before
    assert db_session.execute(select(Reference.id, Reference.created_at)).all() == stamps


def test_built_in_structures_carry_their_space_group_and_get_it_when_stored_without(
    db_session: Session,
) -> None:
    """fcc Cu is Fm-3m (225), bcc Fe Im-3m (229), diamond Si Fd-3m (227); a structure stored
    before migration 0020 (NULL) gets its space group at the next bootstrap."""

    def space_groups() -> dict[str, int | None]:
        rows = db_session.execute(
            select(Structure.material, Structure.space_group)
            .join(StructureSet, StructureSet.id == Structure.structure_set_id)
            .where(StructureSet.name == ELEMENTAL_CRYSTALS)
        )
        return {str(material): group for material, group in rows.tuples()}

    stored = space_groups()
    assert (stored["Cu"], stored["Fe"], stored["Si"]) == (225, 229, 227)
    db_session.execute(update(Structure).values(space_group=None))
    bootstrap(db_session)
    assert space_groups() == stored


def test_references_carry_source_unit_and_level_of_theory(db_session: Session) -> None:
    refs = {
        (r.material, r.property, r.level_of_theory): r
        for r in db_session.scalars(select(Reference))
    }
    cu_b0 = refs[("Cu", "bulk_modulus", "experiment")]
    assert (cu_b0.unit, round(cu_b0.value)) == ("GPa", 144)
    assert "Lejaeghere" in cu_b0.source
    assert refs[("Cu", "cohesive_energy", "experiment")].value == 3.49  # Kittel, eV/atom
    assert refs[("Cu", "lattice_constant_a", "experiment")].value == 3.61  # Ashcroft & Mermin
    s22 = [r for r in refs.values() if r.level_of_theory == "ccsd(t)/cbs"]
    assert len(s22) == 22
    assert {r.unit for r in s22} == {"eV"}
    n_dcdft = {m for (m, p, _) in refs if p == "bulk_modulus_pressure_derivative"}
    # dcdft's C (graphite), Li and Na (9R) are of another phase than the set's structures.
    assert len(n_dcdft) == 58 - 3
    assert {"C", "Li", "Na"}.isdisjoint(n_dcdft)


def test_elemental_crystals_are_stored_losslessly(db_session: Session) -> None:
    structure_set = db_session.scalar(
        select(StructureSet).where(StructureSet.name == ELEMENTAL_CRYSTALS)
    )
    assert structure_set is not None
    cu = db_session.scalar(
        select(Structure).where(
            Structure.structure_set_id == structure_set.id, Structure.label == "Cu"
        )
    )
    assert cu is not None
    atoms = atoms_from_json(cu.data)
    assert (cu.elements, cu.n_atoms, cu.formula) == (["Cu"], 1, "Cu")
    # fcc primitive cell at a = 3.61 A: V = a^3 / 4
    assert atoms.get_volume() == pytest.approx(3.61**3 / 4)
    element_query = select(Structure.label).where(
        Structure.structure_set_id == structure_set.id, Structure.elements.contains(["Fe"])
    )
    assert db_session.scalars(element_query).all() == ["Fe"]


def test_metrics_are_compared_with_experiment_first(db_session: Session) -> None:
    names = ["volume_per_atom", "bulk_modulus", "nonexistent"]
    refs = compared_references(db_session, "Cu", names, space_group=225)
    assert set(refs) == {"volume_per_atom", "bulk_modulus"}
    assert {r.level_of_theory for r in refs.values()} == {"experiment"}
    # ... and only references of the structure's phase: none of fcc Cu for a bcc Cu.
    assert compared_references(db_session, "Cu", names, space_group=229) == {}
