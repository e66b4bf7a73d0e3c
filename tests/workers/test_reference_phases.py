"""Every reference of the 'elemental crystals' set names the phase of the set's structure."""

from __future__ import annotations

import pytest
from ase import Atoms
from ase.build import bulk, fcc111, molecule

from backend.domain.phases import describes, parse_phase, phase_of
from workers import phases
from workers.atoms_json import atoms_to_json
from workers.reference_data import elemental_crystals, experimental_references
from workers.reference_phases import standard_state_phase
from workers.reference_sets import (
    OTHER_PHASE,
    SOL58_ELEMENTS,
    elemental_crystal_references,
    other_phase_references,
)
from workers.reference_sol58 import sol58_references, sol58_structure

CRYSTALS = {record.material: record for record in elemental_crystals()}


@pytest.fixture(scope="module")
def attached() -> dict[str, list]:
    by_material: dict[str, list] = {}
    for record in elemental_crystal_references():
        by_material.setdefault(record.material, []).append(record)
    return by_material


@pytest.mark.parametrize("symbol", sorted(CRYSTALS))
def test_each_reference_names_the_space_group_of_the_set_structure(
    symbol: str, attached: dict[str, list]
) -> None:
    structure = CRYSTALS[symbol].atoms
    space_group = phases.space_group(structure)
    refs = attached.get(symbol, [])
    assert refs, f"{symbol} has no reference at all"
    for ref in refs:
        phase = phase_of(ref.conditions)
        assert phase is not None, (ref.dataset, ref.property)
        assert phase.space_group == space_group, (ref.dataset, ref.property, phase)
        assert describes(phase, space_group)


def test_the_refused_records_are_of_another_phase_than_the_set() -> None:
    refused = other_phase_references()
    assert {(r.dataset, r.material) for r in refused} == set(OTHER_PHASE)
    for record in refused:
        phase = phase_of(record.conditions)
        assert phase is not None
        assert not describes(phase, phases.space_group(CRYSTALS[record.material].atoms))
    carbon_b0 = next(
        r for r in refused if (r.material, r.property) == ("C", "bulk_modulus")
    )  # the audit's case: graphite's 55.6 GPa against diamond's ~440
    assert carbon_b0.value == pytest.approx(55.6, abs=0.1)
    assert carbon_b0.conditions["phase"] == {"space_group": 194, "prototype": "graphite"}
    assert phases.prototype(CRYSTALS["C"].atoms) == "diamond"


def test_sol58_replaces_them_with_the_set_phase() -> None:
    records = {(r.material, r.property): r for r in sol58_references(SOL58_ELEMENTS)}
    diamond = records["C", "volume_per_atom"]
    assert diamond.value == pytest.approx(3.555**3 / 8)  # zero-point corrected a, 8 atoms/cube
    assert diamond.conditions["phase"] == {"space_group": 227, "prototype": "diamond"}
    assert records["C", "bulk_modulus"].value == 443.0
    assert "Hao" in records["C", "bulk_modulus"].source
    assert records["Li", "volume_per_atom"].value == pytest.approx(3.451**3 / 2)
    assert records["Na", "bulk_modulus"].conditions["phase"]["prototype"] == "bcc"
    assert len(sol58_structure("Mg")) == 2  # hcp, with the file's c


def test_the_tables_name_their_phases() -> None:
    refs = {(r.material, r.property, r.dataset): r for r in experimental_references()}
    kittel_c = refs["C", "cohesive_energy", "ase.data.cohesive_energies"]
    assert kittel_c.conditions["phase"]["prototype"] == "graphite"
    assert refs["C", "lattice_constant_a", "ase.data.reference_states"].conditions["phase"] == {
        "space_group": 227,
        "prototype": "diamond",
    }
    # dcdft's simplified Mn and S cells stand for alpha-Mn and alpha-S, whose numbers it gives.
    assert refs["Mn", "volume_per_atom", "ase.collections.dcdft"].conditions["phase"] == {
        "space_group": 217,
        "prototype": "alpha-Mn",
    }
    assert refs["Sn", "cohesive_energy", "ase.data.cohesive_energies"].conditions["phase"] == {
        "space_group": 141,
        "prototype": "beta-Sn",
    }
    assert standard_state_phase("N") is None  # a molecular solid ASE does not build
    assert "phase" not in refs["N", "cohesive_energy", "ase.data.cohesive_energies"].conditions


def test_space_groups_of_crystals_and_non_crystals() -> None:
    assert phases.space_group(bulk("Cu")) == 225
    assert phases.space_group(bulk("Cu", cubic=True).repeat(2)) == 225  # any cell of it
    assert phases.space_group(molecule("H2O")) is None
    assert phases.space_group(fcc111("Cu", (1, 1, 3), vacuum=5.0)) is None  # a slab
    strained = bulk("Cu", cubic=True)
    strained.set_cell(strained.cell * [1.0, 1.0, 1.03], scale_atoms=True)
    assert phases.space_group(strained) == 139  # tetragonal: another phase
    noisy = bulk("Cu", cubic=True)
    noisy.positions[0] += [0.001, 0.0, 0.0]  # far below SYMPREC_A
    assert phases.space_group(noisy) == 225
    assert phases.space_group_of_data(atoms_to_json(bulk("Si"))) == 227
    assert phases.space_group_of_data(atoms_to_json(Atoms("Ar"))) is None
    with pytest.raises(ValueError, match="not a crystal"):
        phases.phase(molecule("H2O"))


@pytest.mark.parametrize(
    "bad",
    [None, {}, {"space_group": 0}, {"space_group": True}, {"space_group": 225, "x": 1}],
)
def test_a_malformed_phase_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="phase"):
        parse_phase(bad)
    assert phase_of({"phase": bad}) is None  # unreadable: never compared with a crystal


def test_phase_rule() -> None:
    fcc = parse_phase({"space_group": 225, "prototype": "fcc"})
    assert describes(fcc, 225)
    assert not describes(fcc, 229)
    assert not describes(fcc, None)  # a crystal's reference is not a molecule's
    assert describes(None, None)  # S22: no phase, no crystal
    assert not describes(None, 225)  # an unknown phase is never compared with a crystal
