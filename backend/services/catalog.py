"""Reference data, structure sets and benchmark versions: loaded idempotently."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.domain.phases import SpaceGroupReader
from backend.repositories import benchmarks as benchmark_repo
from backend.repositories import references as ref_repo
from backend.services.reference_phases import refuse_set_mismatches


@dataclass(frozen=True)
class StructureIn:
    """One structure as the loader receives it: ASE JSON text plus what queries need."""

    label: str
    material: str
    formula: str
    elements: list[str]
    n_atoms: int
    data: str
    #: workers.fingerprints (key, values), computed where ASE is at hand (the bootstrap).
    fingerprint: tuple[str, tuple[float, ...]] | None = None
    #: workers.phases' space group (0: not a periodic crystal), read where ASE is at hand.
    space_group: int | None = None


def load_references(
    session: Session,
    rows: Iterable[dict[str, Any]],
    *,
    structure_set: str,
    read_space_group: SpaceGroupReader,
) -> int:
    """Insert the references of ``structure_set`` not already present; returns how many were
    new. Refuses (PhaseMismatch, nothing written) references of another phase than the set's
    structure of their material; names the phase of stored ones that name none."""
    rows = list(rows)
    refuse_set_mismatches(
        session, rows, structure_set=structure_set, read_space_group=read_space_group
    )
    added = ref_repo.insert_references(session, rows)
    ref_repo.fill_phases(session, rows)
    return added


def name_phases(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Name the phase of stored references (by key) that name none; returns how many."""
    return ref_repo.fill_phases(session, rows)


def load_structure_set(
    session: Session, *, name: str, description: str, source: str, structures: list[StructureIn]
) -> int:
    """Create the set if needed and add structures whose label is new; returns how many."""
    structure_set, _ = ref_repo.upsert_structure_set(
        session, name=name, description=description, source=source
    )
    rows = [
        {
            "label": s.label,
            "material": s.material,
            "formula": s.formula,
            "elements": s.elements,
            "n_atoms": s.n_atoms,
            "data": s.data,
            "content_hash": hashlib.sha256(s.data.encode()).hexdigest(),
            "fingerprint_key": s.fingerprint[0] if s.fingerprint else None,
            "fingerprint": list(s.fingerprint[1]) if s.fingerprint else None,
            "space_group": s.space_group,
        }
        for s in structures
    ]
    added = ref_repo.insert_structures(session, structure_set.id, rows)
    # Structures stored before fingerprints existed get theirs now (a no-op afterwards).
    ref_repo.fill_fingerprints(
        session, structure_set.id, {s.label: s.fingerprint for s in structures if s.fingerprint}
    )
    # and their space group (migration 0020), read once here instead of by every worker.
    ref_repo.fill_space_groups(
        session,
        structure_set.id,
        {s.label: s.space_group for s in structures if s.space_group is not None},
    )
    return added


def register_benchmark(
    session: Session,
    *,
    key: str,
    version: str,
    description: str,
    default_params: dict[str, Any],
    headline_metrics: list[dict[str, str]],
    soft_time_limit_s: int,
    time_limit_s: int,
) -> bool:
    """Record a protocol version once; True if it was new."""
    return benchmark_repo.insert_benchmark(
        session,
        key=key,
        version=version,
        description=description,
        default_params=default_params,
        headline_metrics=headline_metrics,
        soft_time_limit_s=soft_time_limit_s,
        time_limit_s=time_limit_s,
    )


def list_benchmarks(session: Session, *, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of benchmark versions (by key, then version) and how many there are."""
    page = benchmark_repo.list_benchmarks(session, limit=limit, offset=offset)
    return page, benchmark_repo.count_benchmarks(session)
