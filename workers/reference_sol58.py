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
from workers.reference_data import ReferenceRecord

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
def _solids() -> dict[str, dict[str, Any]]:
    """The elemental solids of the file, by symbol."""
    text = resources.files("workers").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return {s["formula"]: s for s in json.loads(text)["solids"] if len(Atoms(s["formula"])) == 1}


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
