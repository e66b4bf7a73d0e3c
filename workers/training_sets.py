"""Summarize an uploaded training set (extxyz): what the platform knows from the data itself.

Pure: reads a file with ASE and returns counts, hashes and fingerprints; no database, no web
code. The API reaches it only through the composition root (``backend.main``), so the web
tier's own layers never import ASE.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from workers.execution import atoms_to_json
from workers.fingerprints import Fingerprint, structure_fingerprint


class TrainingSetError(ValueError):
    """The file is not a training set the platform can read; the message says why."""


@dataclass(frozen=True, slots=True)
class TrainingSetSummary:
    """What a training set holds.

    Attributes
    ----------
    n_structures : int
        Number of structures (frames) in the file.
    element_counts : dict[str, int]
        For each element, the number of structures that contain it.
    content_hashes : tuple[str, ...]
        sha256 of each structure's ASE JSON (``workers.execution.atoms_to_json``), the same
        hash the catalog stores as ``structure.content_hash``; in file order, duplicates kept.
    fingerprints : tuple[Fingerprint | None, ...]
        Each structure's tolerance-robust fingerprint (``workers.fingerprints``), in the
        same order, so that a benchmark structure that went through extxyz's 8 decimals, a
        rotation or a tiny perturbation is still recognised.
    """

    n_structures: int
    element_counts: dict[str, int]
    content_hashes: tuple[str, ...]
    fingerprints: tuple[Fingerprint | None, ...] = ()


def structure_hash(atoms: Atoms) -> str:
    """sha256 of the structure's lossless ASE JSON, as the catalog hashes its structures."""
    return hashlib.sha256(atoms_to_json(atoms).encode()).hexdigest()


def summarize_extxyz(path: Path) -> TrainingSetSummary:
    """Read every frame of an extended-XYZ file and count elements and hash structures.

    Parameters
    ----------
    path : Path
        The extxyz file.

    Returns
    -------
    TrainingSetSummary
        Structure count, per-element structure counts and per-structure content hashes.

    Raises
    ------
    TrainingSetError
        The file is empty, is not extxyz, or names an unknown element.
    """
    from ase.io import read  # the I/O registry loads many formats; only when needed

    with path.open("rb") as head:
        if not head.read(4096).strip():
            raise TrainingSetError("the training set is empty; send an extxyz file")
    try:
        frames = read(path, index=":", format="extxyz")
    except Exception as exc:  # any reader failure means the upload is not valid extxyz
        raise TrainingSetError(f"not a readable extxyz file: {_reason(exc)}") from exc
    if not isinstance(frames, list) or not frames:
        raise TrainingSetError("the file holds no structures")
    counts: Counter[str] = Counter()
    hashes: list[str] = []
    fingerprints: list[Fingerprint | None] = []
    for atoms in frames:
        if len(atoms) == 0:
            raise TrainingSetError(f"structure {len(hashes)} has no atoms")
        if atoms.pbc.any() and atoms.cell.rank < atoms.pbc.sum():
            raise TrainingSetError(
                f"structure {len(hashes)} is periodic along {atoms.pbc.tolist()} but its "
                'Lattice has no vector there; give a Lattice or pbc="F F F"'
            )
        counts.update(set(atoms.get_chemical_symbols()))
        hashes.append(structure_hash(atoms))
        fingerprints.append(structure_fingerprint(atoms))
    return TrainingSetSummary(
        len(frames), dict(sorted(counts.items())), tuple(hashes), tuple(fingerprints)
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):  # ASE's symbol lookup: KeyError('Xx')
        return f"unknown element or missing field {exc.args[0]!r}"
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not text"
    return str(exc) or type(exc).__name__
