"""A structure fingerprint that two copies of the same structure share within a tolerance.

Content hashes match only byte-identical structures, and extxyz keeps 8 decimals, so a
benchmark structure written to a training set and read back (a non-cubic cell such as hcp Mg
especially) no longer hashes the same. The leakage check therefore also compares
fingerprints that are

- **invariant** to rigid rotation and translation, to the order of the atoms, to the choice
  of periodic cell (any cell of the same lattice, Niggli-reduced or not) and, for crystals,
  to supercells (every value is per atom);
- **continuous**: moving every atom by at most ``d`` changes every value by at most ``2 d``
  (sorted lists and their quantiles are 1-Lipschitz), so a tolerance in Å means what it says,
  with no rounding boundary for a tiny perturbation to fall across.

The fingerprint of a structure is a key and a vector of lengths in Å:

- key: the empirical (reduced) formula and the periodic directions; molecules (no periodic
  direction) also their atom count, since (CH4)2 and CH4 share a reduced formula;
- vector: the cube root of the volume per atom (3D-periodic only), then for each ordered
  pair of species (A, B) and each rank k = 1..4, five quantiles (0, 1/4, 1/2, 3/4, 1) over the
  atoms of A of the distance to their k-th nearest B neighbour (periodic images included).

Two structures are taken as the same when their keys are equal and no vector entry differs by
more than the tolerance (``backend.services.training_sets.FINGERPRINT_TOLERANCE_A``). A 2 %
strain moves bond lengths by about 0.05 Å, far outside it.

Pure: numpy and ASE only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from ase import Atoms

#: Neighbour ranks per species pair, and the quantiles taken over the atoms of a species.
RANKS = 4
QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Neighbour search radius: start, growth factor and limit (Å).
START_CUTOFF_A, GROWTH, MAX_CUTOFF_A = 4.0, 1.5, 24.0


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A structure's fingerprint: ``key`` must be equal, ``values`` (Å) close."""

    key: str
    values: tuple[float, ...]


def fingerprint_key(atoms: Atoms) -> str:
    """Reduced formula and periodic directions (plus the atom count for molecules)."""
    pbc = "".join("T" if p else "F" for p in atoms.pbc)
    key = f"{atoms.get_chemical_formula(empirical=True)}|{pbc}"
    return key if atoms.pbc.any() else f"{key}|{len(atoms)}"


def _neighbour_distances(atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, d) over neighbour pairs, enough for every atom to have ``RANKS`` neighbours of
    each species (all pairs for a molecule)."""
    if not atoms.pbc.any():
        d = atoms.get_all_distances()
        i, j = np.nonzero(~np.eye(len(atoms), dtype=bool))
        return i, j, d[i, j]
    neighbor_list = _neighbour_list_function(atoms)
    numbers = atoms.numbers
    species = np.unique(numbers)
    cutoff = START_CUTOFF_A
    while True:
        i, j, d = neighbor_list("ijd", atoms, cutoff)
        counts = np.zeros((len(atoms), len(species)), dtype=int)
        np.add.at(counts, (i, np.searchsorted(species, numbers[j])), 1)
        if counts.min() >= RANKS or cutoff >= MAX_CUTOFF_A:
            return i, j, d
        cutoff = min(cutoff * GROWTH, MAX_CUTOFF_A)


def _neighbour_list_function(atoms: Atoms) -> Callable[..., tuple[np.ndarray, ...]]:
    """matscipy's neighbour list (C, about 35x faster; installed with the MLIP extra) for
    fully periodic cells, ASE's otherwise: both return the same pairs and distances."""
    if atoms.pbc.all():
        try:
            from matscipy.neighbours import neighbour_list

            return cast(Callable[..., tuple[np.ndarray, ...]], neighbour_list)
        except ImportError:
            pass
    from ase.neighborlist import neighbor_list

    return cast(Callable[..., tuple[np.ndarray, ...]], neighbor_list)


def structure_fingerprint(atoms: Atoms) -> Fingerprint | None:
    """The fingerprint of ``atoms`` (see the module docstring).

    Parameters
    ----------
    atoms
        Any structure; periodic directions need a cell.

    Returns
    -------
    Fingerprint or None
        None when it is not defined: an empty structure, or a periodic one so sparse that an
        atom has fewer than 4 neighbours of some species within 24 Å. Such structures are
        matched by content hash only.
    """
    if len(atoms) == 0:
        return None
    values: list[float] = []
    if atoms.pbc.all():
        values.append(float(abs(atoms.cell.volume) / len(atoms)) ** (1 / 3))
    i, j, d = _neighbour_distances(atoms)
    numbers = atoms.numbers
    species = np.unique(numbers)
    # Sort pairs by (atom, neighbour species, distance) and number them within each group.
    neighbour = np.searchsorted(species, numbers[j])
    order = np.lexsort((d, neighbour, i))
    i, neighbour, d = i[order], neighbour[order], d[order]
    group = i * len(species) + neighbour
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0])
    rank = np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))
    for a in species:
        members = np.flatnonzero(numbers == a)
        for nb, b in enumerate(species):
            n_b = int((numbers == b).sum())
            ranks = RANKS if atoms.pbc.any() else min(RANKS, n_b - int(a == b))
            if ranks <= 0:
                continue
            picked = (numbers[i] == a) & (neighbour == nb) & (rank < ranks)
            if picked.sum() != len(members) * ranks:
                return None  # some atom lacks neighbours of species b within the cutoff
            table = d[picked].reshape(len(members), ranks)  # rows: atoms of a, by index
            values.extend(np.quantile(table, QUANTILES, axis=0).T.ravel().tolist())
    return Fingerprint(fingerprint_key(atoms), tuple(values))


def max_deviation(a: Fingerprint, b: Fingerprint) -> float:
    """Largest entry-wise difference (Å); infinite when the keys or layouts differ."""
    if a.key != b.key or len(a.values) != len(b.values):
        return float("inf")
    if not a.values:
        return 0.0
    return float(np.max(np.abs(np.subtract(a.values, b.values))))
