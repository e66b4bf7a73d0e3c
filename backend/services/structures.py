"""Structure sets: created by any signed-in user, extended by their owner or an admin.

Reading files needs ASE, which the web tier never imports: a parser is handed to the app at
creation (``backend.main``), exactly like the training-set reader, and this module only checks
and records what it returns. An upload is all or nothing: every structure is parsed and checked
(by the parser: elements, finite numbers, cell, 0.5 Å overlaps, atom limit; here: labels and
duplicates) before the first row is written.

Duplicates are found by content hash (sha256 of the stored ASE JSON). A structure already in
the set, or repeated within the file, is skipped and reported, never stored twice, so sending the
same file again changes nothing. One stored in another set is stored here as well (sets are
self-contained benchmark inputs) and reported.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from backend.db.tables import Structure, StructureSet, User
from backend.domain.statuses import Role
from backend.repositories import structures as structure_repo
from backend.schemas.structures import (
    DuplicateStructure,
    PrototypeRead,
    StructureRead,
    StructureSetCreate,
    StructureSetRead,
    StructureUploadRead,
)
from backend.services.models import KNOWN_SYMBOLS
from shared_kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class ParsedStructure(Protocol):
    """One checked structure (``workers.structure_files.ParsedStructure`` fits)."""

    @property
    def index(self) -> int: ...
    @property
    def label(self) -> str | None: ...
    @property
    def material(self) -> str: ...
    @property
    def formula(self) -> str: ...
    @property
    def elements(self) -> Sequence[str]: ...
    @property
    def n_atoms(self) -> int: ...
    @property
    def data(self) -> str: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def fingerprint(self) -> tuple[str, Sequence[float]] | None: ...


class ParsedFile(Protocol):
    @property
    def format(self) -> str: ...
    @property
    def structures(self) -> Sequence[ParsedStructure]: ...


@dataclass(frozen=True, slots=True)
class ParsedStructureData:
    """A ``ParsedStructure`` as plain data: what crosses back from the bounded parse process
    (``backend.services.bounded``) without the parent importing the parser's modules."""

    index: int
    label: str | None
    material: str
    formula: str
    elements: tuple[str, ...]
    n_atoms: int
    data: str
    content_hash: str
    fingerprint: tuple[str, tuple[float, ...]] | None

    @classmethod
    def of(cls, item: ParsedStructure) -> ParsedStructureData:
        found = item.fingerprint
        return cls(
            index=int(item.index),
            label=None if item.label is None else str(item.label),
            material=str(item.material),
            formula=str(item.formula),
            elements=tuple(str(e) for e in item.elements),
            n_atoms=int(item.n_atoms),
            data=str(item.data),
            content_hash=str(item.content_hash),
            fingerprint=None
            if found is None
            else (str(found[0]), tuple(float(v) for v in found[1])),
        )


@dataclass(frozen=True, slots=True)
class ParsedFileData:
    """A ``ParsedFile`` as plain data (see ``ParsedStructureData``)."""

    format: str
    structures: tuple[ParsedStructureData, ...]

    @classmethod
    def of(cls, parsed: ParsedFile) -> ParsedFileData:
        return cls(str(parsed.format), tuple(ParsedStructureData.of(s) for s in parsed.structures))


@dataclass(frozen=True)
class UploadLimits:
    max_atoms: int  # per structure
    max_structures: int  # per file


#: ``(path, fmt, filename, limits) -> ParsedFile``; raises InvalidInput (422) naming the
#: line or structure when the file is refused.
StructureParser = Callable[[Path, str | None, str | None, UploadLimits], ParsedFile]


@dataclass(frozen=True)
class _Planned:
    parsed: ParsedStructure
    label: str
    structure_id: uuid.UUID


def create_structure_set(
    session: Session, body: StructureSetCreate, *, owner: User
) -> StructureSetRead:
    if structure_repo.get_structure_set_by_name(session, body.name) is not None:
        raise Conflict(f"a structure set named {body.name!r} exists", where="body.name")
    structure_set = structure_repo.add_structure_set(
        session,
        name=body.name,
        description=body.description,
        source=body.source,
        owner_id=owner.id,
    )
    return _set_read(structure_set, 0)


def get_structure_set(session: Session, set_id: uuid.UUID) -> StructureSet:
    structure_set = structure_repo.get_structure_set(session, set_id)
    if structure_set is None:
        raise NotFound(f"no structure set {set_id}", where="set_id")
    return structure_set


def read_structure_set(session: Session, set_id: uuid.UUID) -> StructureSetRead:
    structure_set = get_structure_set(session, set_id)
    return _set_read(structure_set, structure_repo.count_structures(session, set_id))


def list_structure_sets(
    session: Session, *, limit: int, offset: int
) -> tuple[list[StructureSetRead], int]:
    rows, total = structure_repo.list_structure_sets(session, limit=limit, offset=offset)
    return [_set_read(s, n) for s, n in rows], total


def prototypes(session: Session) -> list[PrototypeRead]:
    """The crystal prototypes the stored structures carry, with how many carry each."""
    return [
        PrototypeRead(prototype=p, n_structures=n) for p, n in structure_repo.prototypes(session)
    ]


