"""A run's frames as extended XYZ text: the bytes ASE's writer makes, in a fraction of its time.

ASE's writer (``ase.io.write(..., format="extxyz")``) spends about 0.14 ms on every frame in
generic work (a copy of the atoms, a record array, the comment's key=value pairs through type
checks): 1.5-3 ms of an eos run's 7-15 frames, the largest part of what a pool process spends
on a run outside its benchmark (docs/performance.md). The frames the benchmarks keep
(``workers.benchmarks._frames.snapshot``) are simple: symbols, positions and maybe momenta, a
single-point calculator with energy, free energy, forces and stress, scalar info. ``render``
writes those here, with ASE's own quoting and number formats; anything else (constraints,
other per-atom arrays or results, info that is not a scalar or a number vector) gives None and
goes to ASE's writer (``text`` chooses). tests/workers/test_extxyz.py compares the two byte
for byte.
"""

from __future__ import annotations

import io
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import write
from ase.io.extxyz import SPECIAL_3_3_KEYS, escape
from ase.stress import voigt_6_to_full_3x3_stress

#: Per-atom arrays (besides numbers and positions) a frame may carry, three reals an atom.
VECTOR_ARRAYS = ("momenta",)
#: Calculator results written on the comment line (ASE's per-configuration properties).
CONFIG_RESULTS = ("energy", "free_energy", "stress")
_REAL = " %16.8f %16.8f %16.8f"


def text(frames: Sequence[Atoms]) -> str:
    """The extended XYZ text of ``frames``: ``render``'s, else ASE's writer's."""
    fast = render(frames)
    return fast if fast is not None else ase_text(frames)


def ase_text(frames: Sequence[Atoms]) -> str:
    """What ``ase.io.write(..., format="extxyz")`` writes for ``frames``."""
    out = io.StringIO()
    write(out, list(frames), format="extxyz")
    return out.getvalue()


def render(frames: Sequence[Atoms]) -> str | None:
    """The extended XYZ text of ``frames``, as ``ase.io.write(..., format="extxyz")`` writes
    it; None when a frame has anything beyond the simple layout above."""
    parts = []
    for atoms in frames:
        text = _frame(atoms)
        if text is None:
            return None
        parts.append(text)
    return "".join(parts)


def _frame(atoms: Atoms) -> str | None:
    if type(atoms) is not Atoms or atoms.constraints or not len(atoms):
        return None
    if not _reals(atoms.arrays["positions"], (len(atoms), 3)):
        return None  # ASE's writer refuses them
    columns: list[tuple[str, np.ndarray]] = []
    for name, values in atoms.arrays.items():
        if name in ("numbers", "positions"):
            continue
        if name not in VECTOR_ARRAYS or not _reals(values, (len(atoms), 3)):
            return None
        columns.append((name, values))
    info = dict(atoms.info)
    if not _results(atoms, info, columns):
        return None
    info["pbc"] = atoms.get_pbc()
    pairs = _pairs(info)
    if pairs is None:
        return None
    properties = "species:S:1:pos:R:3" + "".join(f":{name}:R:3" for name, _ in columns)
    comment = f"Properties={properties} {pairs}"
    cell = atoms.cell.array
    if cell.any():
        comment = f'Lattice="{_numbers(cell.reshape(9))}" {comment}'
    line = "%-2s" + _REAL * (1 + len(columns)) + "\n"
    rows = np.hstack([atoms.positions, *(values for _, values in columns)]).tolist()
    symbols = atoms.get_chemical_symbols()
    body = "".join(line % (s, *r) for s, r in zip(symbols, rows, strict=True))
    return f"{len(atoms)}\n{comment}\n{body}"


def _results(atoms: Atoms, info: dict[str, Any], columns: list[tuple[str, np.ndarray]]) -> bool:
    """Add the calculator's results as ASE's writer does (per-configuration ones to ``info``
    in the calculator's order, forces as the last column); False for anything else."""
    if atoms.calc is not None and not isinstance(getattr(atoms.calc, "results", None), dict):
        return False  # ASE's writer fails on it
    for name, value in (atoms.calc.results if atoms.calc is not None else {}).items():
        if name in CONFIG_RESULTS and name not in info:
            info[name] = value
        elif name == "forces" and _reals(value, (len(atoms), 3)):
            columns.append((name, value))
        else:
            return False
    stress = info.get("stress", np.array([]))
    if type(stress) is not np.ndarray:
        return False  # ASE's writer fails on it, or prints a masked array its own way
    if stress.shape == (6,):  # written as the 3x3 tensor
        info["stress"] = voigt_6_to_full_3x3_stress(stress)
    return True


def _reals(value: Any, shape: tuple[int, ...]) -> bool:
    return type(value) is np.ndarray and value.dtype.kind == "f" and value.shape == shape


def _pairs(info: dict[str, Any]) -> str | None:
    """``ase.io.extxyz.key_val_dict_to_str`` for scalars and number vectors; None otherwise."""
    pairs = []
    for key, value in info.items():
        text = _text(key, value) if isinstance(key, str) else None  # ASE fails on others
        if text is None:
            return None
        pairs.append(f"{escape(key)}={escape(text)}")
    return " ".join(pairs).strip()  # ASE strips the whole (tabs, other spaces unquoted)


def _text(key: str, value: Any) -> str | None:
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray or value.dtype.kind not in "ifb":
            return None  # a masked array prints -- for what it hides
        if key in SPECIAL_3_3_KEYS:
            value = value.reshape(value.size, order="F")
        if value.ndim == 0:  # printed by numpy (True, not T; a float32's shortest text)
            return str(value.item()) if _as_python(value) else str(value)
        if value.ndim == 1:
            return _numbers(value)
        return None
    if isinstance(value, (bool, np.bool_, numbers.Real, str)):
        return _scalar(value)
    return None


def _numbers(values: np.ndarray) -> str:
    """A vector as ASE writes one: each number as ``f"{x}"``, booleans as T or F."""
    if values.dtype.kind == "b":
        return " ".join("T" if v else "F" for v in values.tolist())
    if _as_python(values):
        return " ".join(map(str, values.tolist()))
    return " ".join(f"{v}" for v in values)


def _as_python(values: np.ndarray) -> bool:
    """Whether Python's numbers print as these do (float64 and integers: the shortest text
    that reads back the same number), so that they may be printed as Python's (1 us less a
    number); not float32, whose own text is shorter."""
    return values.dtype == np.float64 or values.dtype.kind == "i"


def _scalar(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "T" if value else "F"
    return f"{value}"
