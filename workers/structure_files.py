"""Read uploaded structure files (CIF, POSCAR, extxyz, ASE JSON) and check every structure.

Pure: text in, checked structures out; no database, no web code. The API reaches it only through
the composition root (``backend.main``). Hostile files are expected: atom counts are checked
against the limit *before* ASE's readers see them (ASE loops over a declared count, so a header
claiming 10^9 atoms would otherwise hang the reader), and every structure is checked for unknown
elements, non-finite or absurd numbers, degenerate cells and atoms closer than 0.5 Å (minimum
image for periodic cells) before anything is returned.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from ase import Atoms

from workers.atoms_json import atoms_to_json
from workers.fingerprints import structure_fingerprint
from workers.structure_limits import (
    StructureFileError,
    check_depth,
    check_extxyz_comment,
    checked_json_object,
)

__all__ = ["StructureFileError", "check_extxyz_comment", "parse_structure_file"]

FORMATS = ("cif", "poscar", "extxyz", "json")
MIN_DISTANCE_A = 0.5
_T = TypeVar("_T")
#: Coordinates and cell vectors beyond this many Å are refused as absurd (no atomistic cell is
#: a tenth of a millimetre), which also bounds the work of the overlap search.
MAX_COORDINATE_A = 1.0e5
_EXTENSIONS = {
    ".cif": "cif",
    ".vasp": "poscar",
    ".poscar": "poscar",
    ".xyz": "extxyz",
    ".extxyz": "extxyz",
    ".json": "json",
}


@dataclass(frozen=True, slots=True)
class ParsedStructure:
    """One checked structure, stored losslessly as ASE JSON.

    Attributes
    ----------
    index : int
        Position in the file (0-based).
    label : str | None
        ``info["label"]`` or ``info["name"]`` when the file carries one.
    material : str
        ``info["material"]`` when the file carries one, else the empirical formula.
    formula : str
        Hill formula (``Atoms.get_chemical_formula()``).
    elements : tuple[str, ...]
        Sorted element symbols.
    n_atoms : int
        Number of atoms.
    data : str
        ASE JSON (``workers.atoms_json.atoms_to_json``).
    content_hash : str
        sha256 of ``data``, the hash the catalog and the training-set leakage check use.
    fingerprint : tuple[str, tuple[float, ...]] | None
        ``workers.fingerprints`` key and values (Å), for the tolerance-robust leakage check.
    """

    index: int
    label: str | None
    material: str
    formula: str
    elements: tuple[str, ...]
    n_atoms: int
    data: str
    content_hash: str
    fingerprint: tuple[str, tuple[float, ...]] | None


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The format a file was read as, and its checked structures."""

    format: str
    structures: tuple[ParsedStructure, ...]


def read_structure_upload(
    path: Path,
    *,
    fmt: str | None,
    filename: str | None,
    max_atoms: int,
    max_structures: int | None = None,
) -> ParsedFile:
    """Read an upload as ``fmt``, or as its file name implies; see ``parse_structure_file``."""
    chosen = fmt or (format_from_name(filename) if filename else None)
    if chosen is None:
        raise StructureFileError(
            f"cannot tell the format from the file name {filename!r}; pass format= one of "
            f"{list(FORMATS)}"
            if filename
            else f"say the format (format= one of {list(FORMATS)}) or the file name (filename=)",
            where="format",
        )
    structures = parse_structure_file(
        path, fmt=chosen, max_atoms=max_atoms, max_structures=max_structures
    )
    return ParsedFile(chosen, tuple(structures))


def format_from_name(filename: str) -> str | None:
    """The format a file name implies (``POSCAR``/``CONTCAR`` or by extension), else None."""
    name = Path(filename).name
    if name.upper().startswith(("POSCAR", "CONTCAR")):
        return "poscar"
    return _EXTENSIONS.get(Path(name).suffix.lower())


