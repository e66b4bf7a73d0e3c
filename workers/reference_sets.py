"""Which references belong to which built-in structure set: every one of its phase.

A reference attached to a set must name the phase of the set's structure of its material
(``backend.domain.phases.describes``); the bootstrap refuses one that does not. The tables ASE
and pymatgen bundle hold a few values of another phase than the 'elemental crystals'
structure; they are left out of that set here, named in ``OTHER_PHASE`` with the reason, and
replaced where a value of the right phase exists (``workers.reference_sol58``).
"""

from __future__ import annotations

from workers.reference_data import ReferenceRecord, experimental_references
from workers.reference_pymatgen import pymatgen_references
from workers.reference_sol58 import sol58_debye_references, sol58_references

#: (dataset, element) -> why its values do not describe the 'elemental crystals' structure.
OTHER_PHASE: dict[tuple[str, str], str] = {
    ("ase.collections.dcdft", "C"): "graphite (P6_3/mmc); the set's C is diamond",
    ("ase.collections.dcdft", "Li"): "the 9R low-temperature phase (R-3m); the set's Li is bcc",
    ("ase.collections.dcdft", "Na"): "the 9R low-temperature phase (R-3m); the set's Na is bcc",
    ("ase.data.cohesive_energies", "C"): "graphite (standard state); the set's C is diamond",
    ("pymatgen.core.periodic_table", "C"): "graphite (standard state); the set's C is diamond",
}
#: Elements whose volume and bulk modulus come from the Sol58 data instead (zero-point
#: corrected like dcdft's, measured on the set's phase).
SOL58_ELEMENTS = ("C", "Li", "Na")


def elemental_crystal_references() -> list[ReferenceRecord]:
    """The experimental references of the 'elemental crystals' set, each of the set's phase.

    Returns
    -------
    list[ReferenceRecord]
        dcdft, Ashcroft & Mermin, Kittel and pymatgen records except ``OTHER_PHASE``, plus
        Sol58's volume and bulk modulus of ``SOL58_ELEMENTS`` and its Debye temperatures of
        the cubic elements. Elements outside the set are
        included too (a set of their own structures would be checked against them).
    """
    bundled = [*experimental_references(), *pymatgen_references()]
    kept = [r for r in bundled if (r.dataset, r.material) not in OTHER_PHASE]
    return [*kept, *sol58_references(SOL58_ELEMENTS), *sol58_debye_references()]


def other_phase_references() -> list[ReferenceRecord]:
    """The bundled records ``OTHER_PHASE`` leaves out of the set (earlier releases stored
    them: the bootstrap still names their phase)."""
    bundled = [*experimental_references(), *pymatgen_references()]
    return [r for r in bundled if (r.dataset, r.material) in OTHER_PHASE]
