"""The phase of a structure, as every reference check compares it: its space group (spglib).

A reference names the phase it was measured on (``conditions["phase"]``, see
``backend.domain.phases``); a structure's phase is the space group spglib finds at
``SYMPREC_A``. That tolerance is pymatgen's default for ``SpacegroupAnalyzer``: loose enough
for coordinates written with a few decimals or relaxed to a force threshold, tight enough that
a real distortion (a tetragonal strain of a few per cent) lowers the symmetry.

Pure: ASE and spglib only.
"""

from __future__ import annotations

import functools
from typing import Any

from ase import Atoms

#: Distance tolerance of the symmetry search (Å).
SYMPREC_A = 0.01

#: Prototype names of elemental structures, by (space group, atoms in the primitive cell).
#: (194, 4) is left out: double-hcp and AB graphite share it.
ELEMENTAL_PROTOTYPES: dict[tuple[int, int], str] = {
    (225, 1): "fcc",
    (229, 1): "bcc",
    (194, 2): "hcp",
    (227, 2): "diamond",
    (221, 1): "sc",
    (139, 1): "bct (In)",
    (141, 2): "beta-Sn",
    (166, 1): "alpha-Hg",
    (166, 2): "A7 (alpha-As)",
    (166, 3): "9R (alpha-Sm)",
}


def _dataset(atoms: Atoms) -> Any:
    import spglib

    positions = atoms.get_scaled_positions(wrap=True).tolist()
    cell = (atoms.cell.tolist(), positions, [int(z) for z in atoms.numbers])
    return spglib.get_symmetry_dataset(cell, symprec=SYMPREC_A)


def is_crystal(atoms: Atoms) -> bool:
    """Periodic in three dimensions with a full-rank cell."""
    return bool(atoms.pbc.all()) and atoms.cell.rank == 3


def space_group(atoms: Atoms) -> int | None:
    """International space-group number of a crystal at ``SYMPREC_A``; None if not a crystal.

    Parameters
    ----------
    atoms
        The structure (lengths in Å); not modified.

    Returns
    -------
    int or None
        1-230; 1 (P1) when spglib finds no symmetry at all (e.g. overlapping atoms); None for
        a structure not periodic in three dimensions (a molecule, a slab).
    """
    if not is_crystal(atoms):
        return None
    dataset = _dataset(atoms)
    return 1 if dataset is None else int(dataset.number)


def prototype(atoms: Atoms) -> str | None:
    """Prototype name of an elemental crystal (``ELEMENTAL_PROTOTYPES``), None if unknown."""
    if not is_crystal(atoms) or len(set(atoms.numbers)) != 1:
        return None
    dataset = _dataset(atoms)
    if dataset is None:
        return None
    n_primitive = len({int(i) for i in dataset.mapping_to_primitive})
    return ELEMENTAL_PROTOTYPES.get((int(dataset.number), n_primitive))


def phase(atoms: Atoms, *, name: str | None = None) -> dict[str, Any]:
    """``conditions["phase"]`` of a reference measured on the phase of ``atoms``.

    Parameters
    ----------
    atoms
        A crystal of the phase (Å).
    name
        Prototype name; by default the elemental one ``prototype`` finds (left out if none).

    Raises
    ------
    ValueError
        If ``atoms`` is not a crystal.
    """
    number = space_group(atoms)
    if number is None:
        raise ValueError(f"{atoms.get_chemical_formula()} is not a crystal: it has no phase")
    found = name or prototype(atoms)
    return {"space_group": number, **({"prototype": found} if found else {})}


@functools.lru_cache(maxsize=1024)
def space_group_of_data(data: str) -> int | None:
    """``space_group`` of a structure stored as ASE JSON text (``backend`` structure data).

    Kept per process for the last 1024 structures: a worker records the same structure's
    results for many models and parameter sets, and spglib takes 3-7 ms even on a one-atom cell
    (the largest part of a short run's cost on the platform, docs/performance.md)."""
    from ase.io.jsonio import decode

    return space_group(Atoms.fromdict(decode(data)))
