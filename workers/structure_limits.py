"""Limits an uploaded structure file is checked against before ASE reads it (pure).

A few bytes can ask a reader for gigabytes: an extxyz ``Properties`` header with millions of
columns, an ASE JSON ``__ndarray__`` of a 400 MB string dtype, an object type that is not a
structure, or nesting deep enough to exhaust the stack. These checks refuse such files with a
``StructureFileError`` naming the line or the problem; ``workers.structure_files`` and
``workers.training_sets`` call them.
"""

from __future__ import annotations

import math
import re

#: An extxyz atom line may have at most this many columns (``Properties`` counts summed):
#: species, positions, forces, a 3x3 per-atom stress and more fit many times over, while a
#: 150-byte header asking for millions of columns would cost gigabytes.
MAX_EXTXYZ_COLUMNS = 256
MAX_EXTXYZ_PROPERTIES = 64
#: Longest extxyz comment (second) line, in characters; real ones are a few hundred.
MAX_EXTXYZ_COMMENT_CHARS = 65536
#: ASE JSON: the ``__ase_objtype__`` values a structure file may hold, the numpy dtypes an
#: ``__ndarray__`` may have (no strings or objects: ``U100000000`` is 400 MB per element), and
#: the most elements one array may have, and the deepest nesting.
JSON_OBJTYPES = frozenset({"atoms", "cell"})
JSON_DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
    | {"float16", "float32", "float64", "complex64", "complex128"}
)
MAX_JSON_ARRAY_ELEMENTS = 10_000_000
MAX_JSON_DEPTH = 32
_PROPERTIES = re.compile(r"""(?:^|\s)properties\s*=\s*("[^"]*"|'[^']*'|\S+)""", re.IGNORECASE)


class StructureFileError(ValueError):
    """The file, or one structure in it, is refused; ``where`` says which line or structure."""

    def __init__(self, message: str, *, where: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.where = where


def check_extxyz_comment(comment: str, *, line: int) -> None:
    """Refuse an extxyz comment line too long, or whose ``Properties`` ask for too many columns.

    Raises
    ------
    StructureFileError
        Past ``MAX_EXTXYZ_COMMENT_CHARS``, ``MAX_EXTXYZ_PROPERTIES`` or ``MAX_EXTXYZ_COLUMNS``;
        a malformed ``Properties`` is left to ASE's reader, which says what is wrong.
    """
    where = f"body:line {line}"
    if len(comment) > MAX_EXTXYZ_COMMENT_CHARS:
        raise StructureFileError(
            f"line {line}: the comment line is longer than {MAX_EXTXYZ_COMMENT_CHARS} characters",
            where=where,
        )
    found = _PROPERTIES.search(comment)
    if found is None:
        return
    fields = found.group(1).strip("\"'").split(":")
    counts = [fields[i] for i in range(2, len(fields), 3)]
    if len(counts) > MAX_EXTXYZ_PROPERTIES:
        raise StructureFileError(
            f"line {line}: Properties names more than {MAX_EXTXYZ_PROPERTIES} properties",
            where=where,
        )
    widths = [int(c) for c in counts if c.isdigit() and len(c) < 12]
    if len(widths) < len(counts) or sum(widths) > MAX_EXTXYZ_COLUMNS:
        raise StructureFileError(
            f"line {line}: Properties asks for more than {MAX_EXTXYZ_COLUMNS} columns per "
            "atom (or a width that is not a small whole number)",
            where=where,
        )


def checked_json_object(dct: dict[str, object]) -> dict[str, object]:
    """Refuse, before ASE decodes them, object types and arrays a structure file has no use for."""
    objtype = dct.get("__ase_objtype__")
    if objtype is not None and objtype not in JSON_OBJTYPES:
        raise StructureFileError(
            f"ASE JSON object type {str(objtype)[:40]!r} is not a structure; only "
            f"{sorted(JSON_OBJTYPES)} are read"
        )
    if "__ndarray__" in dct:
        _check_ndarray(dct["__ndarray__"])
    return dct


def _check_ndarray(spec: object) -> None:
    if not isinstance(spec, list) or len(spec) != 3:
        raise StructureFileError("__ndarray__ must be [shape, dtype, flat data]")
    shape, dtype, flat = spec
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise StructureFileError("__ndarray__ shape must be a list of non-negative integers")
    if dtype not in JSON_DTYPES:
        raise StructureFileError(
            f"__ndarray__ dtype {str(dtype)[:40]!r} is not a number type "
            f"(one of {sorted(JSON_DTYPES)})"
        )
    size = math.prod(shape)
    if size > MAX_JSON_ARRAY_ELEMENTS:
        raise StructureFileError(
            f"__ndarray__ of shape {shape} has more than {MAX_JSON_ARRAY_ELEMENTS} elements"
        )
    factor = 2 if dtype.startswith("complex") else 1
    if not isinstance(flat, list) or len(flat) != size * factor:
        raise StructureFileError(f"__ndarray__ of shape {shape} does not hold {size} values")


def check_depth(document: object) -> None:
    """Refuse lists and objects nested deeper than ``MAX_JSON_DEPTH`` (iteratively)."""
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise StructureFileError(f"the JSON is nested more than {MAX_JSON_DEPTH} deep")
        stack.extend((child, depth + 1) for child in children)