def list_structures(
    session: Session, set_id: uuid.UUID, *, elements: Sequence[str], limit: int, offset: int
) -> tuple[list[Structure], int]:
    get_structure_set(session, set_id)
    unknown = sorted(set(elements) - KNOWN_SYMBOLS)
    if unknown:
        raise InvalidInput(f"unknown element symbol(s) {unknown}", where="query.element")
    return structure_repo.page_structures(
        session, set_id, elements=elements, limit=limit, offset=offset
    )


def get_structure(session: Session, structure_id: uuid.UUID) -> Structure:
    structure = structure_repo.get_structure(session, structure_id)
    if structure is None:
        raise NotFound(f"no structure {structure_id}", where="structure_id")
    return structure


def set_for_upload(session: Session, set_id: uuid.UUID, *, user: User) -> StructureSet:
    """The set, if ``user`` may add to it: its owner or an admin (built-in sets: admins)."""
    structure_set = get_structure_set(session, set_id)
    if user.role != Role.ADMIN and structure_set.owner_id != user.id:
        raise PermissionDenied(
            "only the set's owner or an admin may add structures to it", where="set_id"
        )
    return structure_set


def add_structures(
    session: Session, set_id: uuid.UUID, parsed: ParsedFile, *, user: User
) -> StructureUploadRead:
    """Store the file's new structures, all or none; duplicates are skipped and reported."""
    structure_set = set_for_upload(session, set_id, user=user)
    items = list(parsed.structures)
    for item in items:  # the parser checked them; the web tier's own list decides
        unknown = sorted(set(item.elements) - KNOWN_SYMBOLS)
        if unknown:
            raise InvalidInput(
                f"structure {item.index}: unknown element(s) {unknown}",
                where=f"body:structure {item.index}",
            )
    known = structure_repo.structures_by_hash(session, [s.content_hash for s in items])
    in_set = {s.content_hash: s for s, _ in known if s.structure_set_id == set_id}
    elsewhere = {s.content_hash: (s, name) for s, name in known if s.structure_set_id != set_id}
    planned: list[_Planned] = []
    skipped: list[DuplicateStructure] = []
    first_in_file: dict[str, _Planned] = {}
    for item in items:
        seen = in_set.get(item.content_hash)
        if seen is not None:
            skipped.append(_duplicate(item.index, seen.id, structure_set.name, seen.label))
            continue
        earlier = first_in_file.get(item.content_hash)
        if earlier is not None:
            skipped.append(
                _duplicate(item.index, earlier.structure_id, structure_set.name, earlier.label)
            )
            continue
        label = item.label or f"{item.formula}-{item.content_hash[:8]}"
        plan = _Planned(item, label, uuid.uuid4())
        first_in_file[item.content_hash] = plan
        planned.append(plan)
    _refuse_label_clashes(session, set_id, planned)
    also = [
        _duplicate(p.parsed.index, elsewhere[h][0].id, elsewhere[h][1], elsewhere[h][0].label)
        for p in planned
        if (h := p.parsed.content_hash) in elsewhere
    ]
    stored = structure_repo.add_structures(session, [_row(set_id, p) for p in planned])
    return StructureUploadRead(
        structure_set_id=set_id,
        format=parsed.format,
        n_in_file=len(items),
        added=[StructureRead.model_validate(s) for s in stored],
        skipped_duplicates=skipped,
        found_in_other_sets=also,
    )


def _refuse_clash_message(index: int, label: str, other: str) -> Conflict:
    return Conflict(
        f"structure {index}: label {label!r} is already used by {other} with different "
        "content; rename it (info 'label') or leave the label out",
        where=f"body:structure {index}",
    )


def _refuse_label_clashes(session: Session, set_id: uuid.UUID, planned: list[_Planned]) -> None:
    by_label: dict[str, _Planned] = {}
    for plan in planned:
        earlier = by_label.setdefault(plan.label, plan)
        if earlier is not plan:
            raise _refuse_clash_message(
                plan.parsed.index, plan.label, f"structure {earlier.parsed.index} of the file"
            )
    stored = structure_repo.labels_in_set(session, set_id, by_label)
    for label, content_hash in stored.items():
        plan = by_label[label]
        if content_hash != plan.parsed.content_hash:
            raise _refuse_clash_message(plan.parsed.index, label, "a stored structure of the set")


def _row(set_id: uuid.UUID, plan: _Planned) -> dict[str, object]:
    item = plan.parsed
    return {
        "id": plan.structure_id,
        "structure_set_id": set_id,
        "label": plan.label,
        "material": item.material[:200],
        "formula": item.formula[:200],
        "elements": list(item.elements),
        "n_atoms": item.n_atoms,
        "content_hash": item.content_hash,
        "data": item.data,
        "fingerprint_key": item.fingerprint[0] if item.fingerprint else None,
        "fingerprint": list(item.fingerprint[1]) if item.fingerprint else None,
    }


def _duplicate(
    index: int, structure_id: uuid.UUID, set_name: str, label: str
) -> DuplicateStructure:
    return DuplicateStructure(
        index=index, structure_id=structure_id, structure_set=set_name, label=label
    )


def _set_read(structure_set: StructureSet, n_structures: int) -> StructureSetRead:
    return StructureSetRead(
        id=structure_set.id,
        name=structure_set.name,
        description=structure_set.description,
        source=structure_set.source,
        owner_id=structure_set.owner_id,
        n_structures=n_structures,
        created_at=structure_set.created_at,
    )