def parse_structure_file(
    path: Path, *, fmt: str, max_atoms: int, max_structures: int | None = None
) -> list[ParsedStructure]:
    """Read every structure of a file and check it.

    Parameters
    ----------
    path : Path
        The uploaded file.
    fmt : str
        One of ``FORMATS``.
    max_atoms : int
        Largest number of atoms a structure may have.
    max_structures : int, optional
        Most structures the file may hold (checking costs milliseconds per structure).

    Returns
    -------
    list[ParsedStructure]
        The structures in file order (at least one).

    Raises
    ------
    StructureFileError
        The file is empty, not text, not in the format, or a structure fails a check; the
        message says why and ``where`` names the line or the structure.
    """
    if fmt not in FORMATS:
        raise StructureFileError(
            f"unknown format {fmt!r}; use one of {list(FORMATS)}", where="format"
        )
    raw = path.read_bytes()
    if not raw.strip():
        raise StructureFileError("the file is empty")
    if b"\x00" in raw:
        raise StructureFileError("the file is binary, not a text structure file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StructureFileError(f"the file is not UTF-8 text (byte {exc.start})") from exc
    readers: dict[str, Callable[[str, int], Iterator[tuple[Atoms, str]]]] = {
        "extxyz": _read_extxyz,
        "poscar": _read_poscar,
        "cif": _read_cif,
        "json": _read_json,
    }
    parsed = []
    for index, (atoms, where) in enumerate(readers[fmt](text, max_atoms)):
        if max_structures is not None and index >= max_structures:
            raise StructureFileError(
                f"the file holds more than the limit of {max_structures} structures per upload",
                where=where,
            )
        check = partial(_checked, atoms, index=index, where=where, max_atoms=max_atoms)
        parsed.append(_ase_read(check, where))
    if not parsed:
        raise StructureFileError("the file holds no structures")
    return parsed


def _read_extxyz(text: str, max_atoms: int) -> Iterator[tuple[Atoms, str]]:
    from ase.io import read

    lines = text.splitlines(keepends=True)
    start, frame = 0, 0
    while start < len(lines):
        if not lines[start].strip():  # blank lines between or after frames
            start += 1
            continue
        where = f"body:line {start + 1}"
        header = lines[start].strip()
        try:
            n_atoms = int(header)
        except ValueError:
            raise StructureFileError(
                f"line {start + 1}: expected the atom count of structure {frame}, "
                f"found {header[:40]!r}",
                where=where,
            ) from None
        _check_count(n_atoms, max_atoms, f"line {start + 1}", where)
        if start + 1 < len(lines):
            check_extxyz_comment(lines[start + 1], line=start + 2)
        end = start + 2 + n_atoms
        if end > len(lines):
            raise StructureFileError(
                f"line {start + 1}: structure {frame} declares {n_atoms} atoms but the file "
                f"ends after {max(len(lines) - start - 2, 0)} (truncated?)",
                where=where,
            )
        chunk = "".join(lines[start:end])
        atoms = _ase_read(partial(read, io.StringIO(chunk), format="extxyz"), where)
        if not isinstance(atoms, Atoms):  # one frame was asked for
            raise StructureFileError(f"line {start + 1}: not one extxyz frame", where=where)
        yield atoms, f"body:structure {frame} (line {start + 1})"
        start, frame = end, frame + 1


def _read_poscar(text: str, max_atoms: int) -> Iterator[tuple[Atoms, str]]:
    from ase.io.vasp import read_vasp

    lines = text.splitlines()
    counts_line = next((i for i in (5, 6) if i < len(lines) and _ints(lines[i]) is not None), None)
    if counts_line is None:
        raise StructureFileError(
            "line 6 or 7: expected the atom counts of a POSCAR (e.g. '2 1')", where="body:line 6"
        )
    counts = _ints(lines[counts_line]) or []
    where = f"body:line {counts_line + 1}"
    if any(c <= 0 for c in counts):
        raise StructureFileError(
            f"line {counts_line + 1}: atom counts must be positive", where=where
        )
    _check_count(sum(counts), max_atoms, f"line {counts_line + 1}", where)
    if sum(counts) > len(lines) - counts_line - 2:
        raise StructureFileError(
            f"line {counts_line + 1}: {sum(counts)} atoms declared but the file has fewer "
            "position lines (truncated?)",
            where=where,
        )
    yield _ase_read(lambda: read_vasp(io.StringIO(text)), "body"), "body:structure 0"


def _read_cif(text: str, max_atoms: int) -> Iterator[tuple[Atoms, str]]:
    from ase.io.cif import parse_cif

    blocks = _ase_read(lambda: list(parse_cif(io.StringIO(text))), "body")
    blocks = [b for b in blocks if b.has_structure()]
    for index, block in enumerate(blocks):
        where = f"body:structure {index} (data_{block.name})"
        sites = block.get("_atom_site_fract_x", block.get("_atom_site_cartn_x", []))
        n_sites = len(sites) if isinstance(sites, list) else 1
        _check_count(n_sites, max_atoms, f"data_{block.name}", where)
        yield _ase_read(block.get_atoms, where), where


def _read_json(text: str, max_atoms: int) -> Iterator[tuple[Atoms, str]]:
    from ase.io.jsonio import decode

    try:
        check_depth(json.loads(text, object_hook=checked_json_object))
    except RecursionError:
        raise StructureFileError("the JSON is nested too deeply") from None
    except ValueError as exc:
        if isinstance(exc, StructureFileError):
            raise
        line = getattr(exc, "lineno", None)
        where = "body" if line is None else f"body:line {line}"
        raise StructureFileError(f"not valid JSON: {exc}", where=where) from None
    document = _ase_read(partial(decode, text), "body")
    items = _ase_read(partial(_json_items, document), "body")
    for index, item in enumerate(items):
        where = f"body:structure {index}"
        if isinstance(item, Atoms):
            yield item, where
            continue
        if not isinstance(item, dict) or "numbers" not in item or "positions" not in item:
            raise StructureFileError(
                f"structure {index}: not an ASE Atoms object (needs 'numbers' and 'positions')",
                where=where,
            )
        n_atoms = _ase_read(partial(np.size, item["numbers"]), where)
        _check_count(int(n_atoms), max_atoms, f"structure {index}", where)
        fields = {k: item[k] for k in ("numbers", "positions", "cell", "pbc", "info") if k in item}
        yield _ase_read(partial(Atoms, **fields), where), where


def _json_items(document: object) -> list[object]:
    if isinstance(document, dict) and "ids" in document:  # an ASE database file (ase.io json)
        ids = document["ids"]
        if not isinstance(ids, list) or not all(isinstance(i, int | str) for i in ids):
            raise StructureFileError("'ids' of an ASE database file must be a list of ids")
        return [document.get(i, document.get(str(i))) for i in ids]
    if isinstance(document, list):
        return document
    return [document]


def _ase_read(read: Callable[[], _T], where: str) -> _T:
    """Call an ASE reader; any failure is the file's fault and becomes a StructureFileError."""
    try:
        return read()
    except (StructureFileError, MemoryError):  # out of memory is the bounded runner's 413
        raise
    except RecursionError:
        raise StructureFileError("the file is nested too deeply", where=where) from None
    except Exception as exc:  # ASE readers raise anything from KeyError to LinAlgError
        raise StructureFileError(f"cannot read the file: {_reason(exc)}", where=where) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):  # ASE's symbol lookup: KeyError('Xx')
        return f"unknown element or missing field {exc.args[0]!r}"
    if isinstance(exc, np.linalg.LinAlgError):
        return "the cell is singular (zero volume)"
    return (str(exc) or type(exc).__name__)[:300]


