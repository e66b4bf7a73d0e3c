"""Summarize an uploaded training set (extxyz): what the platform knows from the data itself.

Pure: reads a file with ASE and returns counts, hashes and fingerprints; no database, no web
code. The API reaches it only through the composition root (``backend.main``), so the web
tier's own layers never import ASE.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ase import Atoms

from workers.atoms_json import atoms_to_json
from workers.fingerprints import Fingerprint, structure_fingerprint
from workers.structure_limits import StructureFileError, check_extxyz_comment

#: Most atoms one frame of a training set may have; checked before ASE reads the file (ASE
#: skips a frame line by line, so a count line of 10^12 would hang it).
MAX_FRAME_ATOMS = 100_000


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
        sha256 of each structure's ASE JSON (``workers.atoms_json.atoms_to_json``), the same
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
    with path.open("rb") as head:
        if not head.read(4096).strip():
            raise TrainingSetError("the training set is empty; send an extxyz file")
    counts: Counter[str] = Counter()
    hashes: list[str] = []
    fingerprints: list[Fingerprint | None] = []
    for atoms in _frames(path):  # one at a time: memory stays that of one frame
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
    if not hashes:
        raise TrainingSetError("the file holds no structures")
    return TrainingSetSummary(
        len(hashes), dict(sorted(counts.items())), tuple(hashes), tuple(fingerprints)
    )


def _frames(path: Path) -> Iterator[Atoms]:
    """The file's frames, after ``_check_frames``; a reader failure is a TrainingSetError."""
    from ase.io import iread  # the I/O registry loads many formats; only when needed

    try:
        with path.open(encoding="utf-8") as text:
            _check_frames(text)
        frames = iread(path, index=":", format="extxyz")
        while True:
            try:
                atoms = next(frames)
            except StopIteration:
                return
            if not isinstance(atoms, Atoms):
                raise TrainingSetError("not one structure per frame")
            yield atoms
    except TrainingSetError as exc:
        raise TrainingSetError(f"not a readable extxyz file: {exc}") from None
    except MemoryError:  # out of memory is the bounded runner's 413
        raise
    except Exception as exc:  # any reader failure means the upload is not valid extxyz
        raise TrainingSetError(f"not a readable extxyz file: {_reason(exc)}") from exc


def _check_frames(text: TextIO) -> None:
    """Walk the frames as ASE will (a count line, a comment, the atoms; a blank line ends the
    file) and refuse counts and comment lines past the limits before ASE reads anything."""
    number, frame = 0, 0
    while True:
        header = text.readline()
        number += 1
        if not header.strip():
            return
        try:
            n_atoms = int(header)
        except ValueError:
            raise TrainingSetError(
                f"line {number}: expected the atom count of structure {frame}, "
                f"found {header.strip()[:40]!r}"
            ) from None
        if not 0 < n_atoms <= MAX_FRAME_ATOMS:
            raise TrainingSetError(
                f"line {number}: structure {frame} declares {n_atoms} atoms; a frame needs "
                f"1 to {MAX_FRAME_ATOMS}"
            )
        try:
            check_extxyz_comment(text.readline(), line=number + 1)
        except StructureFileError as exc:
            raise TrainingSetError(exc.message) from None
        skipped = sum(1 for _ in range(n_atoms) if text.readline())
        if skipped < n_atoms:
            raise TrainingSetError(
                f"line {number}: structure {frame} declares {n_atoms} atoms but the file "
                f"ends after {skipped} (truncated?)"
            )
        number, frame = number + 1 + n_atoms, frame + 1
        number += _skip_vec_lines(text)


def _skip_vec_lines(text: TextIO) -> int:
    """Skip the ``VEC1..3`` lines that may follow a frame (as ASE does); how many."""
    skipped = 0
    while True:
        position = text.tell()
        line = text.readline()
        if not line.lstrip().startswith("VEC"):
            text.seek(position)
            return skipped
        skipped += 1


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):  # ASE's symbol lookup: KeyError('Xx')
        return f"unknown element or missing field {exc.args[0]!r}"
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not text"
    return str(exc) or type(exc).__name__
