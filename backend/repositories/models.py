"""SQL for model records."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.tables import MlipModel, Structure, StructureSet, TrainingStructureHash
from backend.domain.statuses import ModelStatus


def get_model(session: Session, model_id: uuid.UUID) -> MlipModel | None:
    return session.get(MlipModel, model_id)


def get_model_by_name(
    session: Session, name: str, version: str | None = None, *, prefer_approved: bool = False
) -> MlipModel | None:
    """The model version ``name``/``version``; without a version the newest (the newest
    approved one first if ``prefer_approved``)."""
    query = select(MlipModel).where(MlipModel.name == name)
    if version is not None:
        query = query.where(MlipModel.version == version)
    if prefer_approved:
        query = query.order_by((MlipModel.status == ModelStatus.APPROVED).desc())
    return session.scalars(query.order_by(MlipModel.created_at.desc())).first()


def list_models(
    session: Session,
    *,
    visible_to: uuid.UUID | None = None,
    everything: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[MlipModel]:
    """Approved models plus those owned by ``visible_to``; every model if ``everything``."""
    query = select(MlipModel).order_by(MlipModel.name, MlipModel.version)
    if not everything:
        query = query.where(_visible(visible_to))
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_models(
    session: Session, *, visible_to: uuid.UUID | None = None, everything: bool = False
) -> int:
    query = select(func.count()).select_from(MlipModel)
    if not everything:
        query = query.where(_visible(visible_to))
    return session.scalar(query) or 0


def _visible(user_id: uuid.UUID | None) -> ColumnElement[bool]:
    approved = MlipModel.status == ModelStatus.APPROVED
    return approved if user_id is None else or_(approved, MlipModel.owner_id == user_id)


def add_model(session: Session, **fields: Any) -> MlipModel:
    model = MlipModel(**fields)
    session.add(model)
    session.flush()
    return model


def versions_of(session: Session, name: str) -> list[str]:
    """Every version string recorded for the model ``name``."""
    return list(session.scalars(select(MlipModel.version).where(MlipModel.name == name)))


def copy_training_hashes(session: Session, source_id: uuid.UUID, target_id: uuid.UUID) -> None:
    """Give ``target_id`` the training-structure hashes of ``source_id`` (a new version)."""
    columns = (
        TrainingStructureHash.content_hash,
        TrainingStructureHash.fingerprint_key,
        TrainingStructureHash.fingerprint,
    )
    rows = select(literal(target_id), *columns).where(
        TrainingStructureHash.mlip_model_id == source_id
    )
    session.execute(
        insert(TrainingStructureHash).from_select(
            ["mlip_model_id", "content_hash", "fingerprint_key", "fingerprint"], rows
        )
    )


def pin_packages(
    session: Session, model_id: uuid.UUID, packages: dict[str, str]
) -> dict[str, str] | None:
    """Record ``packages`` on the model version unless some are recorded already; return the
    recorded ones (None for an unknown model)."""
    session.execute(
        update(MlipModel)
        .where(MlipModel.id == model_id, MlipModel.packages.is_(None))
        .values(packages=packages)
    )
    return session.scalar(select(MlipModel.packages).where(MlipModel.id == model_id))


def replace_training_hashes(
    session: Session,
    model_id: uuid.UUID,
    hashes: Iterable[str],
    fingerprints: Mapping[str, tuple[str, Sequence[float]]] | None = None,
) -> int:
    """Make ``hashes`` the model's training-structure hashes, each with its fingerprint
    (key, values) from ``fingerprints`` where given; returns how many distinct."""
    session.execute(
        delete(TrainingStructureHash).where(TrainingStructureHash.mlip_model_id == model_id)
    )
    fingerprints = fingerprints or {}
    rows = [
        {
            "mlip_model_id": model_id,
            "content_hash": h,
            "fingerprint_key": fingerprints[h][0] if h in fingerprints else None,
            "fingerprint": list(fingerprints[h][1]) if h in fingerprints else None,
        }
        for h in sorted(set(hashes))
    ]
    for start in range(0, len(rows), 5000):  # keep each statement's parameter count bounded
        session.execute(insert(TrainingStructureHash).values(rows[start : start + 5000]))
    session.flush()
    return len(rows)


def leaked_structures(session: Session, model_id: uuid.UUID) -> list[tuple[Structure, str]]:
    """Benchmark structures whose content hash is in the model's training set, with set names."""
    query = (
        select(Structure, StructureSet.name)
        .join(StructureSet, Structure.structure_set_id == StructureSet.id)
        .join(
            TrainingStructureHash,
            (TrainingStructureHash.content_hash == Structure.content_hash)
            & (TrainingStructureHash.mlip_model_id == model_id),
        )
        .order_by(StructureSet.name, Structure.label)
    )
    return [(structure, name) for structure, name in session.execute(query)]


def near_leaked_structures(
    session: Session, model_id: uuid.UUID, *, tolerance: float
) -> list[tuple[Structure, str]]:
    """Benchmark structures whose fingerprint equals one of the model's training structures'
    in key and, entry by entry, within ``tolerance``, with set names."""
    training = TrainingStructureHash
    pairs = (
        func.unnest(Structure.fingerprint, training.fingerprint)
        .table_valued("a", "b")
        .render_derived(name="pairs")
    )
    differs = (
        select(literal(1)).select_from(pairs).where(func.abs(pairs.c.a - pairs.c.b) > tolerance)
    )
    query = (
        select(Structure, StructureSet.name)
        .join(StructureSet, Structure.structure_set_id == StructureSet.id)
        .where(
            exists().where(
                training.mlip_model_id == model_id,
                training.fingerprint_key == Structure.fingerprint_key,
                func.cardinality(training.fingerprint) == func.cardinality(Structure.fingerprint),
                ~exists(differs),
            )
        )
        .order_by(StructureSet.name, Structure.label)
    )
    return [(structure, name) for structure, name in session.execute(query)]


def stored_keys_of_owner(session: Session, owner_id: uuid.UUID) -> set[str]:
    """Artifact-store keys of the files (models, training sets) of ``owner_id``'s models."""
    rows = session.execute(
        select(MlipModel.artifact_key, MlipModel.training_set_key).where(
            MlipModel.owner_id == owner_id
        )
    )
    return {key for row in rows for key in row if key is not None}


def referenced_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that some model still records (as its file or its training set)."""
    keys = list(keys)
    if not keys:
        return set()
    rows = session.execute(
        select(MlipModel.artifact_key, MlipModel.training_set_key).where(
            or_(MlipModel.artifact_key.in_(keys), MlipModel.training_set_key.in_(keys))
        )
    )
    return {key for row in rows for key in row if key in keys}


def models_recording(session: Session, key: str, *, owner_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of ``owner_id``'s models that record ``key`` as their file or training set."""
    query = select(MlipModel.id).where(
        MlipModel.owner_id == owner_id,
        or_(MlipModel.artifact_key == key, MlipModel.training_set_key == key),
    )
    return list(session.scalars(query))