def _ints(line: str) -> list[int] | None:
    tokens = line.split()
    if not tokens or not all(t.lstrip("+-").isdigit() for t in tokens):
        return None
    return [int(t) for t in tokens]


def _check_count(n_atoms: int, max_atoms: int, what: str, where: str) -> None:
    if n_atoms <= 0:
        raise StructureFileError(f"{what}: a structure needs at least one atom", where=where)
    if n_atoms > max_atoms:
        raise StructureFileError(
            f"{what}: {n_atoms} atoms, more than the limit of {max_atoms} per structure",
            where=where,
        )


def _checked(atoms: Atoms, *, index: int, where: str, max_atoms: int) -> ParsedStructure:
    what = f"structure {index}"
    _check_count(len(atoms), max_atoms, what, where)
    numbers = atoms.get_atomic_numbers()
    bad = sorted({int(z) for z in numbers if not 1 <= z <= 118})
    if bad:
        raise StructureFileError(
            f"{what}: unknown element(s) with atomic number {bad}", where=where
        )
    _check_geometry(atoms, what=what, where=where)
    data = atoms_to_json(atoms)
    found = structure_fingerprint(atoms)
    info = atoms.info
    # NUL cannot be stored in a text column (JSON can spell it as \u0000 without a NUL byte)
    label = _text(info.get("label", info.get("name")))
    material = _text(info.get("material"))
    return ParsedStructure(
        index=index,
        label=label,
        material=material or atoms.get_chemical_formula(empirical=True),
        formula=atoms.get_chemical_formula(),
        elements=tuple(sorted(set(atoms.get_chemical_symbols()))),
        n_atoms=len(atoms),
        data=data,
        content_hash=hashlib.sha256(data.encode()).hexdigest(),
        fingerprint=None if found is None else (found.key, found.values),
    )


def _text(value: object) -> str | None:
    """A label-like string from ``Atoms.info``: NUL removed, at most 200 characters, or None."""
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()[:200]
    return value or None


