"""Reference values and reference structures read from the data ASE ships (no network).

Every value is a typed record tagged with its level of theory, its conditions and a human
citation, so that a leaderboard can be read against experiment or CCSD(T) explicitly.

Sources
-------
- ``ase.collections.dcdft``: experimental V0, B0 and B' of 58 elements, corrected for
  zero-point effects to 0 K (the experimental set of the Delta-codes comparison).
- ``ase.data.reference_states``: lattice constants and c/a (Ashcroft & Mermin).
- ``ase.data.cohesive_energies``: cohesive energies (Kittel).
- ``ase.data.s22``: CCSD(T)/CBS interaction energies of the S22 dimers.

Every crystal property is a property of one phase: each record names it in
``conditions["phase"]`` (``workers.reference_phases`` says how it is known).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ase import Atoms

from workers.reference_phases import (
    copied_conditions,
    dcdft_phases,
    reference_state_phases,
    standard_state_phase,
    with_phase,
)

DCDFT_SOURCE = (
    "K. Lejaeghere et al., Science 351, aad3000 (2016): experimental equation of state, "
    "zero-point corrected to 0 K (Delta-codes set, as bundled in ase.collections.dcdft)"
)
ASHCROFT_MERMIN_SOURCE = (
    "N. W. Ashcroft and N. D. Mermin, Solid State Physics (1976), ch. 4 tables "
    "(room temperature where the solid exists; as bundled in ase.data.reference_states)"
)
KITTEL_SOURCE = (
    "C. Kittel, Introduction to Solid State Physics, 8th ed. (2005), ch. 3 "
    "(as bundled in ase.data.cohesive_energies)"
)
S22_SOURCE = (
    "P. Jurečka, J. Šponer, J. Černý and P. Hobza, Phys. Chem. Chem. Phys. 8, 1985 (2006); "
    "CCSD(T)/CBS counterpoise-corrected interaction energies as tabulated in ase.data.s22"
)

#: Crystal structures ``ase.build.bulk`` builds from the reference state without extra input.
SIMPLE_STRUCTURES = ("fcc", "bcc", "hcp", "diamond", "sc")
_DCDFT_PROPERTIES = (
    ("volume_per_atom", "exp_volume", "Å³/atom"),
    ("bulk_modulus", "exp_B", "GPa"),
    ("bulk_modulus_pressure_derivative", "exp_Bp", "1"),
)


@dataclass(frozen=True, slots=True)
class ReferenceRecord:
    """One reference value of one property of one material.

    Parameters
    ----------
    material
        Element symbol, formula or system name (e.g. ``"Cu"``, ``"Water_dimer"``).
    property
        Property key, equal to the benchmark metric it is compared with
        (e.g. ``"volume_per_atom"``, ``"bulk_modulus"``).
    value
        The value, in ``unit``.
    unit
        Unit string (e.g. ``"Å³/atom"``, ``"GPa"``, ``"eV/atom"``, ``"eV"``, ``"1"``).
    level_of_theory
        ``"experiment"``, ``"ccsd(t)/cbs"``, ``"dft-pbe"``, ...
    source
        Human-readable citation.
    dataset
        Where the number was read from (e.g. ``"ase.collections.dcdft"``).
    uncertainty
        Standard uncertainty in ``unit``, when the source gives one.
    conditions
        Conditions of the value, e.g. ``{"temperature_k": 0}``.
    """

    material: str
    property: str
    value: float
    unit: str
    level_of_theory: str
    source: str
    dataset: str
    uncertainty: float | None = None
    conditions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StructureRecord:
    """A reference structure (an experimental crystal, a dimer) with its provenance.

    Parameters
    ----------
    label
        Unique label within its set (the element symbol for elemental crystals).
    material
        Element symbol or formula.
    atoms
        The structure (lengths in Å); ``atoms.info`` repeats the provenance.
    source
        Human-readable citation of the geometry.
    crystal_structure
        ``"fcc"``, ``"bcc"``, ``"hcp"``, ``"diamond"`` or ``"sc"`` for elemental crystals.
    """

    label: str
    material: str
    atoms: Atoms
    source: str
    crystal_structure: str


def experimental_references() -> list[ReferenceRecord]:
    """Experimental reference values of the elements.

    Returns
    -------
    list[ReferenceRecord]
        dcdft volume per atom (Å³/atom), bulk modulus (GPa) and its pressure derivative (1)
        for the 58 elements with experimental data; lattice constant a (Å) and c/a (1) from
        Ashcroft & Mermin; cohesive energy (eV/atom) from Kittel.
    """
    return [*_dcdft_records(), *_lattice_records(), *_cohesive_records()]


def _dcdft_records() -> list[ReferenceRecord]:
    from ase.collections import dcdft

    records = []
    for symbol, data in dcdft.data.items():
        conditions = {
            "temperature_k": 0,
            "zero_point_corrected": True,
            "phase": dcdft_phases()[symbol],
        }
        for prop, key, unit in _DCDFT_PROPERTIES:
            if data.get(key) is None:
                continue
            records.append(
                ReferenceRecord(
                    material=symbol,
                    property=prop,
                    value=float(data[key]),
                    unit=unit,
                    level_of_theory="experiment",
                    source=DCDFT_SOURCE,
                    dataset="ase.collections.dcdft",
                    conditions=copied_conditions(conditions),
                )
            )
    return records


def _reference_states() -> list[tuple[str, dict[str, Any]]]:
    """(symbol, Ashcroft & Mermin reference state) of every element that has one."""
    from ase.data import chemical_symbols, reference_states

    return [
        (chemical_symbols[number], dict(state))
        for number, state in enumerate(reference_states)
        if state
    ]


def _lattice_records() -> list[ReferenceRecord]:
    records: list[ReferenceRecord] = []
    for symbol, state in _reference_states():
        if "a" not in state:
            continue
        conditions = with_phase(
            {"temperature_k": 298, "crystal_structure": state["symmetry"]},
            reference_state_phases().get(symbol),
        )
        values = [("lattice_constant_a", state["a"], "Å")]
        if "c/a" in state:
            values.append(("c_over_a", state["c/a"], "1"))
        records.extend(
            ReferenceRecord(
                material=symbol,
                property=prop,
                value=float(value),
                unit=unit,
                level_of_theory="experiment",
                source=ASHCROFT_MERMIN_SOURCE,
                dataset="ase.data.reference_states",
                conditions=copied_conditions(conditions),
            )
            for prop, value, unit in values
        )
    return records


def _cohesive_records() -> list[ReferenceRecord]:
    from ase.data import chemical_symbols
    from ase.data.cohesive_energies import cohesive_energy

    return [
        ReferenceRecord(
            material=chemical_symbols[number],
            property="cohesive_energy",
            value=float(value),
            unit="eV/atom",
            level_of_theory="experiment",
            source=KITTEL_SOURCE,
            dataset="ase.data.cohesive_energies",
            conditions=with_phase(
                {"temperature_k": 0, "pressure_atm": 1},
                standard_state_phase(chemical_symbols[number]),
            ),
        )
        for number, value in enumerate(cohesive_energy)
        if value is not None
    ]


def s22_references() -> list[ReferenceRecord]:
    """CCSD(T)/CBS interaction energies of the 22 S22 dimers.

    Returns
    -------
    list[ReferenceRecord]
        One record per dimer, property ``"interaction_energy"`` in eV (negative: bound),
        material = the S22 system name (e.g. ``"Water_dimer"``).
    """
    from ase.data import s22

    return [
        ReferenceRecord(
            material=name,
            property="interaction_energy",
            value=float(s22.get_interaction_energy_cc(name)),
            unit="eV",
            level_of_theory="ccsd(t)/cbs",
            source=S22_SOURCE,
            dataset="ase.data.s22",
            conditions={"geometry": "S22 reference geometry", "counterpoise_corrected": True},
        )
        for name in s22.s22
    ]


def elemental_crystals() -> list[StructureRecord]:
    """Primitive cells of the elements in simple experimental crystal structures.

    Every element whose Ashcroft & Mermin reference state is fcc, bcc, hcp, diamond or sc
    with a tabulated lattice constant; built by ``ase.build.bulk(symbol)``, which uses that
    experimental lattice constant (and c/a for hcp). Sorted by atomic number.

    Returns
    -------
    list[StructureRecord]
        ``label`` and ``material`` are the element symbol; lengths in Å.
    """
    from ase.build import bulk

    records = []
    for symbol, state in _reference_states():
        # Se and Te are tabulated as "hcp" with an unknown basis: they are chain crystals.
        if state["symmetry"] not in SIMPLE_STRUCTURES or "a" not in state:
            continue
        if "basis" in state and state["basis"] is None:
            continue
        atoms = bulk(symbol)
        atoms.info.update(
            {
                "label": symbol,
                "source": ASHCROFT_MERMIN_SOURCE,
                "dataset": "ase.data.reference_states",
                "crystal_structure": state["symmetry"],
                "lattice_constant_a": float(state["a"]),
            }
        )
        if "c/a" in state:
            atoms.info["c_over_a"] = float(state["c/a"])
        records.append(
            StructureRecord(
                label=symbol,
                material=symbol,
                atoms=atoms,
                source=ASHCROFT_MERMIN_SOURCE,
                crystal_structure=state["symmetry"],
            )
        )
    return records


def reference_lookup(records: list[ReferenceRecord]) -> dict[tuple[str, str], ReferenceRecord]:
    """Index ``records`` by ``(material, property)``; a duplicate key raises ValueError."""
    index: dict[tuple[str, str], ReferenceRecord] = {}
    for record in records:
        key = (record.material, record.property)
        if key in index:
            raise ValueError(f"duplicate reference for {key}")
        index[key] = record
    return index
