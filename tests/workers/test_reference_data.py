"""Reference data read from ASE's bundled tables, checked against the literature values."""

from __future__ import annotations

from collections import Counter

import pytest
from ase import units

from workers.reference_data import (
    elemental_crystals,
    experimental_references,
    reference_lookup,
    s22_references,
)


@pytest.fixture(scope="module")
def refs() -> dict:
    return reference_lookup(experimental_references())


def test_dcdft_has_58_elements_with_three_properties_each() -> None:
    dcdft = [r for r in experimental_references() if r.dataset == "ase.collections.dcdft"]
    per_element = Counter(r.material for r in dcdft)
    assert len(per_element) == 58
    assert set(per_element.values()) == {3}
    assert {r.property for r in dcdft} == {
        "volume_per_atom",
        "bulk_modulus",
        "bulk_modulus_pressure_derivative",
    }
    assert all(r.level_of_theory == "experiment" and "Lejaeghere" in r.source for r in dcdft)
    assert all(r.conditions["temperature_k"] == 0 for r in dcdft)


def test_dcdft_copper_is_close_to_the_handbook_values(refs: dict) -> None:
    # fcc Cu: a ~ 3.60 Å (V = a^3/4 ~ 11.7 Å^3/atom), B ~ 140 GPa; zero-point corrected to 0 K.
    assert refs[("Cu", "volume_per_atom")].value == pytest.approx(11.7, rel=0.02)
    assert refs[("Cu", "bulk_modulus")].value == pytest.approx(140, rel=0.05)
    assert refs[("Cu", "bulk_modulus")].unit == "GPa"


def test_lattice_constants_and_kittel_cohesive_energies(refs: dict) -> None:
    lattice = [r for r in experimental_references() if r.property == "lattice_constant_a"]
    assert len(lattice) == 83
    assert refs[("Cu", "lattice_constant_a")].value == pytest.approx(3.61)
    assert refs[("Mg", "c_over_a")].value == pytest.approx(1.624)
    cohesive = refs[("Cu", "cohesive_energy")]
    assert cohesive.value == pytest.approx(3.49)
    assert (cohesive.unit, cohesive.level_of_theory) == ("eV/atom", "experiment")
    assert "Kittel" in cohesive.source
    assert refs[("Fe", "cohesive_energy")].value == pytest.approx(4.28)


def test_s22_interaction_energies() -> None:
    records = s22_references()
    assert len(records) == 22
    assert len({r.material for r in records}) == 22
    assert all(r.level_of_theory == "ccsd(t)/cbs" and r.unit == "eV" for r in records)
    assert all(r.value < 0 for r in records)  # every S22 complex is bound
    water = next(r for r in records if r.material == "Water_dimer")
    # S22 water dimer, CCSD(T)/CBS: -5.02 kcal/mol (Jurečka et al. 2006).
    assert water.value == pytest.approx(-5.02 * units.kcal / units.mol, abs=0.002)
    assert "Jurečka" in water.source


def test_elemental_crystals() -> None:
    crystals = elemental_crystals()
    by_label = {c.label: c for c in crystals}
    assert len(by_label) == len(crystals)
    copper = by_label["Cu"]
    assert copper.crystal_structure == "fcc"
    assert len(copper.atoms) == 1
    # The primitive fcc cell has volume a^3 / 4.
    assert copper.atoms.get_volume() == pytest.approx(3.61**3 / 4)
    assert copper.atoms.info["source"] == copper.source
    assert by_label["Fe"].crystal_structure == "bcc"
    assert by_label["Mg"].crystal_structure == "hcp"
    assert by_label["Si"].crystal_structure == "diamond"
    assert {c.crystal_structure for c in crystals} <= {"fcc", "bcc", "hcp", "diamond", "sc"}
    numbers = [c.atoms.numbers[0] for c in crystals]
    assert numbers == sorted(numbers)
    assert "Se" not in by_label  # a chain crystal that ASE tabulates as hcp without a basis
