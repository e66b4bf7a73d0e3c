"""The binary compounds of the Sol58 set: structures built from prototype and lattice constant,
checked against the prototype's space group, with experimental references; stored by
``mlipm setup`` and run through the eos benchmark like the elemental crystals."""

from __future__ import annotations

import json
import math
from collections import Counter
from importlib import resources

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.bootstrap import COMPOUNDS
from backend.db.tables import Reference
from backend.repositories import references as ref_repo
from workers.atoms_json import atoms_from_json
from workers.benchmarks.base import get_benchmark
from workers.reference_sol58 import (
    check_prototype,
    sol58_compound_references,
    sol58_compounds,
)

#: Atoms per conventional cubic cell, and the nearest-neighbour distance over a.
GEOMETRY = {
    "rocksalt": (8, 0.5),
    "zincblende": (8, math.sqrt(3) / 4),
    "cesiumchloride": (2, math.sqrt(3) / 2),
}


def _file() -> dict[str, dict[str, float]]:
    text = resources.files("workers").joinpath("data", "sol58-experimental-solids.json")
    solids = json.loads(text.read_text(encoding="utf-8"))["solids"]
    return {s["formula"]: s for s in solids if sum(c.isupper() for c in s["formula"]) == 2}


def test_every_compound_has_its_prototypes_symmetry_and_geometry() -> None:
    records = sol58_compounds()
    given = _file()
    assert len(records) == 31
    assert Counter(r.crystal_structure for r in records) == {
        "rocksalt": 16,
        "zincblende": 12,
        "cesiumchloride": 3,
    }
    for record in records:
        atoms, a = record.atoms, given[record.label]["a_angstrom"]
        per_cell, nn_over_a = GEOMETRY[record.crystal_structure]
        assert len(atoms) == 2
        assert sorted(atoms.get_chemical_symbols()) == sorted(Atoms(record.label).symbols)
        assert atoms.get_volume() / len(atoms) == pytest.approx(a**3 / per_cell, rel=1e-9)
        distance = atoms.get_distance(0, 1, mic=True)
        assert distance == pytest.approx(nn_over_a * a, rel=1e-9), record.label


def test_the_prototype_check_refuses_a_structure_of_another_prototype() -> None:
    gaas = bulk("GaAs", "zincblende", a=5.648)
    check_prototype(gaas, "zincblende")
    with pytest.raises(ValueError, match="space group 216, not 225"):
        check_prototype(gaas, "rocksalt")


def test_references_carry_their_source_phase_and_the_files_values() -> None:
    refs = {(r.material, r.property): r for r in sol58_compound_references()}
    given = _file()
    lif = refs[("LiF", "volume_per_atom")]
    assert lif.value == pytest.approx(given["LiF"]["a_angstrom"] ** 3 / 8)
    assert lif.conditions["phase"] == {"space_group": 225, "prototype": "rocksalt"}
    assert refs[("NiAl", "bulk_modulus")].value == given["NiAl"]["bulk_modulus_gpa"]
    assert refs[("GaAs", "debye_temperature")].unit == "K"
    assert all(
        r.level_of_theory == "experiment" and "Phys. Rev. B" in r.source for r in refs.values()
    )
    assert ("AlN", "bulk_modulus") not in refs  # the file gives none: no value without a source
    assert not any(p == "cohesive_energy" for _, p in refs)


def test_setup_stores_the_compounds_and_eos_runs_on_them_against_experiment(
    db_session: Session,
) -> None:
    """Along the user's path: `mlipm setup` stores the set; the eos benchmark runs on the stored
    NiAl with EMT; its V0 agrees with ase.eos fitted to a plain EMT scan (a second method), and
    the stored Sol58 reference it is compared with is a**3/2 of the file's lattice constant.
    (EMT's NiAl comes out 19 % larger than experiment: EMT's Ni-Al mixing is poor.)"""
    structure_set = ref_repo.get_structure_set_by_name(db_session, COMPOUNDS)
    assert structure_set is not None
    stored = {s.label: s for s in ref_repo.list_structures(db_session, structure_set.id)}
    assert len(stored) == 31
    nial = atoms_from_json(stored["NiAl"].data)
    reference = db_session.scalar(
        select(Reference).where(
            Reference.material == "NiAl",
            Reference.property == "volume_per_atom",
            Reference.dataset == "sol58",
        )
    )
    assert reference is not None
    assert reference.value == pytest.approx(_file()["NiAl"]["a_angstrom"] ** 3 / 2)

    eos = get_benchmark("eos")
    result = eos.func(nial.copy(), EMT(), eos.make_params())
    v0 = next(m.value for m in result.metrics() if m.name == "volume_per_atom")

    scan = nial.copy()
    scan.calc = EMT()
    cell, volumes, energies = scan.get_cell(), [], []
    for scale in np.linspace(0.94, 1.06, 13) ** (1 / 3):
        scan.set_cell(cell * scale, scale_atoms=True)
        volumes.append(scan.get_volume())
        energies.append(scan.get_potential_energy())
    v_fit, _, _ = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    assert v0 == pytest.approx(v_fit / 2, rel=5e-3)
