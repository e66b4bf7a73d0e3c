"""A reference is compared only with structures of the phase it was measured on.

Three places enforce it (the rule itself is ``backend.domain.phases.describes``):
- loading references attached to a structure set (the bootstrap) refuses, all at once, every
  reference that disagrees with the set's structure of its material;
- an admin's new or corrected reference must name a phase that a stored structure of its
  material has (when the material has crystal structures stored);
- ``check_links`` finds metrics already compared with a reference of another phase and, with
  ``fix``, compares them with one of the right phase (or with none) and recomputes the errors.
The result writer (``backend.services.runs``) applies the same rule to new results.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.domain.phases import (
    SpaceGroupReader,
    describe_phase,
    describe_structure,
    describes,
    phase_of,
)
from backend.repositories import reference_links as link_repo
from backend.repositories import references as ref_repo
from backend.services.runs import REFERENCE_PREFERENCE, choose_references
from shared_kernel.errors import NotFound, PhaseMismatch

MAX_LISTED = 20


def refuse_set_mismatches(
    session: Session,
    rows: Iterable[Mapping[str, Any]],
    *,
    structure_set: str,
    read_space_group: SpaceGroupReader,
) -> None:
    """Raise PhaseMismatch naming every row whose phase disagrees with the structure of its
    material in ``structure_set`` (rows of materials the set does not hold are not checked)."""
    stored = ref_repo.get_structure_set_by_name(session, structure_set)
    if stored is None:
        raise NotFound(f"no structure set named {structure_set!r}", where="structure_set")
    by_material: dict[str, list[tuple[str, int | None]]] = {}
    for s in ref_repo.list_structures(session, stored.id):
        by_material.setdefault(s.material, []).append((s.label, read_space_group(s.data)))
    problems = [
        f"{row['dataset']} {row['material']} {row['property']} ("
        f"{describe_phase(phase_of(row.get('conditions')))}) vs {label} "
        f"({describe_structure(space_group)})"
        for row in rows
        for label, space_group in by_material.get(row["material"], [])
        if not describes(phase_of(row.get("conditions")), space_group)
    ]
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise PhaseMismatch(
            f"{len(problems)} reference(s) of another phase than their structure in "
            f"{structure_set!r}: {listed}{more}",
            where="conditions.phase",
        )


def refuse_other_phase(
    session: Session,
    material: str,
    conditions: Mapping[str, Any] | None,
    *,
    read_space_group: SpaceGroupReader,
) -> None:
    """Raise PhaseMismatch (422 on ``body.conditions.phase``) unless the reference describes a
    stored structure of ``material`` (``describes``), or none is stored."""
    phase = phase_of(conditions)
    crystals: dict[int, str] = {}  # space group -> where (the first structure seen)
    others = []  # structures that are not crystals
    seen: set[str] = set()
    for row in ref_repo.structures_of_material(session, material):
        if row.content_hash in seen:
            continue
        seen.add(row.content_hash)
        space_group = read_space_group(row.data)
        if describes(phase, space_group):
            return
        if space_group is None:
            others.append(f"{row.name!r}/{row.label}")
        else:
            crystals.setdefault(space_group, f"{row.name!r}/{row.label}")
    if not crystals and not others:
        return
    if phase is not None and not crystals:
        raise PhaseMismatch(
            f"{phase.describe()}, but the stored structures of {material} are not crystals "
            f"({', '.join(others[:MAX_LISTED])}): drop conditions.phase",
            where="body.conditions.phase",
        )
    stored = ", ".join(f"{where} (space group {sg})" for sg, where in sorted(crystals.items()))
    if phase is None:
        raise PhaseMismatch(
            f"conditions.phase is required: {material} has crystal structures stored "
            f"({stored}); name the space group the value was measured on",
            where="body.conditions.phase",
        )
    raise PhaseMismatch(
        f"{phase.describe()} is not the phase of any stored structure of {material}: "
        f"{stored}; a reference is compared only with structures of its phase",
        where="body.conditions.phase",
    )


@dataclass(frozen=True, slots=True)
class LinkProblem:
    """Metrics of runs on one structure compared with a reference of another phase."""

    structure_set: str
    label: str
    material: str
    property: str
    structure_phase: str
    reference: str  # dataset and phase of the reference they were compared with
    n_metrics: int
    replacement: str | None  # dataset and phase of the one of the right phase; None: unlinked


def check_links(
    session: Session, read_space_group: SpaceGroupReader, *, fix: bool = False
) -> list[LinkProblem]:
    """Every group of metrics compared with a reference of another phase than their structure.

    With ``fix``, each is compared instead with the reference the result writer would choose
    now (or with none) and its ``error``/``rel_error`` recomputed, in one statement.
    """
    pairs = link_repo.linked_pairs(session)
    structures = {row.id: row for row in link_repo.structures_by_id(session, {p[0] for p in pairs})}
    space_groups = {sid: read_space_group(row.data) for sid, row in structures.items()}
    references = link_repo.references_of(
        session, {row.material for row in structures.values()}, REFERENCE_PREFERENCE
    )
    by_id = {ref.id: ref for ref in references}
    by_key: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for ref in references:
        by_key[(ref.material, ref.property)].append(ref)
    problems, changes = [], []
    for structure_id, reference_id, n_metrics in (tuple(p) for p in pairs):
        structure, space_group = structures[structure_id], space_groups[structure_id]
        current = by_id.get(reference_id) or ref_repo.get_reference(session, reference_id)
        if current is None or describes(phase_of(current.conditions), space_group):
            continue
        candidates = by_key[(structure.material, current.property)]
        new = choose_references(candidates, space_group).get(current.property)
        problems.append(_problem(structure, current, space_group, n_metrics, new))
        changes.append(
            link_repo.Relink(
                structure_id, reference_id, new.id if new else None, new.value if new else None
            )
        )
    if fix:
        link_repo.relink(session, changes)
    return sorted(problems, key=lambda p: (p.structure_set, p.label, p.property))


def _problem(
    structure: Any, current: Any, space_group: int | None, n_metrics: int, new: Any
) -> LinkProblem:
    return LinkProblem(
        structure_set=structure.name,
        label=structure.label,
        material=structure.material,
        property=current.property,
        structure_phase=describe_structure(space_group),
        reference=f"{current.dataset} ({describe_phase(phase_of(current.conditions))})",
        n_metrics=n_metrics,
        replacement=(
            None if new is None else f"{new.dataset} ({describe_phase(phase_of(new.conditions))})"
        ),
    )