def _check_geometry(atoms: Atoms, *, what: str, where: str) -> None:
    positions = np.asarray(atoms.get_positions(), dtype=float)
    cell = np.asarray(atoms.get_cell(), dtype=float)
    pbc = np.asarray(atoms.get_pbc(), dtype=bool)
    if not np.isfinite(positions).all():
        raise StructureFileError(f"{what}: positions are not finite (NaN or inf)", where=where)
    if not np.isfinite(cell).all():
        raise StructureFileError(f"{what}: the cell is not finite (NaN or inf)", where=where)
    if np.abs(positions).max() > MAX_COORDINATE_A or np.abs(cell).max() > MAX_COORDINATE_A:
        raise StructureFileError(
            f"{what}: coordinates or cell vectors beyond {MAX_COORDINATE_A:g} Å", where=where
        )
    if pbc.any():
        periodic = cell[pbc]
        singular = np.linalg.svd(periodic, compute_uv=False)
        if singular.min() < 1e-6:
            raise StructureFileError(
                f"{what}: the cell has zero volume (its periodic vectors are degenerate)",
                where=where,
            )
    _check_distances(atoms, what=what, where=where)


def _check_distances(atoms: Atoms, *, what: str, where: str) -> None:
    """Refuse atoms closer than MIN_DISTANCE_A, periodic images included (minimum image)."""
    from scipy.spatial import cKDTree

    pbc = np.asarray(atoms.get_pbc(), dtype=bool)
    points, shifts = np.asarray(atoms.get_positions(), dtype=float), [np.zeros(3)]
    if pbc.any():
        points, shifts = _periodic_images(atoms, what=what, where=where)
    n_atoms = len(atoms)
    tree = cKDTree(np.concatenate([points + s for s in shifts]))
    base = points  # shifts[0] is the zero shift: the atoms themselves
    distances, found = tree.query(base, k=2, distance_upper_bound=MIN_DISTANCE_A)
    close = np.flatnonzero(np.isfinite(distances[:, 1]))
    if close.size == 0:
        return
    i = int(close[0])
    # of the two hits one is atom i itself (or an atom at the very same place)
    hit = int(found[i, 1]) if int(found[i, 0]) == i else int(found[i, 0])
    j, d = hit % n_atoms, float(distances[i, 1])
    if j == i:
        message = f"{what}: atom {i} is {d:.3g} Å from its own periodic image"
    else:
        message = f"{what}: atoms {min(i, j)} and {max(i, j)} are {d:.3g} Å apart"
    raise StructureFileError(
        f"{message} (atoms must be at least {MIN_DISTANCE_A} Å apart)", where=where
    )


def _periodic_images(atoms: Atoms, *, what: str, where: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Wrapped positions in a Minkowski-reduced cell and the lattice shifts to search."""
    from ase.geometry.minkowski_reduction import minkowski_reduce

    pbc = np.asarray(atoms.get_pbc(), dtype=bool)
    try:
        reduced, _ = minkowski_reduce(atoms.get_cell(), pbc=pbc)
    except RuntimeError:
        raise StructureFileError(f"{what}: the cell is degenerate", where=where) from None
    reduced = _completed(np.asarray(reduced, dtype=float), pbc)
    work = atoms.copy()
    work.set_cell(reduced, scale_atoms=False)
    work.wrap()
    volume = abs(float(np.linalg.det(reduced)))
    reps = []
    for axis in range(3):
        if not pbc[axis]:
            reps.append(0)
            continue
        others = reduced[[a for a in range(3) if a != axis]]
        height = volume / float(np.linalg.norm(np.cross(others[0], others[1])))
        if height < MIN_DISTANCE_A / 2:  # a reduced cell this thin has a lattice vector < 0.5 Å
            shortest = min(float(np.linalg.norm(reduced[a])) for a in range(3) if pbc[a])
            raise StructureFileError(
                f"{what}: the cell is too thin (shortest periodic vector {shortest:.3g} Å): "
                f"atoms are closer than {MIN_DISTANCE_A} Å to their own images",
                where=where,
            )
        reps.append(math.ceil(MIN_DISTANCE_A / height))
    grid = [
        np.array([a, b, c], dtype=float) @ reduced
        for a in range(-reps[0], reps[0] + 1)
        for b in range(-reps[1], reps[1] + 1)
        for c in range(-reps[2], reps[2] + 1)
    ]
    grid.sort(key=lambda s: float(np.abs(s).sum()))  # zero shift first
    return np.asarray(work.get_positions(), dtype=float), grid


def _completed(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """The cell with each non-periodic vector replaced by a unit vector normal to the others."""
    if pbc.all():
        return cell
    _, _, vt = np.linalg.svd(cell[pbc]) if pbc.any() else (None, None, np.eye(3))
    complement = iter(vt[int(pbc.sum()) :])
    out = cell.copy()
    for axis in range(3):
        if not pbc[axis]:
            out[axis] = next(complement)
    return out
