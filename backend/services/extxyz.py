"""A small extended-XYZ writer for structures stored as ASE JSON, without importing ASE.

It writes what the platform stores of a structure: species, positions (Å), the cell
(``Lattice``, Å) and periodicity; ASE, pymatgen and OVITO read it back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from backend.domain.elements import chemical_symbols


def _array(value: Any) -> list[Any]:
    """Decode ASE's ``{"__ndarray__": [shape, dtype, flat]}`` (or a plain list) to nested lists."""
    if isinstance(value, dict) and "array" in value:  # an encoded ase.cell.Cell
        value = value["array"]
    if isinstance(value, dict) and "__ndarray__" in value:
        shape, _dtype, flat = value["__ndarray__"]
        if len(shape) == 2:
            n, m = shape
            return [flat[i * m : (i + 1) * m] for i in range(n)]
        return list(flat)
    return list(value)


def _frame(text: str) -> str:
    data = json.loads(text)
    numbers = [int(z) for z in _array(data["numbers"])]
    positions = _array(data["positions"])
    cell = _array(data.get("cell", [[0.0] * 3] * 3)) or [[0.0] * 3] * 3
    pbc = _array(data.get("pbc", [False] * 3))
    lattice = " ".join(f"{float(x):.10g}" for row in cell for x in row)
    flags = " ".join("T" if p else "F" for p in pbc)
    lines = [
        str(len(numbers)),
        f'Lattice="{lattice}" Properties=species:S:1:pos:R:3 pbc="{flags}"',
    ]
    for z, (x, y, w) in zip(numbers, positions, strict=True):
        lines.append(f"{chemical_symbols[z]:<2} {x:16.10f} {y:16.10f} {w:16.10f}")
    return "\n".join(lines) + "\n"


def write_extxyz(structures: Sequence[str]) -> str:
    """ASE JSON texts -> one extended XYZ document, one frame per structure."""
    return "".join(_frame(text) for text in structures)
