"""Structures as stored: lossless, deterministic ASE JSON text (pure: ASE only)."""

from __future__ import annotations

from ase import Atoms
from ase.io.jsonio import decode, encode


def atoms_from_json(data: str) -> Atoms:
    """Decode a structure stored as ASE JSON."""
    return Atoms.fromdict(decode(data))


def atoms_to_json(atoms: Atoms) -> str:
    """Encode a structure losslessly as ASE JSON text."""
    # Deterministic (no timestamps, sorted keys), so equal structures hash equally.
    return encode(atoms.todict())
