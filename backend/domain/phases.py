"""The crystal phase a reference was measured on, and whether a structure is of that phase.

A reference names its phase in ``conditions["phase"]``: ``{"space_group": 227,
"prototype": "diamond"}``, the international space-group number (1-230) and, where known, a
prototype name. A structure's phase is its space group as spglib finds it
(``workers.phases``; the web tier, which never imports ASE, is handed a ``SpaceGroupReader``).

One rule decides whether a reference may be compared with a structure (``describes``):
- a crystal (periodic in three dimensions) only with a reference of its space group;
- anything else (a molecule, a slab) only with a reference that names no phase.
A reference without a phase is therefore never compared with a crystal: its phase is unknown.
The space group alone does not tell hcp from double-hcp or graphite (all P6_3/mmc); the
prototype name is recorded for readers, not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PHASE_KEY = "phase"
PHASE_FIELDS = frozenset({"space_group", "prototype"})
MAX_PROTOTYPE_LENGTH = 100

#: Structure data (ASE JSON text) -> its space-group number, or None if it is not a crystal.
SpaceGroupReader = Callable[[str], int | None]


@dataclass(frozen=True, slots=True)
class Phase:
    space_group: int
    prototype: str | None = None

    def describe(self) -> str:
        name = f" ({self.prototype})" if self.prototype else ""
        return f"space group {self.space_group}{name}"


def parse_phase(value: object) -> Phase:
    """The phase in ``conditions["phase"]``; ValueError says what is wrong with it."""
    if not isinstance(value, Mapping):
        raise ValueError('phase must be an object such as {"space_group": 227, "prototype": ...}')
    unknown = set(value) - PHASE_FIELDS
    if unknown:
        known = sorted(PHASE_FIELDS)
        raise ValueError(f"phase has unknown key(s) {sorted(unknown)}; known: {known}")
    number = value.get("space_group")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 230:
        raise ValueError("phase.space_group must be an integer from 1 to 230")
    prototype = value.get("prototype")
    if prototype is not None and (
        not isinstance(prototype, str)
        or not prototype.strip()
        or len(prototype) > MAX_PROTOTYPE_LENGTH
    ):
        raise ValueError(
            f"phase.prototype must be a non-empty name of at most {MAX_PROTOTYPE_LENGTH} characters"
        )
    return Phase(number, prototype)


def phase_of(conditions: Mapping[str, Any] | None) -> Phase | None:
    """The phase a reference's conditions name; None when they name none or a malformed one."""
    if not conditions or PHASE_KEY not in conditions:
        return None
    try:
        return parse_phase(conditions[PHASE_KEY])
    except ValueError:
        return None  # unreadable is unknown: never compared with a crystal


def describes(phase: Phase | None, space_group: int | None) -> bool:
    """Whether a reference of ``phase`` may be compared with a structure of ``space_group``
    (None: not a crystal)."""
    if space_group is None:
        return phase is None
    return phase is not None and phase.space_group == space_group


def describe_phase(phase: Phase | None) -> str:
    return "no phase" if phase is None else phase.describe()


def describe_structure(space_group: int | None) -> str:
    return "not a crystal" if space_group is None else f"space group {space_group}"
