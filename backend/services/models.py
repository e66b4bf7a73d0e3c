"""Model records: submissions and the built-in baselines."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import MlipModel, ModelStatus, Role, User
from backend.domain.elements import chemical_symbols
from backend.domain.errors import Conflict, InvalidInput, NotFound
from backend.repositories import models as model_repo
from backend.schemas.models import ModelCreate

KNOWN_SYMBOLS = frozenset(chemical_symbols[1:])


def submit_model(session: Session, body: ModelCreate, *, owner: User) -> MlipModel:
    """Register a model; an admin's is approved at once, a submitter's waits for review."""
    if model_repo.get_model_by_name(session, body.name, body.version) is not None:
        raise Conflict(f"model {body.name!r} version {body.version!r} exists", where="name")
    if body.elements is not None:
        unknown = sorted(set(body.elements) - KNOWN_SYMBOLS)
        if unknown:
            raise InvalidInput(f"unknown element symbol(s) {unknown}", where="elements")
    status = ModelStatus.APPROVED if owner.role == Role.ADMIN else ModelStatus.PENDING
    return model_repo.add_model(
        session,
        **body.model_dump(),
        status=status,
        owner_id=owner.id,
        is_baseline=False,
    )


def upsert_baseline(session: Session, **fields: Any) -> tuple[MlipModel, bool]:
    """Register a built-in baseline once; an existing name+version is left untouched."""
    existing = model_repo.get_model_by_name(session, fields["name"], fields["version"])
    if existing is not None:
        return existing, False
    model = model_repo.add_model(
        session, **fields, status=ModelStatus.APPROVED, is_baseline=True, owner_id=None
    )
    return model, True


def read_model(session: Session, model_id: uuid.UUID) -> MlipModel:
    model = model_repo.get_model(session, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id}")
    return model
