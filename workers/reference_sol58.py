"""Experimental volumes and bulk moduli of elemental solids from the Sol58 data (package data).

``workers/data/sol58-experimental-solids.json`` (see ``workers/data/README.md``) gives, per
solid, its structure, the lattice constant corrected for zero-point anharmonic expansion (a
static 0 K value, like dcdft's) and the bulk modulus. They replace the references that
describe another phase than the 'elemental crystals' structure (``workers.reference_sets``):
dcdft's graphite C and 9R Li and Na.

Cohesive energies are not read from it: the file's are Kittel's, and its 7.37 eV/atom for
"diamond" C is graphite's atomization energy (711 kJ/mol at 0 K; diamond lies about
0.02 eV/atom higher), so it would name the wrong phase.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from ase import Atoms

from workers import phases
from workers.reference_data import ReferenceRecord, StructureRecord

DATASET = "sol58"
DATA_FILE = "sol58-experimental-solids.json"
LATTICE_SOURCE = (
    "P. Haas, F. Tran and P. Blaha, Phys. Rev. B 79, 085104 (2009) and P. Hao et al., "
    "Phys. Rev. B 85, 014111 (2012): experimental lattice constant corrected for zero-point "
    "anharmonic expansion (Sol58 set)"
)
BULK_MODULUS_SOURCE = (
    "P. Hao, Y. Fang, J. Sun, G. I. Csonka, P. H. T. Philipsen and J. P. Perdew, Phys. Rev. B "
    "85, 014111 (2012): experimental bulk modulus (Sol58 set)"
)


@cache
def _by_atoms(n_atoms: int) -> dict[str, dict[str, Any]]:
    """The solids of the file whose formula unit has ``n_atoms`` atoms, by formula (read once
    per size)."""
    text = resources.files("workers").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    solids = json.loads(text)["solids"]
    return {s["formula"]: s for s in solids if len(Atoms(s["formula"])) == n_atoms}


def _solids() -> dict[str, dict[str, Any]]:
    """The elemental solids of the file, by symbol."""
    return _by_atoms(1)


def sol58_structure(symbol: str) -> Atoms:
    """The primitive cell of elemental solid ``symbol`` at its Sol58 lattice constant (Å).

    Raises
    ------
    KeyError
        If the file has no elemental solid ``symbol``.
    """
    from ase.build import bulk

    solid = _solids()[symbol]
    extra = {"c": solid["c_angstrom"]} if "c_angstrom" in solid else {}
    return bulk(symbol, solid["structure"], a=solid["a_angstrom"], **extra)


def sol58_references(symbols: tuple[str, ...]) -> list[ReferenceRecord]:
    """Volume per atom and bulk modulus of the elemental solids ``symbols``.

    Parameters
    ----------
    symbols
        Element symbols of elemental solids in the file (e.g. ``("C", "Li", "Na")``).

    Returns
    -------
    list[ReferenceRecord]
        ``volume_per_atom`` (Å³/atom, of the cell at the zero-point corrected lattice
        constant) and ``bulk_modulus`` (GPa, where given), level ``experiment``, dataset
        ``"sol58"``, conditions at 0 K with the solid's ``"phase"``.

    Raises
    ------
    KeyError
        If the file has no elemental solid of one of ``symbols``.
    """
    records: list[ReferenceRecord] = []
    for symbol in symbols:
        solid, atoms = _solids()[symbol], sol58_structure(symbol)
        conditions = {
            "temperature_k": 0,
            "zero_point_corrected": True,
            "lattice_constant_a_angstrom": solid["a_angstrom"],
            "phase": phases.phase(atoms),
        }
        values = [("volume_per_atom", atoms.get_volume() / len(atoms), "Å³/atom", LATTICE_SOURCE)]
        if solid.get("bulk_modulus_gpa") is not None:
            values.append(("bulk_modulus", solid["bulk_modulus_gpa"], "GPa", BULK_MODULUS_SOURCE))
        records.extend(
            ReferenceRecord(
                material=symbol,
                property=prop,
                value=float(value),
                unit=unit,
                level_of_theory="experiment",
                source=source,
                dataset=DATASET,
                conditions={**conditions, "phase": dict(conditions["phase"])},
            )
            for prop, value, unit, source in values
        )
    return records


#: The binary prototypes of the file and the space group a correct build of each must have:
#: rocksalt (B1) Fm-3m, zincblende (B3) F-43m, cesium chloride (B2) Pm-3m.
COMPOUND_PROTOTYPES = {"rocksalt": 225, "zincblende": 216, "cesiumchloride": 221}
DEBYE_SOURCE = (
    "P. Hao, Y. Fang, J. Sun, G. I. Csonka, P. H. T. Philipsen and J. P. Perdew, Phys. Rev. B "
    "85, 014111 (2012): experimental Debye temperature (Sol58 set)"
)


def _compounds() -> dict[str, dict[str, Any]]:
    """The binary compounds of the file, by formula."""
    return _by_atoms(2)


def sol58_compound(formula: str) -> Atoms:
    """The primitive cell (2 atoms) of binary compound ``formula`` in its prototype at the
    Sol58 lattice constant (Å, the conventional cubic cell's), with the file's initial
    magnetic moments where it gives them.

    Raises
    ------
    KeyError
        If the file has no binary compound ``formula``.
    ValueError
        If the built cell does not have its prototype's space group (``check_prototype``).
    """
    from ase.build import bulk

    solid = _compounds()[formula]
    atoms = bulk(formula, solid["structure"], a=solid["a_angstrom"])
    if solid.get("magmom_per_atom") is not None:
        atoms.set_initial_magnetic_moments([solid["magmom_per_atom"]] * len(atoms))
    check_prototype(atoms, solid["structure"])
    return atoms


def check_prototype(atoms: Atoms, prototype_name: str) -> None:
    """Raise ValueError unless ``atoms`` has the space group of ``prototype_name``."""
    expected = COMPOUND_PROTOTYPES[prototype_name]
    found = phases.space_group(atoms)
    if found != expected:
        raise ValueError(
            f"{atoms.get_chemical_formula()} built as {prototype_name} has space group {found}, "
            f"not {expected}: its reference values would describe another structure"
        )


def sol58_compounds() -> list[StructureRecord]:
    """The 31 binary compounds as structures (label and material: the formula)."""
    records = []
    for formula, solid in _compounds().items():
        atoms = sol58_compound(formula)
        atoms.info.update(
            {
                "label": formula,
                "source": LATTICE_SOURCE,
                "dataset": DATASET,
                "crystal_structure": solid["structure"],
                "lattice_constant_a": float(solid["a_angstrom"]),
            }
        )
        records.append(
            StructureRecord(
                label=formula,
                material=formula,
                atoms=atoms,
                source=LATTICE_SOURCE,
                crystal_structure=solid["structure"],
            )
        )
    return records


def sol58_compound_references() -> list[ReferenceRecord]:
    """Volume per atom (Å³/atom, at the zero-point corrected lattice constant), bulk modulus
    (GPa) and Debye temperature (K) of the binary compounds, where the file gives them; level
    ``experiment``, dataset ``"sol58"``, conditions at 0 K with the compound's phase.

    The file's cohesive energies are left out: the data README credits them to Kittel, whose
    tables hold elements, so for compounds their source cannot be named.
    """
    records: list[ReferenceRecord] = []
    for formula, solid in _compounds().items():
        atoms = sol58_compound(formula)
        phase = phases.phase(atoms, name=solid["structure"])
        conditions = {
            "temperature_k": 0,
            "zero_point_corrected": True,
            "lattice_constant_a_angstrom": solid["a_angstrom"],
        }
        values = [("volume_per_atom", atoms.get_volume() / len(atoms), "Å³/atom", LATTICE_SOURCE)]
        if solid.get("bulk_modulus_gpa") is not None:
            values.append(("bulk_modulus", solid["bulk_modulus_gpa"], "GPa", BULK_MODULUS_SOURCE))
        if solid.get("debye_temperature_k") is not None:
            values.append(("debye_temperature", solid["debye_temperature_k"], "K", DEBYE_SOURCE))
        records.extend(
            ReferenceRecord(
                material=formula,
                property=prop,
                value=float(value),
                unit=unit,
                level_of_theory="experiment",
                source=source,
                dataset=DATASET,
                conditions={**conditions, "phase": dict(phase)},
            )
            for prop, value, unit, source in values
        )
    return records


def sol58_debye_references() -> list[ReferenceRecord]:
    """Experimental Debye temperatures (K) of the cubic elemental solids (Hao et al. 2012),
    each with the phase of its Sol58 structure (the phonons benchmark's reference)."""
    records = []
    for symbol, solid in _solids().items():
        if solid.get("debye_temperature_k") is None:
            continue
        atoms = sol58_structure(symbol)
        records.append(
            ReferenceRecord(
                material=symbol,
                property="debye_temperature",
                value=float(solid["debye_temperature_k"]),
                unit="K",
                level_of_theory="experiment",
                source=DEBYE_SOURCE,
                dataset=DATASET,
                conditions={"phase": phases.phase(atoms)},
            )
        )
    return records
