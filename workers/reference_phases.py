"""The phase each bundled reference value was measured on (``conditions["phase"]``).

A crystal property belongs to one phase, so every reference of one names it: the space group
and, where known, a prototype (``workers.phases``). How each table's phase is known:

- ``ase.collections.dcdft``: the phase of the collection's own structure of the element, which
  is what its experimental numbers describe (graphite for C; the low-temperature 9R phase for
  Li and Na), except where that structure is a simplified stand-in (Mn, S: see
  ``_DCDFT_EXPERIMENT_PHASES``);
- ``ase.data.reference_states`` (Ashcroft & Mermin): the tabulated structure, built by
  ``ase.build.bulk`` exactly as the 'elemental crystals' set builds it;
- ``ase.data.cohesive_energies`` (Kittel) and pymatgen's handbook values: the element's
  standard state, which is the Ashcroft & Mermin structure except for carbon, whose standard
  state is graphite (Kittel's 7.37 eV/atom is graphite's 0 K atomization energy, 711 kJ/mol;
  pymatgen's 7.1e-6 1/K is graphite's expansion coefficient, diamond's is about 1e-6 1/K).

Where ASE cannot build the structure faithfully (molecular solids, complex or orthorhombic
structures) the record names no phase, and is then never compared with a crystal.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

#: Reference states ``ase.build.bulk`` builds faithfully, so their space group is known
#: (bct: In, white Sn; rhombohedral: As, Sb, Bi, alpha-Hg, Sm). ASE builds its "orthorhombic"
#: U and Np as one-atom Pmmm cells, not alpha-U (Cmcm), so those carry no phase.
PHASED_STRUCTURES = ("fcc", "bcc", "hcp", "diamond", "sc", "bct", "rhombohedral")
#: Standard states other than the Ashcroft & Mermin structure (which is diamond for C).
STANDARD_STATE_PHASES: dict[str, dict[str, Any]] = {
    "C": {"space_group": 194, "prototype": "graphite"},
}
#: Prototype names of dcdft structures that ``workers.phases.prototype`` cannot tell apart.
_DCDFT_PROTOTYPES = {"C": "graphite"}
#: Elements whose dcdft structure is a simplified stand-in while its experimental numbers are
#: of the real phase: 2-atom cells for alpha-Mn (58 atoms, I-43m) and 1-atom cells for alpha-S
#: (S8 rings, Fddd), which is why WIEN2k's volume there misses experiment by 4 % and 30 %.
_DCDFT_EXPERIMENT_PHASES: dict[str, dict[str, Any]] = {
    "Mn": {"space_group": 217, "prototype": "alpha-Mn"},
    "S": {"space_group": 70, "prototype": "alpha-S"},
}


@cache
def dcdft_phases() -> dict[str, dict[str, Any]]:
    """symbol -> ``conditions["phase"]`` of dcdft's experimental numbers: the phase of the
    structure ``ase.collections.dcdft`` holds, except ``_DCDFT_EXPERIMENT_PHASES``."""
    from ase.collections import dcdft

    from workers import phases

    found = {}
    for atoms in dcdft:
        symbol = atoms.get_chemical_symbols()[0]
        found[symbol] = _DCDFT_EXPERIMENT_PHASES.get(symbol) or phases.phase(
            atoms, name=_DCDFT_PROTOTYPES.get(symbol)
        )
    return found


@cache
def reference_state_phases() -> dict[str, dict[str, Any]]:
    """symbol -> ``conditions["phase"]`` of its Ashcroft & Mermin structure, where ASE builds it."""
    from ase.build import bulk
    from ase.data import chemical_symbols, reference_states

    from workers import phases

    found = {}
    for number, state in enumerate(reference_states):
        if not state or state["symmetry"] not in PHASED_STRUCTURES or "a" not in state:
            continue
        if "basis" in state and state["basis"] is None:
            continue  # e.g. Se and Te, tabulated as hcp: chain crystals
        found[chemical_symbols[number]] = phases.phase(bulk(chemical_symbols[number]))
    return found


def standard_state_phase(symbol: str) -> dict[str, Any] | None:
    """``conditions["phase"]`` of the element's standard state (None where ASE cannot build it)."""
    found = STANDARD_STATE_PHASES.get(symbol) or reference_state_phases().get(symbol)
    return None if found is None else dict(found)


def with_phase(conditions: Mapping[str, Any], phase: Mapping[str, Any] | None) -> dict[str, Any]:
    """``conditions`` plus ``"phase"`` when the phase is known (copies, never shared)."""
    return copied_conditions({**conditions, **({"phase": phase} if phase is not None else {})})


def copied_conditions(conditions: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``conditions`` whose nested mappings (the phase) are copies too."""
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in conditions.items()}
